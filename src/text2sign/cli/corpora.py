"""Commands that build and export corpora: prepare fingerspelling / phoenix / lexicon / gan-nat-csv /
latent-features / openpose / video / video-folder, and export phoenix."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from text2sign.cli.common import (
    AllowOutsideOption,
    console,
    err_console,
    export_app,
    output_option,
    prepare_app,
    print_corpus_summary,
    print_video_corpus_summary,
    print_warnings,
    progress_bar,
)
from text2sign.cli.extracting import check_jobs, extraction_progress
from text2sign.errors import Text2SignError
from text2sign.families.registry import SHIPPED_VIDEO_SIZE


@prepare_app.command("fingerspelling")
def prepare_fingerspelling(
    out: Annotated[Path, output_option(help="Corpus directory to create.")],
    languages: Annotated[
        str | None, typer.Option("--languages", help="Signed languages to build, comma-separated (default: all 19).")
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
    src: Annotated[
        Path, typer.Argument(help="Directory with {split}.skels/.text/.gloss/.files (Progressive Transformers format).")
    ],
    out: Annotated[Path, output_option(help="Corpus directory to create.")],
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
    out: Annotated[Path, output_option(help="Directory to write {split}.skels/.text/.gloss/.files into.")],
) -> None:
    """Write a corpus in the Progressive Transformers text format."""
    from text2sign.data.phoenix import export_phoenix as export

    counts = export(corpus, out)
    console.print(", ".join(f"{split}: {n}" for split, n in counts.items()) + f" sequences -> {out}", highlight=False)


@prepare_app.command("lexicon")
def prepare_lexicon(
    src: Annotated[Path, typer.Argument(help="Folder of isolated-sign clips: videos, .pose or .npz files.")],
    out: Annotated[
        Path, output_option(help="Lexicon corpus directory to create (for generate --model concat --lexicon).")
    ],
    index: Annotated[
        Path | None,
        typer.Option(
            "--index",
            help="CSV with columns path,text and optionally gloss,spoken_language,signed_language,signer,split "
            "(default: SRC/index.csv).",
        ),
    ] = None,
    spoken: Annotated[
        str | None, typer.Option("--spoken", help="Spoken language of rows without a spoken_language.")
    ] = None,
    signed: Annotated[
        str | None, typer.Option("--signed", help="Signed language of rows without a signed_language.")
    ] = None,
    layout: Annotated[str, typer.Option("--layout", help="Skeleton layout of the lexicon's poses.")] = "holistic-178",
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Videos extracted at once, each in its own process.")] = 1,
    extracted: Annotated[
        Path | None,
        typer.Option(
            "--extracted",
            help="Folder for the poses extracted from videos, kept for later runs (default: OUT-extracted).",
        ),
    ] = None,
    allow_outside: AllowOutsideOption = False,
) -> None:
    """Build a lexicon of isolated signs from a dictionary of clips: rest frames trimmed, duplicates and \
conflicts reported."""
    from text2sign.data.dictionary import build_dictionary

    check_jobs(jobs)
    with extraction_progress() as callbacks:
        report = build_dictionary(
            src,
            index or src / "index.csv",
            out,
            spoken,
            signed,
            layout,
            jobs,
            extracted,
            **callbacks,
            allow_outside=allow_outside,
        )
    print_warnings(report.notes)
    if report.extraction is not None:
        err_console.print(report.extraction.summary(), highlight=False, markup=False, soft_wrap=True)
    corpus = report.corpus
    print_corpus_summary(corpus.root, corpus.summary(), corpus.layout_name)
    console.print(f"{len(corpus)} signs, {report.trimmed_frames} rest frames trimmed", highlight=False)


@prepare_app.command("gan-nat-csv")
def prepare_gan_nat_csv(
    meta: Annotated[
        Path, typer.Argument(help="The GAN-NAT design's metadata CSV (feature_path, sentence_text or sentence, ...).")
    ],
    out: Annotated[Path, output_option(help="Corpus directory to create.")],
    stats: Annotated[
        Path | None,
        typer.Option(
            "--stats",
            help="feature_mean/feature_std .npz: give it only if the .npy files hold standardised features, to "
            "undo that.",
        ),
    ] = None,
    face_map: Annotated[
        str | None,
        typer.Option(
            "--face-map",
            help="The MediaPipe face-mesh index of each of the 94 face points: a file or a comma-separated list.",
        ),
    ] = None,
    root: Annotated[
        Path | None,
        typer.Option(
            "--root", help="Folder the CSV's feature paths are relative to and must lie in (default: the CSV's folder)."
        ),
    ] = None,
    fps: Annotated[float, typer.Option("--fps", help="Frame rate of the features (the files do not store it).")] = 25.0,
    spoken: Annotated[
        str | None, typer.Option("--spoken", help="Spoken language of rows without a spoken_language column.")
    ] = None,
    signed: Annotated[
        str | None, typer.Option("--signed", help="Signed language of rows without a signed_language column.")
    ] = None,
    allow_outside: Annotated[
        bool,
        typer.Option(
            "--allow-outside-paths",
            help="Also read feature paths that are absolute or lead out of --root "
            "(relative ones then fall back to the current folder, as the design's notebook reads them).",
        ),
    ] = False,
) -> None:
    """Import the GAN-NAT design's data: (T, 540) .npy features listed in a metadata CSV."""
    from text2sign.data.gan_nat_csv import import_gan_nat_csv, parse_face_map

    mapping = parse_face_map(face_map) if face_map else None
    with progress_bar() as progress:
        task = progress.add_task("GAN-NAT", total=None)
        corpus = import_gan_nat_csv(
            meta,
            out,
            stats,
            mapping,
            root,
            fps,
            spoken,
            signed,
            on_item=lambda: progress.advance(task),
            allow_outside=allow_outside,
        )
    print_corpus_summary(corpus.root, corpus.summary(), corpus.layout_name)


@prepare_app.command("latent-features")
def prepare_latent_features(
    data: Annotated[
        Path,
        typer.Argument(
            help="The latent-flow design's folder: {train,dev,test}/poses/ID.npz, {split}/nmms/ID.pkl, {split}.txt."
        ),
    ],
    out: Annotated[Path, output_option(help="Corpus directory to create.")],
    spoken: Annotated[str, typer.Option("--spoken", help="Spoken language of the texts.")],
    signed: Annotated[str, typer.Option("--signed", help="Signed language of the poses.")],
    trust_pickles: Annotated[
        bool,
        typer.Option(
            "--trust-pickles",
            help="Read the nmms/*.pkl pickles. Unpickling runs any code a file names: use only for files you made "
            "or trust.",
        ),
    ] = False,
    fps: Annotated[float, typer.Option("--fps", help="Frame rate of the features (the files do not store it).")] = 25.0,
    trim_to_shorter: Annotated[
        bool,
        typer.Option(
            "--trim-to-shorter",
            help="Cut a pose and its NMMs to the shorter of the two, as the design's loader does, instead of failing.",
        ),
    ] = False,
    allow_outside: AllowOutsideOption = False,
) -> None:
    """Import the latent-flow design's data into the 214-value layout latent-flow-214 (manual and non-manual \
kept apart)."""
    from text2sign.data.corpus import check_corpus_output
    from text2sign.data.latent_features import count_samples, import_latent_features

    check_corpus_output(out, [data])  # before counting: a refused output must not wait on the data
    with progress_bar() as progress:
        task = progress.add_task("latent features", total=count_samples(data) if data.is_dir() else None)
        corpus = import_latent_features(
            data,
            out,
            spoken,
            signed,
            trust_pickles,
            fps,
            trim_to_shorter,
            on_item=lambda: progress.advance(task),
            allow_outside=allow_outside,
        )
    if corpus.stats["items_without_text"]:
        missing = corpus.stats["items_without_text"]
        print_warnings(
            [
                (
                    f"no text for {missing} of {len(corpus)} items (no line for them in {{split}}.txt): "
                    "text-to-pose training needs one"
                )
            ]
        )
    print_corpus_summary(corpus.root, corpus.summary(), corpus.layout_name)


@prepare_app.command("openpose")
def prepare_openpose(
    src: Annotated[
        Path,
        typer.Argument(
            help="Folder with one folder of *_keypoints.json frames per clip (OpenPose's output, e.g. How2Sign)."
        ),
    ],
    index: Annotated[
        Path,
        typer.Option(
            "--index",
            help="CSV with columns name,text and optionally split,gloss,spoken_language,signed_language,signer.",
        ),
    ],
    out: Annotated[Path, output_option(help="Corpus directory to create.")],
    fps: Annotated[
        float, typer.Option("--fps", help="Frame rate of the clips (OpenPose's JSON does not store it).")
    ] = 25.0,
    spoken: Annotated[
        str | None,
        typer.Option(
            "--spoken", help="Spoken language of rows without a spoken_language (every clip needs both languages)."
        ),
    ] = None,
    signed: Annotated[
        str | None,
        typer.Option(
            "--signed", help="Signed language of rows without a signed_language (every clip needs both languages)."
        ),
    ] = None,
    allow_outside: AllowOutsideOption = False,
) -> None:
    """Import OpenPose JSON keypoints (BODY_25 + face 70 + hands) as .pose files in the openpose-137 layout."""
    from text2sign.data.openpose import import_openpose

    with progress_bar() as progress:
        task = progress.add_task("OpenPose", total=None)
        corpus = import_openpose(
            src, index, out, fps, spoken, signed, on_item=lambda: progress.advance(task), allow_outside=allow_outside
        )
    print_corpus_summary(corpus.root, corpus.summary(), corpus.layout_name)


@prepare_app.command("video")
def prepare_video(
    out: Annotated[Path, output_option(help="Video corpus directory to create.")],
    source: Annotated[
        Path, typer.Option("--from", help="Pose corpus to draw (e.g. FS-Words from `prepare fingerspelling`).")
    ] = Path("data/fs-words"),
    size: Annotated[
        int,
        typer.Option(
            "--size", help="Width and height of the frames, pixels (default: what the shipped video models read)."
        ),
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
    src: Annotated[
        Path,
        typer.Argument(
            help="Folder of NAME.gif / NAME.mp4 clips, each with NAME.txt holding its text (train/ dev/ test/ "
            "subfolders name splits)."
        ),
    ],
    out: Annotated[Path, output_option(help="Video corpus directory to create.")],
    frames: Annotated[
        int | None,
        typer.Option("--frames", help="Sample (longer clips) or pad (shorter ones) every clip to N frames."),
    ] = None,
    resize: Annotated[
        int | None, typer.Option("--resize", help="Scale so the shorter side has N pixels (before cropping).")
    ] = None,
    crop: Annotated[int | None, typer.Option("--crop", help="Keep the centre N x N pixels.")] = None,
    fps: Annotated[
        float | None, typer.Option("--fps", help="Resample clips to this frame rate (default: each file's own).")
    ] = None,
    spoken: Annotated[str, typer.Option("--spoken", help="Spoken language of the texts.")] = "en",
    signed: Annotated[str, typer.Option("--signed", help="Signed language of the clips.")] = "ase",
    dev_fraction: Annotated[
        float,
        typer.Option("--dev-fraction", help="Share of clips outside split folders put in dev (by a hash of the name)."),
    ] = 0.05,
    test_fraction: Annotated[float, typer.Option("--test-fraction", help="Share of such clips put in test.")] = 0.05,
    allow_outside: AllowOutsideOption = False,
) -> None:
    """Import the video designs' folder layout (GIF or MP4 + .txt); clips are decoded once and cached \
memory-mappable."""
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
        task = progress.add_task(
            "decoding clips", total=len(folder_clips(src, allow_outside)) if src.is_dir() else None
        )
        videos, skipped = import_video_folder(
            src, out, options, on_item=lambda: progress.advance(task), allow_outside=allow_outside
        )
    print_warnings(skipped)
    print_video_corpus_summary(videos)
