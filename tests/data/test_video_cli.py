"""`text2sign prepare video` and `prepare video-folder` as a user runs them."""

from text2sign.cli import run
from text2sign.data.video_corpus import VideoCorpus
from text2sign.video import fake_video, save_video


def test_prepare_video_draws_a_pose_corpus(tiny_fs_words, tmp_path, capsys):
    out = tmp_path / "videos"
    assert (
        run(["prepare", "video", "--from", str(tiny_fs_words.root), "--out", str(out), "--size", "12", "--fps", "10"])
        == 0
    )
    corpus = VideoCorpus.load(out)
    assert len(corpus) == len(tiny_fs_words) and (corpus.height, corpus.width) == (12, 12)
    assert corpus.items[0].fps == 10.0
    assert "12 x 12 px" in capsys.readouterr().out
    assert run(["info", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "(video," in shown and "languages: en->ase" in shown


def test_prepare_video_folder_with_the_unet3d_designs_options(tmp_path):
    src = tmp_path / "training_data"
    src.mkdir()
    for i in range(3):
        save_video(fake_video(30, 18, 32, seed=i), src / f"sign{i}.gif")
        (src / f"sign{i}.txt").write_text(f"hello {i}", encoding="utf-8")
    out = tmp_path / "videos"
    code = run(
        [
            "prepare",
            "video-folder",
            str(src),
            "--out",
            str(out),
            "--frames",
            "28",
            "--crop",
            "16",
            "--dev-fraction",
            "0",
            "--test-fraction",
            "0",
        ]
    )
    assert code == 0
    corpus = VideoCorpus.load(out)
    assert [i.num_frames for i in corpus.items] == [28, 28, 28] and corpus.height == 16


def test_bad_input_is_one_line(tmp_path, capsys):
    assert run(["prepare", "video-folder", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "not found" in err[0]
    assert run(["prepare", "video", "--from", str(tmp_path), "--out", str(tmp_path / "o"), "--size", "0"]) != 0
