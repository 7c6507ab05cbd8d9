import numpy as np
import pytest

from text2sign.data.corpus import CorpusWriter
from text2sign.errors import LanguageError, TextError
from text2sign.pipelines.base import split_words
from text2sign.pipelines.concat import ConcatPipeline
from text2sign.pose.concatenate import compose
from text2sign.testing import fake_pose


@pytest.fixture(scope="module")
def pipeline():
    return ConcatPipeline()


def test_hello_world_plan_and_shape(pipeline):
    plan = pipeline.plan("Hello, world!", "en", "ase")
    assert [p.key for p in plan] == list("helloworld")
    assert [p.word_end for p in plan] == [False] * 4 + [True] + [False] * 4 + [True]
    (pose,) = pipeline("Hello, world!", "en", "ase").outputs
    cfg = pipeline.config
    first, last = plan[0].clip, plan[-1].clip
    expected = first.core_start + 10 * cfg.letter_frames + 9 * cfg.transition_frames + cfg.word_pause_frames
    expected += last.seq.num_frames - last.core_end
    assert pose.num_frames == expected
    assert pose.layout.name == "holistic-178" and pose.fps == 25.0
    assert np.isfinite(pose.data[pose.mask]).all()


def test_joins_are_smoother_than_plain_concatenation(pipeline):
    (pose,) = pipeline("abc", "en", "ase").outputs
    plan = pipeline.plan("abc", "en", "ase")
    hand = pose.layout.kind_indices("right_hand")
    start = plan[0].clip.core_start
    stop = pose.num_frames - (plan[-1].clip.seq.num_frames - plan[-1].clip.core_end)
    signing = pose.data[start:stop, hand]  # (T', 21, D): from the first letter to the last
    steps = np.linalg.norm(np.diff(signing, axis=0), axis=-1).mean(axis=1)
    # trimmed but not blended, the hand would jump from the last held frame of one letter to
    # the first of the next in a single frame
    a, b = plan[0].clip, plan[1].clip
    jump = np.linalg.norm(b.seq.data[b.core_start, hand] - a.seq.data[a.core_end - 1, hand], axis=-1).mean()
    assert steps.max() < 0.6 * jump


def test_batch_call_and_other_alphabets(pipeline):
    poses = pipeline(["ab", "abc"], "en", "ase").outputs
    assert poses[0].num_frames < poses[1].num_frames
    (german,) = pipeline("Schöne Grüße", "de", "asq").outputs
    assert german.num_frames > 0
    assert [p.key for p in pipeline.plan("schön", "de", "asq")] == ["sch", "ö", "n"]


def test_diacritics_fall_back_to_base_letters(pipeline):
    assert [p.key for p in pipeline.plan("café", "en", "ase")] == list("cafe")


def test_unknown_characters_warn_or_fail_in_strict_mode(pipeline):
    result = pipeline("hi 42", "en", "ase")
    assert result.warnings == ["skipped '4', '2': no sign for them in ase"]
    # Warnings belong to the call that caused them, not to later ones.
    assert pipeline("hi", "en", "ase").warnings == []
    with pytest.raises(TextError, match="no sign for '4', '2' in ase"):
        pipeline("hi 42", "en", "ase", strict=True)
    with pytest.raises(TextError, match="nothing in '42' can be signed"):
        pipeline("42", "en", "ase")


@pytest.mark.parametrize(
    "text,message",
    [("", "text is empty"), ("   \n", "text is empty"), ("?!", "only punctuation"), ("a" * 1001, "limit is 1000")],
)
def test_bad_text(pipeline, text, message):
    with pytest.raises(TextError, match=message):
        pipeline(text, "en", "ase")


def test_language_errors_list_what_is_supported(pipeline):
    with pytest.raises(LanguageError, match="supported: ase, asq"):
        pipeline("hi", "en", "xyz")
    with pytest.raises(LanguageError, match="supported for ase: en"):
        pipeline("hi", "de", "ase")
    assert ("fr", "fsl") in pipeline.language_pairs() and len(pipeline.language_pairs()) == 20


def test_split_words():
    assert split_words("Hello, world! It's\tme.") == ["Hello", "world", "It", "s", "me"]


def test_user_lexicon_signs_known_words_and_fingerspells_the_rest(tmp_path):
    writer = CorpusWriter(tmp_path / "dict")
    house = fake_pose(20, seed=3)
    writer.add(
        house, id="house", split="train", text="house", gloss="HOUSE", spoken_language="en", signed_language="ase"
    )
    writer.add(
        fake_pose(12, seed=4),
        id="two",
        split="train",
        text="two words",
        gloss="",
        spoken_language="en",
        signed_language="ase",
    )
    writer.close()
    pipeline = ConcatPipeline(lexicon=tmp_path / "dict")
    plan = pipeline.plan("House ab", "en", "ase")
    assert [(p.key, p.fingerspelled) for p in plan] == [("house", False), ("a", True), ("b", True)]
    (pose,) = pipeline("House ab", "en", "ase").outputs
    assert pose.num_frames == pipeline.compose_plan(plan).num_frames
    assert not pipeline.signs.has("ase", "two words")  # multi-token items are not lexicon signs


def test_compose_matches_pipeline_timing(pipeline):
    plan = pipeline.plan("ab", "en", "ase")
    direct = compose([p.clip for p in plan], [8, 8], 4, [0, 0])
    (pose,) = pipeline("ab", "en", "ase").outputs
    assert direct.allclose(pose)


def test_concat_from_the_cli_imports_no_torch_and_reads_only_its_letters(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from text2sign.cli import run\n"
        "from text2sign.data import lexicon\n"
        "read = []\n"
        "load = lexicon.load_clip\n"
        "lexicon.load_clip = lambda path, *a: read.append(path) or load(path, *a)\n"
        "assert run(['generate', 'hallo', '--model', 'concat', '-o', sys.argv[1]]) == 0\n"
        "print('torch' in sys.modules, len(read))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "x.pose")], capture_output=True, text=True, check=True
    )
    # four distinct letters: h, a, l, o
    assert done.stdout.split()[-2:] == ["False", "4"]
