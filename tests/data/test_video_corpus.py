import numpy as np
import pytest

from text2sign.data.video_corpus import (
    FRAMES,
    FolderOptions,
    VideoCorpus,
    fit_frames,
    frames_to_unit,
    import_video_folder,
    render_pose_corpus,
    unit_to_frames,
)
from text2sign.errors import CorpusError
from text2sign.video import fake_video, save_video


@pytest.fixture(scope="module")
def rendered(tiny_fs_words, tmp_path_factory):
    return render_pose_corpus(tiny_fs_words, tmp_path_factory.mktemp("videos") / "v16", size=16, fps=12.5)


def test_rendered_corpus_keeps_every_item_and_reads_frames_memory_mapped(rendered, tiny_fs_words):
    again = VideoCorpus.load(rendered.root)
    assert [i.id for i in again.items] == [i.id for i in tiny_fs_words.items]
    assert isinstance(again._frames, np.memmap)
    item = again.split("train")[0]
    frames = again.frames(item)
    assert frames.shape[1:] == (16, 16, 3) and frames.dtype == np.uint8 and not frames.flags.writeable
    source = tiny_fs_words.split("train")[0]
    assert item.text == source.text and item.signed_language == source.signed_language
    assert item.num_frames == round(source.num_frames * 12.5 / source.fps)
    assert frames.min() < 128 < frames.max()  # a skeleton on a white background, not a blank frame
    assert again.stats["items"] == tiny_fs_words.summary()["items"]


def test_a_pose_corpus_is_not_a_video_corpus(tiny_fs_words):
    with pytest.raises(CorpusError, match="prepare video"):
        VideoCorpus.load(tiny_fs_words.root)


def test_fit_frames_samples_long_clips_and_pads_short_ones():
    frames = np.arange(10)[:, None, None, None].repeat(3, axis=3).astype(np.uint8)
    assert fit_frames(frames, 4)[:, 0, 0, 0].tolist() == [0, 3, 6, 9]
    assert fit_frames(frames[:3], 5)[:, 0, 0, 0].tolist() == [0, 1, 2, 2, 2]
    assert fit_frames(frames, None) is frames


def test_unit_range_round_trips():
    frames = fake_video(4, 8, 8).frames
    assert np.array_equal(unit_to_frames(frames_to_unit(frames)), frames)


def _folder(root, sizes):
    root.mkdir()
    for i, (w, h, fmt) in enumerate(sizes):
        save_video(fake_video(12 + i, h, w, fps=10, seed=i), root / f"clip{i}{fmt}")
        (root / f"clip{i}.txt").write_text(f"word {i}\n", encoding="utf-8")
    (root / "no-text.gif").write_bytes(b"")
    (root / "test").mkdir()
    save_video(fake_video(6, 24, 40, seed=9), root / "test" / "held.gif")
    (root / "test" / "held.txt").write_text("held out", encoding="utf-8")


def test_video_folder_import_shapes_every_clip_like_the_designs(tmp_path):
    _folder(tmp_path / "in", [(40, 24, ".gif"), (40, 24, ".mp4"), (40, 24, ".gif")])
    options = FolderOptions(frames=8, resize=20, crop=16, spoken="en", signed="ase", dev_fraction=0, test_fraction=0)
    corpus, skipped = import_video_folder(tmp_path / "in", tmp_path / "out", options)
    assert skipped == []
    assert (corpus.height, corpus.width) == (16, 16)
    assert sorted(i.id for i in corpus.items) == ["clip0", "clip1", "clip2", "test/held"]
    assert {i.id: i.split for i in corpus.items}["test/held"] == "test"
    assert all(i.num_frames == 8 for i in corpus.items)
    assert corpus.split("train")[0].text == "word 0"
    assert (tmp_path / "out" / FRAMES).stat().st_size == 4 * 8 * 16 * 16 * 3


def test_video_folder_of_mixed_sizes_fails_cleanly_and_leaves_nothing(tmp_path):
    _folder(tmp_path / "in", [(40, 24, ".gif"), (32, 32, ".gif")])
    with pytest.raises(CorpusError, match="--resize"):
        import_video_folder(tmp_path / "in", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["in"]
