"""Every shell and Python example in README.md and docs/*.md runs as written, so none can rot.

How a fenced block runs (each page in a folder of its own, blocks in page order):

* ```` ```python ````: executed, the page's blocks sharing one namespace.
* ```` ```bash ````: each ``text2sign ...`` command (``\\`` continuations joined, comments dropped)
  runs through the CLI in this process and must exit 0. ``text2sign serve`` is started as a process
  on a free port (appended ``--port``), must answer ``/healthz``, and is stopped. ``curl`` lines run
  only in ``against-server`` blocks, against a server this test starts (``localhost:8000`` becomes
  its port). Installation and monitoring lines (pip, make, tensorboard, torchrun, apt-get) are not run.

Every documented ``text2sign`` command, run here or not, must at least parse
(``test_every_documented_command_parses``): an option that was renamed or became required fails.

A block says what it needs in an HTML comment on the line before it, ``<!-- example: WORDS -->``:

``slow``            it trains or takes long: it runs only with ``-m slow`` (``make test-all``). So
                    that a chain of stages runs in minutes, each ``text2sign train`` line gets
                    ``--set train.steps=N`` appended (N = 2, 3, ... in block order, so a ``--resume``
                    always has steps left) and ``train-recognizer`` gets ``--epochs 1``: the commands,
                    configs, flags and paths are what is checked, not the training length.
``extra=NAME``      it needs an optional extra; it skips, saying which, where that is not installed.
``gpu``             it needs a CUDA GPU; it skips without one.
``own-data``        it needs the user's own files (a corpus download, their videos, pretrained
                    weights), named in parentheses; it is not run (its commands still parse).
``against-server``  its ``curl`` lines go to a ``text2sign serve`` this test starts.

FS-Words (``data/fs-words``, about 100 s to build) is built once per session by its documented
command, ``text2sign prepare fingerspelling -o data/fs-words``, and linked into every folder
whose block names it; that line is then not run again.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from text2sign.cli import run
from text2sign.families.registry import missing_extra

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_RUN = {"pip", "make", "tensorboard", "torchrun", "apt-get"}
MARKER = re.compile(r"^<!-- example: (.*) -->$")
WORD = re.compile(r"(slow|gpu|own-data|against-server|extra=[a-z-]+)(?: \(([^)]*)\))?")
FENCE = re.compile(r"^```(\w*)\s*$")
FS_WORDS = "data/fs-words"
BUILD_FS_WORDS = ["text2sign", "prepare", "fingerspelling", "-o", FS_WORDS]
# Commands that train, or build or score a whole corpus: a block holding one must be marked slow.
LONG = re.compile(
    r"\btext2sign (train|train-recognizer|evaluate|bench)\b|\bprepare (fingerspelling|video)\b|data/fs-words"
)


@dataclass
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    words: dict[str, str]  # marker word -> its reason ("" when none), e.g. {"extra=video": ""}

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def slow(self) -> bool:
        return "slow" in self.words

    @property
    def extras(self) -> list[str]:
        return [w.split("=", 1)[1] for w in self.words if w.startswith("extra=")]

    def commands(self) -> list[list[str]]:
        """The block's shell commands as argument lists (environment assignments dropped)."""
        out = []
        for line in self.text.replace("\\\n", " ").splitlines():
            args = shlex.split(line, comments=True)
            while args and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", args[0]):
                args = args[1:]
            if args:
                out.append(args)
        return out


def parse_marker(text: str) -> dict[str, str]:
    words, rest = {}, text
    while rest:
        m = WORD.match(rest)
        assert m, f"unknown example marker {rest!r} (known: slow, gpu, own-data, against-server, extra=NAME)"
        words[m.group(1)] = m.group(2) or ""
        rest = rest[m.end() :].lstrip(", ")
    return words


def read_blocks(page: Path) -> list[Block]:
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        marker = MARKER.match(before)
        if m.group(1) in ("bash", "python"):
            text = "\n".join(lines[i + 1 : end]) + "\n"
            blocks.append(Block(page, i + 1, m.group(1), text, parse_marker(marker.group(1)) if marker else {}))
        i = end + 1
    return blocks


BLOCKS = [b for page in PAGES for b in read_blocks(page)]


def params(blocks):
    return [pytest.param(b, id=b.id, marks=[pytest.mark.slow] if b.slow else []) for b in blocks]


def test_every_page_has_examples_and_every_marker_is_known():
    assert {b.page.name for b in BLOCKS} >= {"README.md", "usage.md", "serving.md", "adding-a-family.md"}
    for block in BLOCKS:
        for command in block.commands() if block.lang == "bash" else []:
            assert command[0] in {"text2sign", "curl"} | NOT_RUN, (
                f"{block.id}: {command[0]} is neither run nor known not to be"
            )
            assert command[0] != "curl" or "against-server" in block.words, (
                f"{block.id}: curl outside an against-server block"
            )


def test_blocks_that_train_or_take_long_are_marked_slow():
    for block in BLOCKS:
        if not {"slow", "own-data"} & set(block.words):
            assert not LONG.search(block.text), f"{block.id} trains or scores a corpus: mark it <!-- example: slow -->"


def parse(args: list[str]) -> None:
    """Parse `args` as the CLI would, down to the subcommand, without running it."""
    import typer

    from text2sign.cli import app

    command = typer.main.get_command(app)
    ctx = command.make_context("text2sign", list(args))
    # A group resolves subcommands (Typer's groups are not click.Group: Typer carries its own click).
    while hasattr(command, "resolve_command"):
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
        name, command, rest = command.resolve_command(ctx, rest)
        ctx = command.make_context(name, rest, parent=ctx)


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang == "bash"], ids=lambda b: b.id)
def test_every_documented_command_parses(block):
    for command in block.commands():
        if command[0] == "text2sign":
            try:
                parse(command[1:])
            except Exception as exc:  # noqa: BLE001  any failure to parse fails the test, naming block and command
                # (mostly click's usage errors: a missing or unknown option, a bad value)
                pytest.fail(f"{block.id}: {shlex.join(command)}: {exc}")


# The shipped models' numbers live in the registry; README's and RESULTS.md's tables quote them.


def tables(text: str) -> list[list[dict[str, str]]]:
    """Every Markdown table in `text` as a list of {header: cell} rows."""
    found, rows = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif rows:
            header, *body = rows
            found.append([dict(zip(header, r)) for r in body if not set("".join(r)) <= set("-: ")])
            rows = []
    return found


def cell(text: str, model: str, column: str) -> str:
    """The cell under the first header containing `column` in the row of `model`, from any table."""
    for table in tables(text):
        for row in table:
            first = next(iter(row.values()), "").strip("`")
            key = next((h for h in row if column in h), None)
            if key and (first == model or first.startswith(model + " ")):
                return row[key]
    raise AssertionError(f"no {column!r} cell for {model}")


def test_readme_results_and_registry_agree_on_the_shipped_models():
    from text2sign.families.registry import MODELS

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    results = (ROOT / "benchmarks" / "RESULTS.md").read_text(encoding="utf-8")
    for m in MODELS.values():
        if m.test_cer is not None:
            for text in (readme, results):
                assert cell(text, m.name, "CER").split()[0] == f"{m.test_cer:.2f}", m.name
        if m.p50_ms is not None:
            assert cell(readme, m.name, "p50").split()[0] == f"{m.p50_ms:g}", m.name
            assert cell(results, m.name, "p50 ms") == f"{m.p50_ms:g}", m.name
        if m.video_test_cer is not None:
            assert cell(readme, m.name, "CER").split()[0] == f"{m.video_test_cer:.2f}", m.name
            assert cell(results, m.name, "CER %") == f"{m.video_test_cer:.2f}", m.name
            assert f"({m.video_test_cer:.0f} % video CER)" in m.about, m.name


# Running the blocks.


def missing_extras(block: Block) -> list[str]:
    return [e for e in block.extras if missing_extra(e) is not None]


def skip_reason(block: Block) -> str | None:
    if "own-data" in block.words:
        return f"needs your own data: {block.words['own-data'] or 'files of your own'}"
    missing = missing_extras(block)
    if missing:
        return f"needs the [{', '.join(missing)}] extra, not installed (pip install -e '.[{','.join(missing)}]')"
    if "gpu" in block.words:
        import torch

        if not torch.cuda.is_available():
            return "needs a CUDA GPU"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server(args: list[str], folder: Path):
    """`text2sign serve ARGS` on a free port, up (answering /healthz) until the block is done."""
    port = free_port()
    log = folder / f"serve-{port}.log"
    command = [sys.executable, "-c", "from text2sign.cli import main; main()", *args, "--port", str(port)]
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=folder, stdout=subprocess.DEVNULL, stderr=out)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None and time.monotonic() < deadline, (
                f"{shlex.join(args)} did not start:\n{log.read_text()}"
            )
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, log.read_text()


@contextlib.contextmanager
def working_dir(folder: Path):
    """contextlib.chdir, which Python 3.10 lacks."""
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


class Page:
    """A page's folder and Python namespace, and which of its blocks have run there."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.namespace: dict = {"__name__": "__docs_example__"}
        self.done: set[int] = set()
        self.train_steps = 1
        (folder / "configs").symlink_to(ROOT / "configs")


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """One work folder per page; the registry is restored afterwards (examples register families)."""
    from text2sign.families import registry

    families, models = dict(registry._FAMILIES), dict(registry.MODELS)
    made: dict[Path, Page] = {}

    def get(page: Path) -> Page:
        if page not in made:
            made[page] = Page(tmp_path_factory.mktemp(page.stem))
        return made[page]

    yield get
    # Families imported lazily meanwhile (built-in ones) stay: their modules will not register again.
    for name in set(registry._FAMILIES) - set(families) - set(registry.BUILTIN_FAMILIES):
        del registry._FAMILIES[name]
    registry._FAMILIES.update(families)
    for name in set(registry.MODELS) - set(models):
        del registry.MODELS[name]
    registry.MODELS.update(models)


@pytest.fixture(scope="session")
def fs_words(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fs-words")
    (folder / "data").mkdir()
    with working_dir(folder):
        assert run(BUILD_FS_WORDS[1:]) == 0
    return folder / FS_WORDS


def run_text2sign(args: list[str], block: Block, page: Page) -> None:
    if args[:1] == ["train"]:
        page.train_steps += 1
        args = [*args, "--set", f"train.steps={page.train_steps}"]
    elif args[:1] == ["train-recognizer"]:
        args = [*args, "--epochs", "1"]
    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch else None
    try:
        code = run(args)
    finally:
        if threads and "torch" in sys.modules:
            torch.set_num_threads(threads)  # `bench --threads 1` must not slow the rest of the session
    assert code == 0, f"{block.id}: text2sign {shlex.join(args)} exited {code}"


def run_block(block: Block, page: Page, request) -> None:
    if block.lang == "python":
        # Running the page's own example is the point (S102). dont_inherit: this module's
        # `from __future__ import annotations` is not the example's.
        exec(compile(block.text, block.id, "exec", dont_inherit=True), page.namespace)  # noqa: S102
        return
    if FS_WORDS in block.text and not (page.folder / FS_WORDS).exists():
        (page.folder / "data").mkdir(exist_ok=True)
        (page.folder / FS_WORDS).symlink_to(request.getfixturevalue("fs_words"), target_is_directory=True)
    with contextlib.ExitStack() as stack:
        port = stack.enter_context(server(["serve"], page.folder)) if "against-server" in block.words else None
        for args in block.commands():
            if args[0] == "text2sign" and args[1:2] == ["serve"]:
                with server(args[1:], page.folder):
                    pass
            elif args == BUILD_FS_WORDS:
                continue  # built once for the session by this same command (fs_words)
            elif args[0] == "text2sign":
                run_text2sign(args[1:], block, page)
            elif args[0] == "curl":
                args = [a.replace("localhost:8000", f"127.0.0.1:{port}") for a in args]
                done = subprocess.run(args, cwd=page.folder, capture_output=True, text=True, timeout=60, check=False)
                assert done.returncode == 0, f"{block.id}: {shlex.join(args)}: {done.stderr}"


@pytest.mark.parametrize("block", params(BLOCKS))
def test_example_runs(block, pages, request):
    reason = skip_reason(block)
    if reason:
        pytest.skip(reason)
    page = pages(block.page)
    with working_dir(page.folder):
        # A block may use what the page's earlier blocks made; a fast block never needs a slow one.
        for earlier in (b for b in BLOCKS if b.page == block.page and b.line < block.line):
            if earlier.line not in page.done and skip_reason(earlier) is None and (block.slow or not earlier.slow):
                run_block(earlier, page, request)
                page.done.add(earlier.line)
        if block.line not in page.done:
            page.done.add(block.line)
            run_block(block, page, request)
