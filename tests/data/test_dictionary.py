"""`prepare lexicon`: a user's dictionary of isolated signs becomes the lexicon `concat` reads,
with rest frames trimmed by the documented rule and duplicates and conflicts reported."""

import csv
import importlib.util

import numpy as np
import pytest

from text2sign.cli import run
from text2sign.data.dictionary import REST_LINE, REST_MARGIN, build_dictionary, signing_span
from text2sign.data.lexicon import Lexicon, read_fingerspelling_entries
from text2sign.errors import CorpusError
from text2sign.pipelines.concat import ConcatPipeline
from text2sign.pose.io import load_pose, read_pose, write_pose
from text2sign.pose.normalize import shoulder_normalization
from text2sign.pose.sequence import PoseSequence
from text2sign.testing import fake_pose

REST = 6  # rest frames padded before and after a recorded sign


def with_hands_at(seq: PoseSequence, heights: list[float]) -> PoseSequence:
    """`seq`'s first frame repeated, both hands moved to `heights` (shoulder widths below the shoulders)."""
    norm = shoulder_normalization(seq)
    hands = seq.layout.kind_indices("left_hand", "right_hand")
    data = np.repeat(seq.data[:1], len(heights), axis=0)
    for t, height in enumerate(heights):
        shift = norm.center[1] + height * norm.scale - data[t, hands, 1].mean()
        data[t, hands, 1] += shift
    conf = None if seq.confidence is None else np.repeat(seq.confidence[:1], len(heights), axis=0)
    return PoseSequence(data, np.repeat(seq.mask[:1], len(heights), axis=0), seq.fps, seq.layout, conf, seq.canvas)


def padded_with_rest(seq: PoseSequence) -> PoseSequence:
    """A recording as a user makes it: hands resting low, the sign, hands resting again."""
    rest = with_hands_at(seq, [1.3] * REST)
    return PoseSequence.concatenate([rest, seq, rest])


def test_rest_frames_at_both_ends_are_trimmed_to_the_margin():
    heights = [1.4] * 5 + [0.3] * 8 + [REST_LINE + 0.2] * 6
    seq = with_hands_at(fake_pose(2, hands_moving=False), heights)
    assert signing_span(seq) == (5 - REST_MARGIN, 13 + REST_MARGIN)
    hands = seq.layout.kind_indices("left_hand")
    seq.mask[:7, hands] = False
    assert signing_span(seq) == (5 - REST_MARGIN, 13 + REST_MARGIN), "one hand signing is enough"


def test_a_clip_without_signing_is_left_whole():
    seq = with_hands_at(fake_pose(2, hands_moving=False), [1.2] * 10)
    assert signing_span(seq) is None
    seq.mask[:, seq.layout.kind_indices("left_hand", "right_hand")] = False
    assert signing_span(seq) is None


@pytest.fixture
def dictionary(tmp_path):
    """Three real recorded letter clips (spoken-to-signed's lexicon) as a user's 'signs', padded with rest."""
    letters = {e.key.lower(): e.path for e in read_fingerspelling_entries() if e.signed_language == "ase"}
    src = tmp_path / "my-signs"
    src.mkdir()
    clips = {}
    for word, letter in (("apple", "a"), ("ball", "b"), ("cat", "c")):
        clips[word] = read_pose(letters[letter]).to_layout("holistic-178")
        write_pose(padded_with_rest(clips[word]), src / f"{word}.pose")
    rows = [
        ["apple.pose", "apple", ""],
        ["ball.pose", "ball", "BALL"],
        ["apple.pose", "Apple", ""],  # a duplicate
        ["cat.pose", "apple", ""],  # a conflict: another clip for "apple"
        ["cat.pose", "cat", ""],
        ["cat.pose", "thank you", ""],  # several words: concat cannot look it up
    ]
    with (src / "index.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "text", "gloss"])
        writer.writerows(rows)
    return src, clips


def test_lexicon_trims_reports_and_is_used_by_concat(dictionary, tmp_path):
    src, clips = dictionary
    report = build_dictionary(src, src / "index.csv", tmp_path / "lexicon", spoken="en", signed="ase")
    corpus = report.corpus
    assert sorted(i.lexicon_key for i in corpus.items) == ["BALL", "apple", "cat", "thank you"]
    notes = "\n".join(report.notes)
    assert "index.csv:4: duplicate of line 2" in notes
    assert "index.csv:5: conflict: 'apple' in ase is already line 2's clip apple.pose" in notes
    assert "'thank you' is several words" in notes
    for item in corpus.items:
        word = item.text if item.text in clips else "cat"
        kept = corpus.load_pose(item).num_frames
        original = clips[word].num_frames
        assert original <= kept <= original + 2 * REST_MARGIN, (item.text, kept, original)
    assert report.trimmed_frames >= 4 * 2 * (REST - REST_MARGIN)
    assert corpus.stats["rest_trimming"] == {"rest_line": REST_LINE, "margin": REST_MARGIN}

    pipeline = ConcatPipeline(Lexicon.from_corpus(corpus.root))
    plan = pipeline.plan("apple zebra ball", "en", "ase")
    signed = [(p.key, p.fingerspelled) for p in plan]
    assert signed[0] == ("apple", False) and signed[-1] == ("ball", False)
    assert [k for k, spelled in signed[1:-1]] == list("zebra") and all(spelled for _, spelled in signed[1:-1])


def test_prepare_lexicon_cli_then_generate_with_it(dictionary, tmp_path, capsys):
    src, _ = dictionary
    out = tmp_path / "lexicon"
    assert run(["prepare", "lexicon", str(src), "--out", str(out), "--spoken", "en", "--signed", "ase"]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("warning: ") == 3 and "conflict" in captured.err
    assert "4 signs" in captured.out
    pose_path = tmp_path / "out.pose"
    assert run(["generate", "cat apple", "--model", "concat", "--lexicon", str(out), "-o", str(pose_path)]) == 0
    assert load_pose(pose_path).layout.name == "holistic-178"


def test_prepare_lexicon_bad_inputs_leave_nothing(dictionary, tmp_path, capsys):
    src, _ = dictionary
    out = tmp_path / "lexicon"
    (src / "bad.csv").write_text("path,text\nmissing.pose,hello\n", encoding="utf-8")
    assert (
        run(
            [
                "prepare",
                "lexicon",
                str(src),
                "--index",
                str(src / "bad.csv"),
                "--out",
                str(out),
                "--spoken",
                "en",
                "--signed",
                "ase",
            ]
        )
        == 1
    )
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bad.csv:2: no clip at" in err
    (src / "bad.csv").write_text("path,text\napple.pose,hello\n", encoding="utf-8")
    assert run(["prepare", "lexicon", str(src), "--index", str(src / "bad.csv"), "--out", str(out)]) == 1
    assert "--spoken" in capsys.readouterr().err
    (src / "broken.pose").write_bytes(b"not a pose")
    (src / "bad.csv").write_text("path,text\nbroken.pose,hello\n", encoding="utf-8")
    with pytest.raises(Exception, match="broken.pose"):
        build_dictionary(src, src / "bad.csv", out, spoken="en", signed="ase")
    with pytest.raises(CorpusError, match="signs.csv"):
        build_dictionary(src, src / "signs.csv", out, spoken="en", signed="ase")
    assert not out.exists()


@pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None, reason='needs pip install "text2sign[extract]"')
def test_videos_in_the_dictionary_are_extracted_once(dictionary, tmp_path, capsys):
    from skimage import data

    from text2sign.video.io import write_mp4

    src, _ = dictionary
    write_mp4([data.astronaut()] * 3, src / "astronaut.mp4", 25.0)
    (src / "index.csv").write_text("path,text\nastronaut.mp4,astronaut\napple.pose,apple\n", encoding="utf-8")
    out = tmp_path / "lexicon"
    assert run(["prepare", "lexicon", str(src), "--out", str(out), "--spoken", "en", "--signed", "ase"]) == 0
    captured = capsys.readouterr()
    assert "extracted 1 video" in captured.err and "kept untrimmed" in captured.err  # the astronaut's hands are down
    extracted = tmp_path / "lexicon-extracted" / "astronaut.pose"
    assert read_pose(extracted).layout.name == "holistic"
    lexicon = Lexicon.from_corpus(out)
    assert lexicon.has("ase", "astronaut") and lexicon.has("ase", "apple")
    assert run(["prepare", "lexicon", str(src), "--out", str(out), "--spoken", "en", "--signed", "ase"]) == 0
    assert "skipped 1 already extracted" in capsys.readouterr().err
    # `extract SRC -o DIR` and `prepare lexicon SRC --extracted DIR` name their poses alike, so either reuses the
    # other's.
    assert run(["extract", str(src), "-o", str(extracted.parent)]) == 0
    assert "skipped 1 already extracted" in capsys.readouterr().out
