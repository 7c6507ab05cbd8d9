"""One vocabulary across commands (issue 21 §6): where a command writes it takes -o/--output (and
--out), a recognizer is --recognizer wherever one is chosen, and a model's options are its own:
their ranges (a distilled student's steps) and which model takes them are said in one line."""

import pytest

from text2sign.cli import run
from text2sign.pose.io import load_pose
from text2sign.testing import fake_pose, one_error_line

WRITERS = [
    ["generate"],
    ["render"],
    ["extract"],
    ["evaluate"],
    ["train"],
    ["train-recognizer"],
    ["export", "phoenix"],
    ["prepare", "fingerspelling"],
    ["prepare", "phoenix"],
    ["prepare", "lexicon"],
    ["prepare", "gan-nat-csv"],
    ["prepare", "latent-features"],
    ["prepare", "openpose"],
    ["prepare", "video"],
    ["prepare", "video-folder"],
]


@pytest.mark.parametrize("command", WRITERS, ids=" ".join)
def test_every_command_that_writes_takes_output_o_and_out(command, capsys):
    assert run([*command, "--help"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if "--output" in line)
    assert "--output,--out " in line and " -o " in line  # the canonical spelling first, --out its alias


def test_the_spellings_write_the_same(tmp_path):
    from text2sign.pose.io import save_pose

    save_pose(fake_pose(6), tmp_path / "a.pose")
    for flag in ("-o", "--output", "--out"):
        assert (
            run(
                [
                    "render",
                    str(tmp_path / "a.pose"),
                    flag,
                    str(tmp_path / f"a{flag}.png"),
                    "--width",
                    "64",
                    "--height",
                    "64",
                ]
            )
            == 0
        )
    assert len(list(tmp_path.glob("a-*.png"))) == 3


@pytest.mark.parametrize("flag", ["--recognizer", "--model"])
def test_recognize_takes_recognizer_as_evaluate_does(flag, tmp_path, capsys):
    from text2sign.pose.io import save_pose

    save_pose(fake_pose(6), tmp_path / "a.pose")
    assert run(["recognize", str(tmp_path / "a.pose"), flag, str(tmp_path / "nowhere")]) == 1
    assert "recognizer checkpoint not found" in one_error_line(capsys)


def test_a_distilled_student_refuses_steps_it_never_learnt(tmp_path, capsys):
    out = tmp_path / "x.pose"
    assert run(["generate", "hi", "--model", "fs-latent-flow", "--steps", "8", "-o", str(out)]) == 1
    assert (
        one_error_line(capsys)
        == "error: steps must be from 1 to 4, got 8 (fs-latent-flow is distilled for 1 to 4 steps)"
    )
    assert not out.exists()
    assert run(["generate", "hi", "--model", "fs-latent-flow", "--steps", "2", "-o", str(out)]) == 0


def test_an_option_of_other_models_is_one_line_naming_them(tmp_path, capsys):
    assert run(["generate", "hi", "--model", "concat", "--frames", "4", "-o", str(tmp_path / "x.pose")]) == 1
    line = one_error_line(capsys)
    assert (
        line.startswith("error: --frames applies to fs-gan-nat, fs-latent-flow")
        and "not to 'concat' (its options: --lexicon)" in line
    )
    # --model given twice: the last one is the model, as click reads it.
    twice = [
        "generate",
        "hi",
        "--model",
        "fs-gan-nat",
        "--frames",
        "4",
        "--model",
        "concat",
        "-o",
        str(tmp_path / "x.pose"),
    ]
    assert run(twice) == 1
    assert "not to 'concat'" in one_error_line(capsys)
    assert (
        run(["generate", "hi", "--model", "concat", "--wobbly", "4", "-o", str(tmp_path / "x.pose")]) == 2
    )  # no model's: a typo
    assert "No such option" in capsys.readouterr().err


def test_a_seed_for_a_deterministic_model_is_a_warning_not_an_error(tmp_path, capsys):
    assert run(["generate", "hi", "--model", "concat", "-o", str(tmp_path / "a.pose")]) == 0
    assert run(["generate", "hi", "--model", "concat", "--seed", "3", "-o", str(tmp_path / "b.pose")]) == 0
    err = capsys.readouterr().err
    assert err.count("warning: --seed changes nothing: model concat is deterministic") == 1
    assert load_pose(tmp_path / "a.pose").allclose(load_pose(tmp_path / "b.pose"))
    assert run(["generate", "hi", "--model", "fs-gan-nat", "--seed", "3", "-o", str(tmp_path / "c.pose")]) == 0
    assert "warning" not in capsys.readouterr().err


def test_the_plan_conditioned_family_declares_its_options_for_every_front_door():
    from text2sign.families.registry import get_family
    from text2sign.pipelines.options import family_options

    call, load, stochastic = family_options(get_family("lookup-flow"))
    assert list(call) == ["steps", "plan_strength", "plan"] and list(load) == ["lexicon", "plan_model"]
    assert (call["steps"].low, call["steps"].high, call["plan_strength"].high) == (1, 1000, 0.99)
    assert call["plan"].load is load_pose and not call["plan"].http and stochastic
    assert [o.flag for o in (*call.values(), *load.values())] == [
        "--steps",
        "--plan-strength",
        "--plan",
        "--lexicon",
        "--plan-model",
    ]
