"""The ``text2sign`` command line. Thin on purpose: parse arguments, call the library, print."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from text2sign.errors import Text2SignError
from text2sign.families.registry import DEFAULT_MODEL, SHIPPED_VIDEO_SIZE
from text2sign.pipelines import model_names

app = typer.Typer(
    help="Sign language production: text in, signing out as .pose skeletons and video.\n\n"
    "Model families from outside text2sign come from installed packages (entry points in the group "
    "'text2sign.families') or from Python modules you name in the TEXT2SIGN_PLUGINS environment variable "
    "(comma-separated), never from a file: a config or checkpoint only names a registered family.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
prepare_app = typer.Typer(help="Build a corpus in text2sign's format.", no_args_is_help=True)
export_app = typer.Typer(help="Write a corpus back out in another format.", no_args_is_help=True)
app.add_typer(prepare_app, name="prepare")
app.add_typer(export_app, name="export")

# soft_wrap: a line piped to a file or a narrow terminal stays one line (greppable); tables still fit the width.
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

MODELS = (f"default (= {DEFAULT_MODEL})", *(name for name in model_names() if name != "default"), "a checkpoint or run directory (see: text2sign models)")


def progress_bar():
    from text2sign.progress import progress_bar as make_progress_bar

    return make_progress_bar(err_console)


@contextlib.contextmanager
def frame_progress(description: str, path: Path):
    """``{"on_frame": callback}`` for a drawn GIF / MP4, so a long render shows a bar; {} otherwise."""
    if path.suffix.lower() not in (".gif", ".mp4"):
        yield {}
        return
    with progress_bar() as progress:
        task = progress.add_task(description, total=None)
        yield {"on_frame": lambda done, total: progress.update(task, completed=done, total=total)}


def parse_hide(hide: str) -> tuple[str, ...]:
    from text2sign.pose.layout import KINDS

    kinds = tuple(k.strip() for k in hide.split(",") if k.strip())
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise Text2SignError(f"--hide takes component kinds from {', '.join(KINDS)}; got {', '.join(unknown)}")
    return kinds


def build_pipeline(model: str, lexicon: Optional[Path]):
    from text2sign.pipelines import load_pipeline

    return load_pipeline(model, lexicon=lexicon)


# Sampling settings of generative models (flow matching, diffusion); each pipeline lists those it takes.
StepsOption = Annotated[Optional[int], typer.Option("--steps", help="Flow / diffusion models: sampling steps (default: the model's own).")]
GuidanceOption = Annotated[
    Optional[float], typer.Option("--guidance-scale", help="Flow / diffusion models: classifier-free guidance scale (1: off; default: the model's own).")
]
EtaOption = Annotated[Optional[float], typer.Option("--eta", help="Diffusion models: DDIM eta (0: deterministic; default: the model's own).")]
PriorOption = Annotated[
    Optional[float], typer.Option("--lambda-prior", help="Flow models with an SSM prior: its weight (0: off; default: the model's own).")
]
SyncOption = Annotated[
    Optional[float], typer.Option("--sync-guidance", help="Flow models: hand-face sync guidance scale (0: off; default: the model's own).")
]


# Index rows and symlinks that lead out of the folder a command was given are refused (text2sign.sources).
AllowOutsideOption = Annotated[
    bool,
    typer.Option(
        "--allow-outside-paths",
        help="Also read files that an index row or a symlink places outside the source folder (refused by default, "
        "so that a dataset cannot make text2sign read your other files).",
    ),
]


def sampling_options(steps, guidance_scale, eta, lambda_prior, sync_guidance) -> dict:
    """The sampling flags a user gave, as pipeline options (a model refuses those it does not take)."""
    given = {"steps": steps, "guidance_scale": guidance_scale, "eta": eta, "lambda_prior": lambda_prior, "sync_guidance": sync_guidance}
    return {k: v for k, v in given.items() if v is not None}


def print_warnings(messages: list[str]) -> None:
    for message in messages:
        err_console.print(f"warning: {message}", style="yellow", highlight=False, markup=False)


@app.command()
def generate(
    text: Annotated[str, typer.Argument(help="Text to sign, e.g. 'hello world'.")],
    output: Annotated[
        Optional[Path],
        typer.Option(
            "--output", "-o",
            help="Output: .pose or .npz for pose models; .gif, .mp4 or a folder of PNG frames for video models. "
            "Optional when --gif or --mp4 is given.",
        ),
    ] = None,
    spoken: Annotated[str, typer.Option("--spoken", help="Spoken language code of TEXT.")] = "en",
    signed: Annotated[str, typer.Option("--signed", help="Signed language code to produce.")] = "ase",
    model: Annotated[str, typer.Option("--model", help=f"Model: {', '.join(MODELS)}.")] = "default",
    lexicon: Annotated[
        Optional[Path], typer.Option("--lexicon", help="concat: corpus of isolated signs to look words up in (default: fingerspelling).")
    ] = None,
    frames: Annotated[
        Optional[int], typer.Option("--frames", help="Learned models: frames per word instead of the predicted length.")
    ] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed of a stochastic model's sampling (default: the model's own).")] = None,
    signer: Annotated[
        Optional[str], typer.Option("--signer", help="Models trained with signers (data.signer): whose style to sign in.")
    ] = None,
    gloss: Annotated[
        Optional[str], typer.Option("--gloss", help="Models trained on glosses (data.input gloss or both): the gloss of TEXT.")
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on characters that cannot be signed instead of skipping them.")] = False,
    steps: StepsOption = None,
    guidance_scale: GuidanceOption = None,
    eta: EtaOption = None,
    lambda_prior: PriorOption = None,
    sync_guidance: SyncOption = None,
    gif: Annotated[Optional[Path], typer.Option("--gif", help="Also write a GIF here.")] = None,
    mp4: Annotated[Optional[Path], typer.Option("--mp4", help="Also write an H.264 MP4 here.")] = None,
    size: Annotated[
        Optional[int], typer.Option("--size", help="Width and height of GIF / MP4, pixels (default: 384 for poses, the model's own for video).")
    ] = None,
    hide: Annotated[str, typer.Option("--hide", help="Pose models: component kinds not drawn, comma-separated (face, world, ...).")] = "world",
) -> None:
    """Generate signing for TEXT: a pose file (pose models) or a video (video models), and/or a GIF / MP4 of it.

    -o is the model's own output; --gif / --mp4 also draw it into that file, for every model: one alone is enough.
    """
    from text2sign.fileio import check_output_path
    from text2sign.rendering import check_output_kind, write_output
    from text2sign.video.clip import check_output_side

    if output is None and gif is None and mp4 is None:
        raise Text2SignError("nothing to write: give -o FILE, --gif FILE.gif or --mp4 FILE.mp4")
    for flag, path in (("--gif", gif), ("--mp4", mp4)):
        if path is not None:
            if path.suffix.lower() != "." + flag[2:]:
                raise Text2SignError(f"{flag} takes a file name ending in .{flag[2:]}, not {path.name!r}")
            check_output_path(path)
    if output is not None and not output.is_dir():  # a folder is a video model's PNG-frame output
        check_output_path(output)
    if size is not None:
        check_output_side(size, "--size")
    hidden = parse_hide(hide)
    pipeline = build_pipeline(model, lexicon)
    if output is not None:
        check_output_kind(pipeline.output, output)
    result = pipeline([text], spoken=spoken, signed=signed, seed=seed, strict=strict, frames=frames, signer=signer, gloss=gloss,
                      **sampling_options(steps, guidance_scale, eta, lambda_prior, sync_guidance))
    print_warnings(result.warnings)
    (signing,) = result.outputs
    draw = {"width": size, "height": size} if size is not None else {}
    if pipeline.output == "pose":
        draw = {"width": size or 384, "height": size or 384, "hide": hidden}
    written = []
    for path in (output, gif, mp4):
        if path is not None:
            options = {} if path is output and pipeline.output == "pose" else draw
            drawing = frame_progress(f"drawing {path.name}", path) if pipeline.output == "pose" else contextlib.nullcontext({})
            with drawing as on_frame:
                write_output(signing, path, **options, **on_frame)
            written.append(str(path))
    shape = signing.layout.name if pipeline.output == "pose" else f"{signing.width}x{signing.height} video"
    console.print(
        f"{signing.num_frames} frames ({signing.duration:.2f} s, {shape}) -> {', '.join(written)}",
        highlight=False, markup=False, soft_wrap=True,
    )


@app.command()
def models(as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False) -> None:
    """List every model you can name with --model: family, output kind, languages, size on disk."""
    from text2sign.pipelines import list_models

    rows = list_models()
    if as_json:
        console.print_json(json.dumps([r.to_dict() for r in rows]))
        return
    table = Table(title="models (and any checkpoint or run directory)")
    for column in ("name", "family", "output", "signed", "size"):
        table.add_column(column, justify="right" if column in ("signed", "size") else "left", no_wrap=True)
    for r in rows:
        size = "-" if r.size_bytes is None else f"{r.size_bytes / 2**20:.1f} MB"
        name = f"{r.name} (default)" if r.default else r.name
        table.add_row(name, r.family, r.output, str(len({si for _, si in r.languages})), size)
    console.print(table)
    console.print("language pairs and descriptions: text2sign models --json, text2sign languages --model NAME", highlight=False)


@app.command()
def render(
    input: Annotated[Path, typer.Argument(help="Pose file (.pose or .npz).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output file: .gif, .mp4 or .png (contact sheet).")],
    width: Annotated[int, typer.Option("--width", help="Frame width in pixels.")] = 384,
    height: Annotated[int, typer.Option("--height", help="Frame height in pixels.")] = 384,
    fps: Annotated[Optional[float], typer.Option("--fps", help="Output frame rate (default: the pose's).")] = None,
    hide: Annotated[str, typer.Option("--hide", help="Component kinds not drawn, comma-separated (face, world, ...).")] = "world",
    person: Annotated[Optional[int], typer.Option("--person", help="Which person of a .pose file with several (0, 1, ...).")] = None,
) -> None:
    """Draw a pose file as a GIF, an MP4 or a PNG contact sheet."""
    from text2sign.fileio import check_output_path
    from text2sign.pose.io import load_pose
    from text2sign.rendering import render as render_pose

    from text2sign.video.clip import check_output_fps, check_output_side

    check_output_path(output)
    check_output_side(width, "--width")
    check_output_side(height, "--height")
    if fps is not None:
        check_output_fps(fps, "--fps")
    hidden = parse_hide(hide)
    pose = load_pose(input, person)
    with frame_progress(f"drawing {output.name}", output) as on_frame:
        render_pose(pose, output, width=width, height=height, fps=fps, hide=hidden, **on_frame)
    console.print(f"{pose.num_frames} frames -> {output}", highlight=False, markup=False, soft_wrap=True)


@prepare_app.command("fingerspelling")
def prepare_fingerspelling(
    out: Annotated[Path, typer.Option("--out", help="Corpus directory to create.")],
    languages: Annotated[
        Optional[str], typer.Option("--languages", help="Signed languages to build, comma-separated (default: all 19).")
    ] = None,
    train_words: Annotated[int, typer.Option("--train-words", help="Words per language in train.")] = 32,
    dev_words: Annotated[int, typer.Option("--dev-words", help="Words per language in dev.")] = 8,
    test_words: Annotated[int, typer.Option("--test-words", help="Words per language in test.")] = 8,
    layout: Annotated[str, typer.Option("--layout", help="Skeleton layout of the corpus poses.")] = "holistic-178",
    seed: Annotated[int, typer.Option("--seed", help="Seed of word choice and timing.")] = 0,
) -> None:
    """Build FS-Words from the fingerspelling lexicon inside the spoken-to-signed package."""
    from text2sign.data.fingerspelling import FSWordsConfig, build_fs_words
    from text2sign.data.lexicon import read_fingerspelling_entries
    from text2sign.pose.layout import get_layout

    get_layout(layout)
    for name, value in (("--train-words", train_words), ("--dev-words", dev_words), ("--test-words", test_words)):
        if value < 0:
            raise Text2SignError(f"{name} must be >= 0")
    chosen = [s.strip() for s in languages.split(",") if s.strip()] if languages else None
    total = len(chosen) if chosen else len({e.signed_language for e in read_fingerspelling_entries()})
    cfg = FSWordsConfig(train_words=train_words, dev_words=dev_words, test_words=test_words, layout=layout, seed=seed)
    with progress_bar() as progress:
        task = progress.add_task("FS-Words", total=total)
        corpus = build_fs_words(out, cfg, chosen, on_language=lambda signed, n: progress.advance(task))
    print_corpus_summary(corpus.root, corpus.summary(), corpus.layout_name)


@prepare_app.command("phoenix")
def prepare_phoenix(
    src: Annotated[Path, typer.Argument(help="Directory with {split}.skels/.text/.gloss/.files (Progressive Transformers format).")],
    out: Annotated[Path, typer.Option("--out", help="Corpus directory to create.")],
    allow_outside: AllowOutsideOption = False,
) -> None:
    """Import PHOENIX-2014T data in the Progressive Transformers text format."""
    from text2sign.data.phoenix import import_phoenix

    with progress_bar() as progress:
        task = progress.add_task("PHOENIX", total=None)
        corpus = import_phoenix(src, out, on_item=lambda: progress.advance(task), allow_outside=allow_outside)
    print_corpus_summary(corpus.root, corpus.summary(), corpus.layout_name)


@export_app.command("phoenix")
def export_phoenix(
    corpus: Annotated[Path, typer.Argument(help="text2sign corpus directory (phoenix-50 layout).")],
    out: Annotated[Path, typer.Option("--out", help="Directory to write {split}.skels/.text/.gloss/.files into.")],
) -> None:
    """Write a corpus in the Progressive Transformers text format."""
    from text2sign.data.phoenix import export_phoenix as export

    counts = export(corpus, out)
    console.print(", ".join(f"{split}: {n}" for split, n in counts.items()) + f" sequences -> {out}", highlight=False)


def print_corpus_summary(root: Path, summary: dict, layout: Optional[str]) -> None:
    table = Table(title=f"corpus {root} ({layout or 'no items, no layout yet'})")
    table.add_column("split")
    table.add_column("items", justify="right")
    table.add_column("frames", justify="right")
    for split, n in summary["items"].items():
        table.add_row(split, str(n), str(summary["frames"][split]))
    console.print(table)
    console.print("languages: " + (", ".join(f"{k} ({v})" for k, v in summary["languages"].items()) or "none"), highlight=False)


MAX_JOBS = 64


def parse_int_list(text: str, flag: str) -> tuple[int, ...]:
    """Whole numbers separated by commas ("1,2,4"), or one line naming the flag and what is wrong."""
    items = [item.strip() for item in text.split(",")]
    bad = [item for item in items if not item.lstrip("-").isdigit()]
    if bad:
        shown = repr(bad[0]) if bad[0] else "an empty item"
        raise Text2SignError(f"{flag} takes whole numbers separated by commas (like 1,2,4); got {shown} in {text!r}")
    return tuple(int(item) for item in items)


def check_jobs(jobs: int) -> int:
    if not 1 <= jobs <= MAX_JOBS:
        raise Text2SignError(f"--jobs must be from 1 to {MAX_JOBS}, got {jobs}")
    return jobs


@contextlib.contextmanager
def extraction_progress(alone_is_the_error: bool = False):
    """Callbacks for :func:`text2sign.data.extract.extract_videos`: bars over videos and frames,
    and each failed video as a ``failed:`` line above them (the command ends in one ``error:``
    line). With `alone_is_the_error`, a run of one video lists nothing: its failure is the error."""
    with progress_bar() as progress:
        videos = progress.add_task("videos", total=None)
        frames = progress.add_task("frames", total=None)
        alone = False

        def on_plan(plan) -> None:
            nonlocal alone
            counts = [job.frames for job in plan.jobs]
            progress.update(videos, total=len(plan.jobs) + len(plan.failed))
            progress.update(frames, total=sum(counts) if all(counts) else None)
            alone = alone_is_the_error and len(plan.jobs) + len(plan.failed) + len(plan.skipped) == 1

        def on_result(result) -> None:
            progress.advance(videos)
            if not result.ok and not alone:
                err_console.print(f"failed: {result.error}", style="red", highlight=False, markup=False, soft_wrap=True)

        yield {"on_plan": on_plan, "on_frames": lambda n: progress.advance(frames, n), "on_result": on_result}


@app.command()
def extract(
    inputs: Annotated[
        list[Path], typer.Argument(metavar="VIDEO_OR_DIR...", help="Videos, or folders searched (with their subfolders) for videos.")
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder for one .pose per video (made if missing; subfolders mirror an input folder's).")
    ],
    reduce: Annotated[
        bool, typer.Option("--reduce", help="Write the 178-point holistic-178 layout instead of all 586 holistic points.")
    ] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Videos extracted at once, each in its own process.")] = 1,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Extract again videos whose .pose already exists (default: skip them).")] = False,
    allow_outside: AllowOutsideOption = False,
) -> None:
    """Extract MediaPipe Holistic poses from videos, one .pose per video (needs: pip install "text2sign\\[extract]").

    A finished output is skipped, so a stopped run resumes; a video that cannot be read is reported
    and the others go on (the exit code is then 1)."""
    from text2sign.data.extract import check_extract_available, check_extraction_output, extract_videos, find_videos

    check_jobs(jobs)
    check_extraction_output(output, inputs, "--output")
    pairs = [(video, output / relative.with_suffix(".pose")) for video, relative in find_videos(inputs, allow_outside)]
    # After the arguments: a mistyped path is worth knowing before installing an extra for it.
    check_extract_available()
    with extraction_progress(alone_is_the_error=True) as callbacks:
        report = extract_videos(pairs, reduce=reduce, jobs=jobs, overwrite=overwrite, **callbacks)
    if len(pairs) == 1 and report.failed:
        raise Text2SignError(report.failed[0].error)
    console.print(f"{report.summary()} -> {output}", highlight=False, markup=False, soft_wrap=True)
    if report.failed:
        raise Text2SignError(f"{len(report.failed)} of {len(pairs)} videos failed (listed above); the others are written")


@prepare_app.command("lexicon")
def prepare_lexicon(
    src: Annotated[Path, typer.Argument(help="Folder of isolated-sign clips: videos, .pose or .npz files.")],
    out: Annotated[Path, typer.Option("--out", help="Lexicon corpus directory to create (for generate --model concat --lexicon).")],
    index: Annotated[
        Optional[Path],
        typer.Option("--index", help="CSV with columns path,text and optionally gloss,spoken_language,signed_language,signer,split (default: SRC/index.csv)."),
    ] = None,
    spoken: Annotated[Optional[str], typer.Option("--spoken", help="Spoken language of rows without a spoken_language.")] = None,
    signed: Annotated[Optional[str], typer.Option("--signed", help="Signed language of rows without a signed_language.")] = None,
    layout: Annotated[str, typer.Option("--layout", help="Skeleton layout of the lexicon's poses.")] = "holistic-178",
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Videos extracted at once, each in its own process.")] = 1,
    extracted: Annotated[
        Optional[Path], typer.Option("--extracted", help="Folder for the poses extracted from videos, kept for later runs (default: OUT-extracted).")
    ] = None,
    allow_outside: AllowOutsideOption = False,
) -> None:
    """Build a lexicon of isolated signs from a dictionary of clips: rest frames trimmed, duplicates and conflicts reported."""
    from text2sign.data.dictionary import build_dictionary

    check_jobs(jobs)
    with extraction_progress() as callbacks:
        report = build_dictionary(src, index or src / "index.csv", out, spoken, signed, layout, jobs, extracted, **callbacks,
                                  allow_outside=allow_outside)
    print_warnings(report.notes)
    if report.extraction is not None:
        err_console.print(report.extraction.summary(), highlight=False, markup=False, soft_wrap=True)
    corpus = report.corpus
    print_corpus_summary(corpus.root, corpus.summary(), corpus.layout_name)
    console.print(f"{len(corpus)} signs, {report.trimmed_frames} rest frames trimmed", highlight=False)


@prepare_app.command("gan-nat-csv")
def prepare_gan_nat_csv(
    meta: Annotated[Path, typer.Argument(help="The GAN-NAT design's metadata CSV (feature_path, sentence_text or sentence, ...).")],
    out: Annotated[Path, typer.Option("--out", help="Corpus directory to create.")],
    stats: Annotated[
        Optional[Path],
        typer.Option("--stats", help="feature_mean/feature_std .npz: give it only if the .npy files hold standardised features, to undo that."),
    ] = None,
    face_map: Annotated[
        Optional[str],
        typer.Option("--face-map", help="The MediaPipe face-mesh index of each of the 94 face points: a file or a comma-separated list."),
    ] = None,
    root: Annotated[
        Optional[Path],
        typer.Option("--root", help="Folder the CSV's feature paths are relative to and must lie in (default: the CSV's folder)."),
    ] = None,
    fps: Annotated[float, typer.Option("--fps", help="Frame rate of the features (the files do not store it).")] = 25.0,
    spoken: Annotated[Optional[str], typer.Option("--spoken", help="Spoken language of rows without a spoken_language column.")] = None,
    signed: Annotated[Optional[str], typer.Option("--signed", help="Signed language of rows without a signed_language column.")] = None,
    allow_outside: Annotated[
        bool,
        typer.Option("--allow-outside-paths", help="Also read feature paths that are absolute or lead out of --root "
                     "(relative ones then fall back to the current folder, as the design's notebook reads them)."),
    ] = False,
) -> None:
    """Import the GAN-NAT design's data: (T, 540) .npy features listed in a metadata CSV."""
    from text2sign.data.gan_nat_csv import import_gan_nat_csv, parse_face_map

    mapping = parse_face_map(face_map) if face_map else None
    with progress_bar() as progress:
        task = progress.add_task("GAN-NAT", total=None)
        corpus = import_gan_nat_csv(meta, out, stats, mapping, root, fps, spoken, signed, on_item=lambda: progress.advance(task),
                                    allow_outside=allow_outside)
    print_corpus_summary(corpus.root, corpus.summary(), corpus.layout_name)


@prepare_app.command("latent-features")
def prepare_latent_features(
    data: Annotated[Path, typer.Argument(help="The latent-flow design's folder: {train,dev,test}/poses/ID.npz, {split}/nmms/ID.pkl, {split}.txt.")],
    out: Annotated[Path, typer.Option("--out", help="Corpus directory to create.")],
    spoken: Annotated[str, typer.Option("--spoken", help="Spoken language of the texts.")],
    signed: Annotated[str, typer.Option("--signed", help="Signed language of the poses.")],
    trust_pickles: Annotated[
        bool,
        typer.Option("--trust-pickles", help="Read the nmms/*.pkl pickles. Unpickling runs any code a file names: use only for files you made or trust."),
    ] = False,
    fps: Annotated[float, typer.Option("--fps", help="Frame rate of the features (the files do not store it).")] = 25.0,
    trim_to_shorter: Annotated[
        bool, typer.Option("--trim-to-shorter", help="Cut a pose and its NMMs to the shorter of the two, as the design's loader does, instead of failing.")
    ] = False,
    allow_outside: AllowOutsideOption = False,
) -> None:
    """Import the latent-flow design's data into the 214-value layout latent-flow-214 (manual and non-manual kept apart)."""
    from text2sign.data.corpus import check_corpus_output
    from text2sign.data.latent_features import count_samples, import_latent_features

    check_corpus_output(out, [data])  # before counting: a refused output must not wait on the data
    with progress_bar() as progress:
        task = progress.add_task("latent features", total=count_samples(data) if data.is_dir() else None)
        corpus = import_latent_features(data, out, spoken, signed, trust_pickles, fps, trim_to_shorter, on_item=lambda: progress.advance(task),
                                        allow_outside=allow_outside)
    if corpus.stats["items_without_text"]:
        missing = corpus.stats["items_without_text"]
        print_warnings([f"no text for {missing} of {len(corpus)} items (no line for them in {{split}}.txt): text-to-pose training needs one"])
    print_corpus_summary(corpus.root, corpus.summary(), corpus.layout_name)


@prepare_app.command("openpose")
def prepare_openpose(
    src: Annotated[Path, typer.Argument(help="Folder with one folder of *_keypoints.json frames per clip (OpenPose's output, e.g. How2Sign).")],
    index: Annotated[
        Path, typer.Option("--index", help="CSV with columns name,text and optionally split,gloss,spoken_language,signed_language,signer.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Corpus directory to create.")],
    fps: Annotated[float, typer.Option("--fps", help="Frame rate of the clips (OpenPose's JSON does not store it).")] = 25.0,
    spoken: Annotated[
        Optional[str], typer.Option("--spoken", help="Spoken language of rows without a spoken_language (every clip needs both languages).")
    ] = None,
    signed: Annotated[
        Optional[str], typer.Option("--signed", help="Signed language of rows without a signed_language (every clip needs both languages).")
    ] = None,
    allow_outside: AllowOutsideOption = False,
) -> None:
    """Import OpenPose JSON keypoints (BODY_25 + face 70 + hands) as .pose files in the openpose-137 layout."""
    from text2sign.data.openpose import import_openpose

    with progress_bar() as progress:
        task = progress.add_task("OpenPose", total=None)
        corpus = import_openpose(src, index, out, fps, spoken, signed, on_item=lambda: progress.advance(task), allow_outside=allow_outside)
    print_corpus_summary(corpus.root, corpus.summary(), corpus.layout_name)


@prepare_app.command("video")
def prepare_video(
    out: Annotated[Path, typer.Option("--out", help="Video corpus directory to create.")],
    source: Annotated[Path, typer.Option("--from", help="Pose corpus to draw (e.g. FS-Words from `prepare fingerspelling`).")] = Path("data/fs-words"),
    size: Annotated[
        int, typer.Option("--size", help="Width and height of the frames, pixels (default: what the shipped video models read).")
    ] = SHIPPED_VIDEO_SIZE,
    fps: Annotated[float, typer.Option("--fps", help="Frame rate of the drawn clips.")] = 12.5,
) -> None:
    """Draw every item of a pose corpus with text2sign's renderer into a video corpus (what video models train on)."""
    from text2sign.data.corpus import Corpus
    from text2sign.data.video_corpus import render_pose_corpus
    from text2sign.video.clip import check_output_fps, check_output_side

    check_output_side(size, "--size")
    check_output_fps(fps, "--fps")
    corpus = Corpus.load(source)
    with progress_bar() as progress:
        task = progress.add_task("drawing clips", total=len(corpus))
        videos = render_pose_corpus(corpus, out, size, fps, on_item=lambda: progress.advance(task))
    print_video_corpus_summary(videos)


@prepare_app.command("video-folder")
def prepare_video_folder(
    src: Annotated[Path, typer.Argument(help="Folder of NAME.gif / NAME.mp4 clips, each with NAME.txt holding its text (train/ dev/ test/ subfolders name splits).")],
    out: Annotated[Path, typer.Option("--out", help="Video corpus directory to create.")],
    frames: Annotated[Optional[int], typer.Option("--frames", help="Sample (longer clips) or pad (shorter ones) every clip to N frames.")] = None,
    resize: Annotated[Optional[int], typer.Option("--resize", help="Scale so the shorter side has N pixels (before cropping).")] = None,
    crop: Annotated[Optional[int], typer.Option("--crop", help="Keep the centre N x N pixels.")] = None,
    fps: Annotated[Optional[float], typer.Option("--fps", help="Resample clips to this frame rate (default: each file's own).")] = None,
    spoken: Annotated[str, typer.Option("--spoken", help="Spoken language of the texts.")] = "en",
    signed: Annotated[str, typer.Option("--signed", help="Signed language of the clips.")] = "ase",
    dev_fraction: Annotated[float, typer.Option("--dev-fraction", help="Share of clips outside split folders put in dev (by a hash of the name).")] = 0.05,
    test_fraction: Annotated[float, typer.Option("--test-fraction", help="Share of such clips put in test.")] = 0.05,
    allow_outside: AllowOutsideOption = False,
) -> None:
    """Import the video designs' folder layout (GIF or MP4 + .txt); clips are decoded once and cached memory-mappable."""
    from text2sign.data.video_corpus import FolderOptions, check_video_corpus_output, folder_clips, import_video_folder
    from text2sign.video.clip import check_output_fps, check_output_side

    for name, value in (("--frames", frames), ("--resize", resize), ("--crop", crop)):
        if value is not None:
            check_output_side(value, name)
    if fps is not None:
        check_output_fps(fps, "--fps")
    if not (0 <= dev_fraction and 0 <= test_fraction and dev_fraction + test_fraction < 1):
        raise Text2SignError("--dev-fraction and --test-fraction must be >= 0 and add up to less than 1")
    options = FolderOptions(frames, resize, crop, fps, spoken, signed, dev_fraction, test_fraction)
    check_video_corpus_output(out, [src])  # before counting: a refused output must not wait on the data
    with progress_bar() as progress:
        task = progress.add_task("decoding clips", total=len(folder_clips(src, allow_outside)) if src.is_dir() else None)
        videos, skipped = import_video_folder(src, out, options, on_item=lambda: progress.advance(task), allow_outside=allow_outside)
    print_warnings(skipped)
    print_video_corpus_summary(videos)


def print_video_corpus_summary(videos) -> None:
    stats = videos.stats
    print_corpus_summary(videos.root, stats, f"video, {videos.width} x {videos.height} px")


@app.command()
def info(
    path: Annotated[Path, typer.Argument(help="A .pose/.npz file, a pose or video corpus, a checkpoint or a training run directory.")],
    person: Annotated[Optional[int], typer.Option("--person", help="Which person of a .pose file with several (0, 1, ...).")] = None,
    full: Annotated[bool, typer.Option("--full", help="A checkpoint: print long lists (a vocabulary) whole.")] = False,
) -> None:
    """Describe a pose file (layout, frames, fps), a corpus (splits, languages), a checkpoint
    (family, config, parameters, metrics) or a run (its checkpoints)."""
    if not path.exists():
        raise Text2SignError(f"no pose file, corpus, checkpoint or run directory at {path}: not found")
    if path.is_dir():
        from text2sign.checkpoints import CHECKPOINTS_DIR, CONFIG_NAME
        from text2sign.data.video_corpus import FRAMES, VideoCorpus

        if (path / CONFIG_NAME).is_file():
            print_checkpoint(path, full)
        elif (path / CHECKPOINTS_DIR).is_dir():
            print_run(path)
        elif (path / FRAMES).is_file():
            print_video_corpus_summary(VideoCorpus.load(path))
        else:
            from text2sign.data.corpus import Corpus

            corpus = Corpus.load(path)
            print_corpus_summary(corpus.root, corpus.summary(), corpus.layout_name)
        return
    from text2sign.pose.io import load_pose

    pose = load_pose(path, person)
    table = Table(title=f"{path}: {pose.layout.name}, {pose.num_frames} frames at {pose.fps:g} fps ({pose.duration:.2f} s)")
    table.add_column("component")
    table.add_column("kind")
    table.add_column("points", justify="right")
    table.add_column("observed", justify="right")
    for comp in pose.layout.components:
        observed = pose.mask[:, pose.layout.component_slice(comp.name)]
        table.add_row(comp.name, comp.kind, str(len(comp.points)), f"{observed.mean():.0%}" if observed.size else "-")
    console.print(table)


def print_checkpoint(path: Path, full: bool = False) -> None:
    import yaml

    from text2sign.checkpoints import directory_size, parameter_count, read_meta
    from text2sign.config import abridge_lists

    meta = read_meta(path)
    step = f", step {meta.step}" if meta.step is not None else ""
    console.print(
        f"checkpoint {path}: family {meta.family}{step}, {parameter_count(path):,} parameters, "
        f"{directory_size(path) / 2**20:.1f} MB (format version {meta.version})",
        highlight=False, markup=False,
    )
    sections = {"model": meta.model, "inference": meta.inference, "metrics": meta.metrics}
    if meta.metadata:
        sections["metadata"] = meta.metadata
    shown = sections if full else abridge_lists(sections)
    console.print(yaml.safe_dump(shown, sort_keys=False, allow_unicode=True, width=120).rstrip(), highlight=False, markup=False)


def print_run(path: Path) -> None:
    from text2sign.checkpoints import best_dir, list_checkpoints, read_meta

    table = Table(title=f"run {path}")
    table.add_column("checkpoint")
    table.add_column("step", justify="right")
    table.add_column("metrics")
    found = [p for _, p in list_checkpoints(path)]
    if (best_dir(path) / "config.json").is_file():
        found.append(best_dir(path))
    for p in found:
        meta = read_meta(p)
        metrics = ", ".join(f"{k} {v:.4g}" for k, v in meta.metrics.items() if isinstance(v, (int, float)))
        table.add_row(p.name, str(meta.step if meta.step is not None else "-"), metrics or "-")
    console.print(table)
    if not found:
        console.print("no complete checkpoints yet", highlight=False)


@app.command()
def languages(
    model: Annotated[str, typer.Option("--model", help=f"Model: {', '.join(MODELS)}.")] = "default",
    lexicon: Annotated[Optional[Path], typer.Option("--lexicon", help="Corpus of isolated signs.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the spoken -> signed language pairs a model supports."""
    from text2sign.data.lexicon import borrowed_alphabets

    pipeline = build_pipeline(model, lexicon)
    pairs = pipeline.language_pairs()
    borrowed = borrowed_alphabets()
    if as_json:
        console.print_json(json.dumps([{"spoken": sp, "signed": si, "borrows": borrowed.get(si)} for sp, si in pairs]))
        return
    table = Table(title=f"{model}: {len(pairs)} language pairs")
    table.add_column("spoken")
    table.add_column("signed")
    table.add_column("note")
    for sp, si in pairs:
        table.add_row(sp, si, f"fingerspelling borrowed from {borrowed[si]}" if si in borrowed else "")
    console.print(table)


@app.command()
def bench(
    model: Annotated[str, typer.Option("--model", help=f"Model: {', '.join(MODELS)}.")] = "default",
    threads: Annotated[int, typer.Option("--threads", help="CPU threads (torch and BLAS).")] = 1,
    device: Annotated[str, typer.Option("--device", help="cpu or cuda.")] = "cpu",
    text: Annotated[
        Optional[list[str]], typer.Option("--text", help="A phrase to time (repeatable; default: five English words).")
    ] = None,
    spoken: Annotated[str, typer.Option("--spoken", help="Spoken language of --text phrases.")] = "en",
    signed: Annotated[str, typer.Option("--signed", help="Signed language of --text phrases.")] = "ase",
    corpus: Annotated[
        Optional[Path], typer.Option("--corpus", help="Take the phrases from this corpus instead (with their languages).")
    ] = None,
    split: Annotated[str, typer.Option("--split", help="Corpus split for --corpus.")] = "test",
    limit: Annotated[int, typer.Option("--limit", help="At most this many corpus phrases.")] = 50,
    repeats: Annotated[int, typer.Option("--repeats", help="Timed calls per phrase.")] = 20,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Phrases per call in the throughput run.")] = 16,
    lexicon: Annotated[Optional[Path], typer.Option("--lexicon", help="Corpus of isolated signs (concat only).")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Sampling seed of a stochastic model (default: the model's own).")] = None,
    steps: StepsOption = None,
    guidance_scale: GuidanceOption = None,
    eta: EtaOption = None,
    lambda_prior: PriorOption = None,
    sync_guidance: SyncOption = None,
) -> None:
    """Time a model: warm per-phrase latency, throughput, real-time factor and peak memory, as one JSON object."""
    import os

    for flag, value, most in (("--threads", threads, 256), ("--limit", limit, 100_000), ("--repeats", repeats, 10_000),
                              ("--batch-size", batch_size, 4096)):
        if not 1 <= value <= most:
            raise Text2SignError(f"{flag} must be from 1 to {most}, got {value}")
    # BLAS pools are sized when numpy first loads; set them before anything imports it.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    from text2sign.evaluation.bench import DEFAULT_PHRASES, Phrase, bench_pipeline

    if corpus is not None:
        from text2sign.data.corpus import Corpus

        items = Corpus.load(corpus).split(split)[:limit]
        phrases = [Phrase(i.text, i.spoken_language, i.signed_language) for i in items]
    else:
        phrases = [Phrase(t, spoken, signed) for t in (text or DEFAULT_PHRASES)]
    pipeline = build_pipeline(model, lexicon)
    with progress_bar() as progress:
        task = progress.add_task(f"timing {model}", total=repeats * len(phrases))
        report = bench_pipeline(
            pipeline, phrases, threads=threads, device=device, repeats=repeats, batch_size=batch_size,
            on_progress=lambda done, total: progress.update(task, completed=done), seed=seed,
            options=sampling_options(steps, guidance_scale, eta, lambda_prior, sync_guidance),
        )
    from text2sign.pipelines import model_family, resolve_model_name

    report.pop("model")
    print(json.dumps({"model": resolve_model_name(model), "family": model_family(model), **report}))


@app.command()
def evaluate(
    corpus: Annotated[Path, typer.Option("--corpus", help="Corpus directory with the split to score.")],
    out: Annotated[Path, typer.Option("--out", help="JSON report to write; a Markdown row goes next to it (.md).")],
    model: Annotated[
        str, typer.Option("--model", help=f"Model: {', '.join(MODELS)}, or 'reference' to score the references (the ceiling).")
    ] = "default",
    split: Annotated[str, typer.Option("--split", help="Corpus split to score.")] = "test",
    recognizer: Annotated[
        Optional[Path], typer.Option("--recognizer", help="Back-translation recognizer directory (default: the shipped FS-Words one).")
    ] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", help="Score only the first N items.")] = None,
    gifs: Annotated[int, typer.Option("--gifs", help="Side-by-side GIFs (generated | reference) to render.")] = 4,
    lexicon: Annotated[Optional[Path], typer.Option("--lexicon", help="Corpus of isolated signs (concat only).")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Sampling seed of a stochastic model (default: the model's own).")] = None,
    save_predictions: Annotated[
        Optional[Path], typer.Option("--save-predictions", help="Keep every generated item here (.pose or .mp4) with predictions.csv.")
    ] = None,
    steps: StepsOption = None,
    guidance_scale: GuidanceOption = None,
    eta: EtaOption = None,
    lambda_prior: PriorOption = None,
    sync_guidance: SyncOption = None,
) -> None:
    """Generate every item of a corpus split with a model and score it: pose, back-translation and distribution metrics."""
    from text2sign.evaluation.harness import evaluate as run_evaluation
    from text2sign.evaluation.harness import evaluation_inputs, markdown_header, markdown_row, write_report
    from text2sign.fileio import check_output_path
    from text2sign.outputs import check_apart

    check_apart(out, evaluation_inputs(model, corpus, recognizer, lexicon))
    # A report path names where results go; its folders are made (README: --out out/eval/concat.json).
    out.parent.mkdir(parents=True, exist_ok=True)
    check_output_path(out)
    gif_dir = out.parent / f"{out.stem}-gifs" if gifs > 0 else None
    with progress_bar() as progress:
        task = progress.add_task(f"evaluating {model}", total=None)
        report = run_evaluation(
            model, corpus, split, recognizer_dir=recognizer, limit=limit, gif_dir=gif_dir, num_gifs=gifs, lexicon=lexicon,
            seed=seed, predictions_dir=save_predictions, options=sampling_options(steps, guidance_scale, eta, lambda_prior, sync_guidance),
            on_item=lambda done, total: progress.update(task, completed=done, total=total),
        )
    json_path, markdown_path = write_report(report, out)
    console.print(markdown_header(report["output"]), highlight=False, markup=False, soft_wrap=True)
    console.print(markdown_row(report), highlight=False, markup=False, soft_wrap=True)
    where = f"{json_path}, {markdown_path}" + (f", GIFs in {gif_dir}" if gif_dir else "")
    err_console.print(f"report: {where}", highlight=False)


@app.command("train")
def train_command(
    config: Annotated[
        Optional[Path], typer.Argument(metavar="CONFIG", help="Experiment YAML (see configs/README.md); optional with --resume.")
    ] = None,
    overrides: Annotated[
        Optional[list[str]],
        typer.Option("--set", metavar="KEY=VALUE", help="Override a config value, e.g. --set model.d_model=192 (repeatable; the value is YAML)."),
    ] = None,
    resume: Annotated[
        Optional[Path], typer.Option("--resume", metavar="DIR", help="Continue from this checkpoint, or from the latest one of this run directory.")
    ] = None,
    nproc: Annotated[
        int, typer.Option("--nproc", min=1, metavar="N", help="Processes on this machine; >1 runs torchrun with DDP (NCCL on GPUs, gloo on CPU).")
    ] = 1,
    out: Annotated[
        Optional[Path],
        typer.Option("--out", metavar="DIR", help="Run directory for TensorBoard logs, samples, checkpoints (default: the resumed run's, else runs/<name>)."),
    ] = None,
    device: Annotated[
        Optional[str], typer.Option("--device", help="cpu, cuda or mps (default: train.device, 'auto' = CUDA when present).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Build everything, run one step on one batch, print parameters, memory and time per step; write nothing.")
    ] = False,
) -> None:
    """Train a model from an experiment YAML; Ctrl-C saves a checkpoint and stops (exit code 130).

    Its `family:` is a registered family: built in, a 'text2sign.families' entry point, or from a TEXT2SIGN_PLUGINS module."""
    from text2sign.train import EXIT_INTERRUPTED, prepare, torchrun_command, with_device
    from text2sign.train import dry_run as run_dry

    overrides = with_device(list(overrides or []), device)
    experiment, run_dir, checkpoint = prepare(config, overrides, resume, out)
    if dry_run:
        for line in run_dry(experiment, run_dir):
            console.print(line, highlight=False, markup=False)
        return
    if nproc > 1:
        import subprocess

        argv = [str(config)] if config else []
        argv += [arg for item in overrides for arg in ("--set", item)]
        argv += ["--resume", str(checkpoint)] if checkpoint else []
        argv += ["--out", str(run_dir)]
        proc = subprocess.Popen(torchrun_command(nproc, argv))
        interrupted = False
        while True:
            try:
                code = proc.wait()
                break
            except KeyboardInterrupt:
                # torchrun got the same Ctrl-C; wait while its workers save a checkpoint.
                interrupted = True
        raise typer.Exit(EXIT_INTERRUPTED if interrupted else code)
    from text2sign.training import train

    result = train(experiment, run_dir, resume=checkpoint)
    if result.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)


@app.command("train-recognizer")
def train_recognizer_command(
    corpus: Annotated[Path, typer.Argument(help="Corpus directory; trains on train, picks the epoch by dev CER.")],
    out: Annotated[Path, typer.Option("--out", help="Checkpoint directory to write (replaced atomically if it is one).")],
    epochs: Annotated[Optional[int], typer.Option("--epochs", min=1, help="Passes over the train split (default: 50).")] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", min=1, help="Items per step (default: 16).")] = None,
    lr: Annotated[Optional[float], typer.Option("--lr", help="Peak learning rate of the warmup + cosine schedule (default: 2e-3).")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed of initialization, batching and augmentation (default: 0).")] = None,
    hidden: Annotated[Optional[int], typer.Option("--hidden", min=1, help="Channels of the temporal encoder (default: 128).")] = None,
    downsample: Annotated[Optional[int], typer.Option("--downsample", min=1, help="Frames per encoder step (default: 2).")] = None,
    dilations: Annotated[
        Optional[str], typer.Option("--dilations", help="Dilation of each residual conv block, comma-separated (default: 1,2,4,1,2,4).")
    ] = None,
    kinds: Annotated[
        Optional[str], typer.Option("--kinds", help="Component kinds read, comma-separated (default: body,left_hand,right_hand).")
    ] = None,
    no_augment: Annotated[bool, typer.Option("--no-augment", help="Train without speed/noise/rotation/scale augmentation.")] = False,
    threads: Annotated[Optional[int], typer.Option("--threads", min=1, help="CPU threads for torch (default: 2).")] = None,
) -> None:
    """Train the back-translation recognizer (pose -> text, CTC over characters) and print its dev/test scores."""
    from text2sign.training.recognizer import RecognizerTrainConfig, train_recognizer

    options = {
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "hidden": hidden,
        "downsample": downsample,
        "num_threads": threads,
        "dilations": parse_int_list(dilations, "--dilations") if dilations else None,
        "kinds": tuple(k.strip() for k in kinds.split(",") if k.strip()) if kinds else None,
    }
    cfg = RecognizerTrainConfig(augment=not no_augment, **{k: v for k, v in options.items() if v is not None})
    with progress_bar() as progress:
        task = progress.add_task("training recognizer", total=None)

        def on_progress(step: int, total: int, info: dict) -> None:
            dev = "" if info["dev_cer"] != info["dev_cer"] else f" best dev CER {info['dev_cer']:.1f}%"
            progress.update(task, completed=step, total=total, description=f"epoch {info['epoch']} loss {info['loss']:.3f}{dev}")

        metrics = train_recognizer(corpus, out, cfg, on_progress)
    print_recognizer_scores(f"recognizer {out}", metrics["scores"])
    console.print(
        f"best epoch {metrics['best_epoch']} of {metrics['epochs']} ({metrics['steps']} steps, {metrics['parameters']:,} parameters, "
        f"{metrics['train_seconds']:.0f} s) -> {out}",
        highlight=False,
    )


def print_recognizer_scores(title: str, scores: dict) -> None:
    table = Table(title=title)
    for column in ("references", "CER %", "WER %", "items"):
        table.add_column(column, justify="left" if column == "references" else "right")
    for name, score in scores.items():
        table.add_row(name, f"{score['cer']:.2f}", f"{score['wer']:.2f}", str(score["n"]))
    console.print(table)


@app.command()
def recognize(
    input: Annotated[
        Path, typer.Argument(help="A .pose/.npz file or a .gif/.mp4 video, or a pose or video corpus directory to score a split of.")
    ],
    model: Annotated[
        Optional[Path],
        typer.Option("--model", help="Recognizer checkpoint directory (default: the shipped FS-Words one for poses, or for video)."),
    ] = None,
    signed: Annotated[str, typer.Option("--signed", help="Signed language of the pose or video file.")] = "ase",
    split: Annotated[str, typer.Option("--split", help="Corpus split to score (corpus input only).")] = "test",
    corrupt: Annotated[
        Optional[str],
        typer.Option("--corrupt", help="Score corrupted references instead: time-shuffle or letter-swap (corpus input only)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of --corrupt.")] = 0,
    person: Annotated[Optional[int], typer.Option("--person", help="Which person of a .pose file with several (0, 1, ...).")] = None,
) -> None:
    """Print the text a recognizer reads from a pose or video file, or its CER/WER on a corpus split."""
    from text2sign.data.video_corpus import FRAMES
    from text2sign.video import VIDEO_SUFFIXES

    if not input.exists():
        raise Text2SignError(f"not found: {input}")
    video = (input / FRAMES).is_file() if input.is_dir() else input.suffix.lower() in VIDEO_SUFFIXES
    if video:
        from text2sign.evaluation.video_recognizer import VideoRecognizer

        recognizer = VideoRecognizer.from_pretrained(model)
        shipped = "fs-words-video (shipped)"
    else:
        from text2sign.evaluation.recognizer import Recognizer

        recognizer = Recognizer.from_pretrained(model)
        shipped = "fs-words (shipped)"
    if input.is_dir():
        scores = recognizer.evaluate_split(input, split, corruption=corrupt, seed=seed)
        name = f"{split} ({corrupt})" if corrupt else split
        kind = "video recognizer" if video else "recognizer"
        print_recognizer_scores(f"{kind} {model or shipped} on {input}", {name: scores})
        return
    if corrupt:
        raise Text2SignError("--corrupt needs a corpus directory (it corrupts a split's references)")
    if video:
        from text2sign.video import load_video

        if person is not None:
            raise Text2SignError("--person picks a person of a .pose file; a video has no such choice")
        (text,) = recognizer.recognize([load_video(input)], [signed])
    else:
        from text2sign.pose.io import load_pose

        (text,) = recognizer.recognize([load_pose(input, person)], [signed])
    console.print(text, highlight=False, markup=False)


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on (127.0.0.1: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port (0: any free one).")] = 8000,
    model: Annotated[str, typer.Option("--model", help=f"Default model: {', '.join(MODELS)}.")] = "default",
    lexicon: Annotated[Optional[Path], typer.Option("--lexicon", help="concat: corpus of isolated signs.")] = None,
    workers: Annotated[int, typer.Option("--workers", help="Model calls for pose and JSON answers run at once (threads of one process).")] = 2,
    draw_workers: Annotated[
        int, typer.Option("--draw-workers", help="GIF and MP4 answers drawn at once, in threads of their own at a lower priority.")
    ] = 2,
    queue: Annotated[int, typer.Option("--queue", help="Requests that may wait for a worker; past that: 503.")] = 32,
    cache_size: Annotated[int, typer.Option("--cache-size", help="Answers kept for repeated requests (0: none).")] = 128,
) -> None:
    """Serve the HTTP API and the web page (needs: pip install "text2sign\\[serve]")."""
    from text2sign.server import ServerSettings, serve as run_server

    settings = ServerSettings(model=model, lexicon=lexicon, workers=workers, queue=queue, cache_size=cache_size, draw_workers=draw_workers)
    run_server(settings, host, port)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors become one line on stderr and exit code 1 (2 for bad usage)."""
    try:
        app(args=argv, prog_name="text2sign")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Text2SignError as exc:
        err_console.print(f"error: {exc}", style="red", highlight=False, markup=False, soft_wrap=True)
        return 1
    except OSError as exc:
        # A disk that fills up or a path that vanishes mid-run: the atomic writers left nothing behind.
        where = f"{exc.filename}: " if exc.filename else ""
        err_console.print(f"error: {where}{exc.strerror or exc}", style="red", highlight=False, markup=False, soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        err_console.print("interrupted", style="red")
        return 130
    return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main() -> None:
    import signal

    # `kill` (SIGTERM) stops like Ctrl-C: temporaries are removed, training saves a checkpoint.
    signal.signal(signal.SIGTERM, _interrupt)
    sys.exit(run())
