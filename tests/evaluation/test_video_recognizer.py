"""The video back-translation recognizer: decoding, training, the shipped checkpoint, the harness's
read-back of video models, and the errors a user can cause. Corpora are made here from the tiny
ASL FS-Words (``tests/conftest.py``); nothing reads ``data/``."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from text2sign.cli import run
from text2sign.data.video_corpus import VideoCorpus, render_pose_corpus
from text2sign.data.video_frames import collate_frame_batch
from text2sign.errors import CheckpointError, LanguageError
from text2sign.evaluation.recognizer import greedy_decode
from text2sign.evaluation.video_recognizer import VideoRecognizer, shipped_video_recognizer_dir, time_shuffled_clip
from text2sign.families import get_family
from text2sign.models.video_recognizer import VideoRecognizerConfig, VideoRecognizerNet
from text2sign.testing import one_error_line
from text2sign.training import parse_experiment, train
from text2sign.training.loop import seed_everything
from text2sign.video import VideoClip, fake_video, save_video

FAMILIES = Path(__file__).resolve().parents[1] / "families"


@pytest.fixture(scope="module")
def videos(tiny_fs_words, tmp_path_factory) -> VideoCorpus:
    """The tiny ASL FS-Words drawn as the shipped recognizer's training data was: 32 px, 12.5 fps."""
    return render_pose_corpus(tiny_fs_words, tmp_path_factory.mktemp("videos") / "v32", size=32, fps=12.5)


@pytest.fixture(scope="module")
def tiny_workdir(tmp_path_factory) -> Path:
    """Where the family's tiny config draws its corpus, once for the module."""
    return tmp_path_factory.mktemp("tiny")


@pytest.fixture(scope="module")
def shipped() -> VideoRecognizer:
    return VideoRecognizer.from_pretrained()


def random_recognizer(seed: int = 0) -> VideoRecognizer:
    torch.manual_seed(seed)
    config = VideoRecognizerConfig(
        channels=[4, 8], hidden=8, dilations=[1], vocab=list("abc"), languages=["ase", "gsg"], size=16, fps=12.5
    )
    return VideoRecognizer(VideoRecognizerNet(config))


def test_greedy_decode_of_a_hand_made_logit_sequence():
    vocab = list("ehlo")  # symbol i + 1; 0 is the blank
    path = torch.tensor([[0, 2, 2, 1, 0, 3, 3, 0, 3, 4, 4, 0]])  # _ h h e _ l l _ l o o _
    logits = torch.nn.functional.one_hot(path, len(vocab) + 1).float() * 5.0  # (1, T, V)
    mask = torch.ones(1, path.shape[1], dtype=torch.bool)
    assert greedy_decode(logits, mask, vocab) == ["hello"]
    mask[0, 7:] = False  # padding is never read
    assert greedy_decode(logits, mask, vocab) == ["hel"]


def test_a_few_steps_lower_the_ctc_loss_of_a_tiny_recognizer(tiny_workdir):
    family = get_family("video-recognizer")
    assert family.output == "text" and family.pipeline is None and family.trainable
    config = parse_experiment(family.tiny(tiny_workdir), "tiny")
    seed_everything(0)
    experiment = family.build(config)
    batch = collate_frame_batch([experiment.train_data[i] for i in range(8)])
    assert batch.frames.shape[2:] == (3, 16, 16) and experiment.config.model.languages == ["ase"]
    objective = experiment.objective
    optimizer = torch.optim.Adam(objective.parameters(), lr=3e-3)
    losses = []
    for _ in range(12):
        loss = objective(batch, "model")["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.8 * losses[0], losses


def test_the_loop_validates_on_dev_cer_and_its_run_loads_as_a_video_recognizer(tiny_workdir, tmp_path):
    family = get_family("video-recognizer")
    config = parse_experiment(family.tiny(tiny_workdir), "tiny")
    result = train(config, tmp_path / "run")
    assert [v["step"] for v in result.validations] == [2, 4] and result.best is not None
    recognizer = VideoRecognizer.from_pretrained(tmp_path / "run")  # a run directory: its best checkpoint
    assert recognizer.size == 16 and recognizer.fps == 12.5
    corpus = VideoCorpus.load(config.data.corpus)
    scores = recognizer.evaluate_split(corpus, "dev")
    assert scores["n"] == len(corpus.split("dev"))
    assert scores["cer"] == pytest.approx(min(v["dev/cer"] for v in result.validations))


def test_save_load_round_trip_and_padding_do_not_change_what_is_read(tmp_path):
    rec = random_recognizer()
    clips = [fake_video(n, 16, 16, seed=n) for n in (5, 19)]
    out = rec.save(tmp_path / "ckpt")
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]
    loaded = VideoRecognizer.from_pretrained(out)
    assert np.array_equal(loaded.embed(clips, "gsg"), rec.embed(clips, "gsg"))
    assert loaded.recognize(clips, ["ase", "gsg"]) == rec.recognize(clips, ["ase", "gsg"])
    alone = rec.embed(clips[:1], "ase")
    assert np.allclose(alone, rec.embed(clips, "ase")[:1], atol=1e-5)
    texts, features = rec.read(clips, "ase")
    assert texts == rec.recognize(clips, "ase") and np.allclose(features, rec.embed(clips, "ase"), atol=1e-6)


def test_clips_of_another_size_or_rate_are_resized_and_resampled():
    rec = random_recognizer()
    assert rec.prepare(fake_video(10, 48, 40, fps=25.0)).shape == (5, 3, 16, 16)
    assert rec.prepare(fake_video(3, 8, 8, fps=12.5)).shape == (3, 3, 16, 16)
    assert isinstance(rec.recognize([fake_video(10, 48, 40, fps=25.0)], "ase")[0], str)


def test_unknown_language_and_bad_checkpoints_are_clear_errors(tmp_path):
    rec = random_recognizer()
    with pytest.raises(LanguageError, match="does not know signed language xyz; it knows: ase, gsg"):
        rec.recognize([fake_video(4, 16, 16)], ["xyz"])
    with pytest.raises(CheckpointError, match="video recognizer checkpoint not found"):
        VideoRecognizer.from_pretrained(tmp_path / "nowhere")
    from text2sign.evaluation.recognizer import shipped_recognizer_dir

    with pytest.raises(CheckpointError, match="holds a recognizer model, not a video recognizer"):
        VideoRecognizer.from_pretrained(shipped_recognizer_dir())


def test_the_shipped_recognizer_reads_reference_clips_and_not_their_controls(shipped, videos):
    assert shipped_video_recognizer_dir().is_dir() and shipped.size == 32 and "ase" in shipped.languages
    size = sum(p.stat().st_size for p in shipped_video_recognizer_dir().iterdir())
    assert size < 5_000_000
    real = shipped.evaluate_split(videos, "test")
    shuffled = shipped.evaluate_split(videos, "test", "time-shuffle")
    swapped = shipped.evaluate_split(videos, "test", "letter-swap")
    assert real["n"] == len(videos.split("test")) == 3
    assert real["cer"] < 35.0 and shuffled["cer"] > real["cer"] + 30 and swapped["cer"] > real["cer"] + 30, (
        real,
        shuffled,
        swapped,
    )
    item = videos.split("test")[0]
    clip = videos.clip(item)
    order_kept = np.sort(time_shuffled_clip(clip, np.random.default_rng(0)).frames, axis=0)
    assert np.array_equal(order_kept, np.sort(clip.frames, axis=0))


def test_the_harness_reads_back_a_toy_video_model(tmp_path):
    if str(FAMILIES) not in sys.path:
        sys.path.insert(0, str(FAMILIES))
    import toy_families

    from text2sign.evaluation.harness import VIDEO_READ_BACK, evaluate, markdown_header, markdown_row

    raw = toy_families.tiny("toy-video")(tmp_path)
    result = train(parse_experiment(raw, "toy-video"), tmp_path / "run")
    report = evaluate(str(result.checkpoint), raw["data"]["corpus"], "test", gif_dir=None)
    found = report["metrics"]
    assert report["output"] == "video" and set(VIDEO_READ_BACK) <= set(found)
    assert 0 <= found["cer"] and found["frechet"] >= 0 and found["diversity"] >= 0 and found["psnr"] > 0
    assert "CER" in markdown_header("video") and "FVD" in markdown_header("video")
    assert markdown_row(report).count("|") == markdown_header("video").splitlines()[0].count("|")


def test_recognize_cli_reads_video_files_and_corpora(shipped, videos, tmp_path, capsys):
    from text2sign.video import load_video

    item = videos.split("test")[0]
    gif = tmp_path / "word.gif"
    save_video(videos.clip(item), gif)
    assert run(["recognize", str(gif), "--signed", "ase"]) == 0
    assert capsys.readouterr().out.strip() == shipped.recognize([load_video(gif)], "ase")[0]
    assert run(["recognize", str(videos.root), "--split", "test"]) == 0
    out = capsys.readouterr().out
    assert "video recognizer" in out and "CER" in out and "test" in out
    assert run(["recognize", str(videos.root), "--split", "test", "--corrupt", "time-shuffle"]) == 0
    assert "test (time-shuffle)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["recognize", "{gif}", "--signed", "xyz"], "error: the video recognizer does not know signed language xyz"),
        (["recognize", "{empty}"], "error: "),
        (["recognize", "{gif}", "--corrupt", "time-shuffle"], "error: --corrupt needs a corpus directory"),
        (["recognize", "{gif}", "--person", "1"], "error: --person picks a person of a .pose file"),
        (["recognize", "{videos}", "--corrupt", "mirror"], "error: unknown corruption 'mirror'"),
        (["recognize", "{videos}", "--split", "valid"], "error: unknown split 'valid'"),
        (["recognize", "{gif}", "--model", "{tmp}/nowhere"], "error: video recognizer checkpoint not found"),
    ],
)
def test_user_errors_are_one_line(argv, message, videos, tmp_path, capsys):
    gif = tmp_path / "blank.gif"  # not the recognizer's 32 x 32: resized, not refused
    save_video(VideoClip(np.full((3, 20, 24, 3), 255, np.uint8), 12.5), gif)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    values = {"gif": str(gif), "empty": str(empty), "videos": str(videos.root), "tmp": str(tmp_path)}
    capsys.readouterr()
    assert run([a.format(**values) for a in argv]) == 1
    assert one_error_line(capsys).startswith(message.format(**values))


def test_the_harness_reads_back_only_when_the_recognizer_knows_every_language(tiny_fs_words, tmp_path):
    from text2sign.evaluation.harness import VIDEO_READ_BACK, _evaluate_videos

    items = tiny_fs_words.split("test")
    clips = {item.id: fake_video(6, 16, 16, seed=i) for i, item in enumerate(items)}
    for languages, readable in ((["gsg"], False), (["ase", "gsg"], True)):
        config = VideoRecognizerConfig(
            channels=[4], hidden=8, dilations=[1], vocab=list("abc"), languages=languages, size=16, fps=12.5
        )
        VideoRecognizer(VideoRecognizerNet(config)).save(tmp_path / "-".join(languages))
        result, failures = _evaluate_videos(
            lambda item: clips[item.id],
            tiny_fs_words,
            items,
            None,
            0,
            None,
            video_recognizer_dir=tmp_path / "-".join(languages),
        )
        assert not failures and result["psnr"] > 0
        assert all((result[key] is not None) == readable for key in VIDEO_READ_BACK), result
