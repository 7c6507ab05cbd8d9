"""Long jobs say how far they are where output is not a terminal (CI logs, nohup): plain lines."""

import io

from rich.console import Console

from text2sign.progress import progress_bar


def run_job(console: Console, interval: float) -> None:
    with progress_bar(console) as progress:
        progress.plain_interval = interval
        words = progress.add_task("evaluating", total=4)
        for _ in range(3):
            progress.advance(words)
        frames = progress.add_task("frames", total=None)
        progress.advance(frames, 10)
        progress.advance(words)


def test_a_file_gets_plain_lines_with_counts_and_a_final_one():
    out = io.StringIO()
    run_job(Console(file=out, force_terminal=False, width=200), interval=0)
    lines = [line for line in out.getvalue().splitlines() if line]
    assert lines[0] == "evaluating: 1/4 (25%), 0:00:00 elapsed"
    assert lines[1].startswith("evaluating: 2/4 (50%), 0:00:00 elapsed, eta ")
    assert "frames: 10, 0:00:00 elapsed" in lines
    assert lines[-2:] == ["evaluating: 4/4 (100%), 0:00:00 elapsed", "frames: 10, 0:00:00 elapsed"]


def test_a_job_shorter_than_the_interval_stays_silent():
    out = io.StringIO()
    run_job(Console(file=out, force_terminal=False, width=200), interval=3600)
    assert out.getvalue().strip() == ""


def test_a_failed_job_ends_without_a_final_line():
    out = io.StringIO()
    try:
        with progress_bar(Console(file=out, force_terminal=False, width=200)) as progress:
            progress.plain_interval = 0
            task = progress.add_task("evaluating", total=4)
            progress.advance(task)
            raise RuntimeError("stop")
    except RuntimeError:
        pass
    assert [line for line in out.getvalue().splitlines() if line] == ["evaluating: 1/4 (25%), 0:00:00 elapsed"]


def test_a_terminal_gets_the_bar_and_no_plain_lines():
    out = io.StringIO()
    run_job(Console(file=out, force_terminal=True, width=200), interval=0)
    assert "evaluating: 1/4" not in out.getvalue() and "evaluating" in out.getvalue()
