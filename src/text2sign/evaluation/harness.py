"""`text2sign evaluate`: generate every item of a corpus split with one model and score it.

How a generated sequence meets its reference, so that every model is judged the same way:

1. it is put in the reference's skeleton layout and frame rate (`to_layout`, linear resampling);
2. both are normalised by their own shoulders (centre between the shoulders, shoulder width 1),
   so errors are in shoulder widths whatever the camera, and world landmarks are dropped;
3. pose metrics: DTW over whole frames gives the alignment; DTW-MJE as SLRTP computes it
   (`dtw_mje`) and the per-channel MSE / MAE (body, hands, face) are pooled over the aligned
   pairs of the whole split, as the SLRTP challenge pools them; the per-keypoint nDTW-MJE of
   Ham2Pose (`ndtw_mje_ham2pose`) and pose-evaluation's default DTW-MJE
   (`ndtw_mje_pose_evaluation`, which re-normalises, trims and pads the way pose-evaluation
   does) are averaged over items; the hand-face sync correlation and lag of the generated
   poses are averaged over items;
4. back-translation: the recognizer reads every generated sequence; BLEU-1..4, ROUGE-L, WER and
   CER compare what it read with the item texts; its pooled encoder features give the Fréchet
   distance to the references' features and the diversity of the generated set.

An item the model cannot generate (unsupported text or language) is counted in `failures`, read
as an empty hypothesis (so it costs back-translation scores) and left out of the pose metrics.
`--model reference` scores the references themselves: the ceiling row. An autoencoder checkpoint
(a family with ``reconstruct``, e.g. ``latent-ae``) is scored on its reconstructions of the
references: the ceiling of every model that decodes through it.

Models whose output is video are scored against the reference poses drawn by our renderer at the
generated clip's size and frame rate (the same drawing ``text2sign prepare video`` trains video
models on): PSNR and SSIM per frame after matching the frame count, the temporal consistency
of the generated clips, and the back-translation of the video recognizer (CER, WER, BLEU,
ROUGE-L; a Fréchet distance on its features against those drawn references, an FVD-style score
that needs no download). `--recognizer` names the recognizer of the model's output kind.
"""

from __future__ import annotations

import contextlib
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from text2sign.data.corpus import Corpus, CorpusItem, safe_filename
from text2sign.errors import CorpusError, Text2SignError
from text2sign.evaluation import metrics
from text2sign.fileio import atomic_dir, check_output_path, write_text_atomic
from text2sign.outputs import OutputKind, check_output_dir
from text2sign.pose.normalize import normalize_by_shoulders
from text2sign.pose.sequence import PoseSequence

REFERENCE = "reference"
# What an evaluation writes beside its report, and so may replace.
GIFS_OUTPUT = OutputKind("folder of evaluation GIFs", entries=("*.gif",))
PREDICTIONS_OUTPUT = OutputKind(
    "--save-predictions folder", markers=("predictions.csv",), entries=("predictions.csv", "*.pose", "*.mp4")
)
# PSNR of a frame that matches its reference exactly is infinite; capped so one such frame
# does not make a whole split's mean infinite (common_metrics_on_video_quality does the same).
PSNR_CAP_DB = 100.0
VIDEO_COLUMNS = (
    ("PSNR", "psnr", 2),
    ("SSIM", "ssim", 3),
    ("temporal diff", "temporal_consistency", 4),
    ("CER", "cer", 2),
    ("WER", "wer", 2),
    ("BLEU-4", "bleu4", 2),
    ("ROUGE-L", "rouge_l", 2),
    ("FVD (video rec.)", "frechet", 3),
    ("diversity", "diversity", 3),
    ("gen ms/item", "generation_ms_mean", 1),
)
# What the video recognizer reads back; None when it does not know every item's signed language.
VIDEO_READ_BACK = ("bleu1", "bleu2", "bleu3", "bleu4", "rouge_l", "wer", "cer", "frechet", "diversity")
METRIC_COLUMNS = (
    ("DTW-MJE (SLRTP)", "dtw_mje", 4),
    ("nDTW-MJE (Ham2Pose)", "ndtw_mje_ham2pose", 4),
    ("nDTW-MJE (pose-evaluation)", "ndtw_mje_pose_evaluation", 4),
    ("MAE hands", "mae_hands", 4),
    ("CER", "cer", 2),
    ("WER", "wer", 2),
    ("BLEU-1", "bleu1", 2),
    ("BLEU-4", "bleu4", 2),
    ("ROUGE-L", "rouge_l", 2),
    ("FID", "frechet", 3),
    ("diversity", "diversity", 3),
    ("sync corr", "sync_correlation", 3),
    ("gen ms/item", "generation_ms_mean", 1),
)


def scoring_view(seq: PoseSequence) -> PoseSequence:
    """The sequence as metrics see it: shoulder-normalised, without world landmarks."""
    normalized, _ = normalize_by_shoulders(seq)
    kinds = [c.name for c in normalized.layout.components if c.kind != "world"]
    return normalized.select_components(kinds)


def align_to_reference(generated: PoseSequence, reference: PoseSequence) -> PoseSequence:
    generated = generated.to_layout(reference.layout)
    if abs(generated.fps - reference.fps) > 1e-6:
        generated = generated.resample(fps=reference.fps)
    return generated


def pick_spread(items: list[CorpusItem], count: int) -> list[CorpusItem]:
    """`count` items spread over the split (different languages in a multilingual corpus)."""
    if count <= 0 or not items:
        return []
    index = np.unique(np.round(np.linspace(0, len(items) - 1, min(count, len(items)))).astype(int))
    return [items[i] for i in index]


def evaluate(
    model: str,
    corpus: Corpus | str | Path,
    split: str = "test",
    recognizer_dir: str | Path | None = None,
    limit: int | None = None,
    gif_dir: str | Path | None = None,
    num_gifs: int = 4,
    lexicon: str | Path | None = None,
    on_item: Callable[[int, int], None] | None = None,
    seed: int | None = None,
    predictions_dir: str | Path | None = None,
    options: dict | None = None,
    load_options: dict | None = None,
) -> dict:
    """Score `model` (a name from `text2sign.pipelines.model_names()`, a checkpoint directory, or
    "reference") on `split` of `corpus`; returns the report (see the module docstring).

    `seed` goes to every generation call (stochastic models), and so do `options` (a pipeline's
    own, e.g. ``steps``: checked before the first item); `load_options` (and `lexicon`) go to
    :func:`~text2sign.pipelines.load_pipeline`; `predictions_dir` keeps every generated item (see :class:`Predictions`).
    Both folders are checked first (new, empty or what an evaluation wrote, apart from the inputs)
    and written whole at the end: a failed evaluation leaves neither."""
    from text2sign.pipelines import load_pipeline, load_reconstruction

    corpus = corpus if isinstance(corpus, Corpus) else Corpus.load(corpus)
    load_options = {k: v for k, v in {"lexicon": lexicon, **(load_options or {})}.items() if v is not None}
    inputs = evaluation_inputs(model, corpus.root, recognizer_dir, None, load_options.values())
    if gif_dir is not None:
        check_output_dir(gif_dir, GIFS_OUTPUT, inputs, "the GIF folder")
    if predictions_dir is not None:
        check_output_dir(predictions_dir, PREDICTIONS_OUTPUT, inputs, "--save-predictions")
    items = corpus.split(split)
    if limit is not None:
        items = items[:limit]
    if not items:
        raise CorpusError(f"{corpus.root} has no {split} items")
    reconstruct = None if model == REFERENCE else load_reconstruction(model)
    if reconstruct is not None and (options or load_options):
        raise Text2SignError(f"{model} reconstructs the references; it takes no generation options")
    pipeline = None
    if model != REFERENCE and reconstruct is None:
        pipeline = load_pipeline(model, **load_options)
        options = pipeline.check_options(options or {})  # a bad value is one error, not a failure per item
    output = pipeline.output if pipeline is not None else "pose"
    with contextlib.ExitStack() as folders:
        gif_tmp = _folder(folders, gif_dir)
        predictions_tmp = _folder(folders, predictions_dir)
        saver = Predictions(predictions_tmp, output) if predictions_tmp is not None else None
        report, read = _evaluate(
            model,
            corpus,
            split,
            items,
            output,
            pipeline,
            reconstruct,
            recognizer_dir,
            gif_tmp,
            num_gifs,
            on_item,
            seed,
            saver,
            options,
        )
        if saver is not None:
            saver.close(read)
            report["predictions"] = str(predictions_dir)
    return report


def evaluation_inputs(model: str, corpus_root: Path, recognizer_dir, lexicon, others=()) -> list[str | Path | None]:
    """What an evaluation reads from disk (a model named, not a directory, does not exist as a path and
    is skipped by the check; `others`: load options, of which only paths count): its outputs must stay apart."""
    paths = [v for v in others if isinstance(v, (str, Path))]
    return [corpus_root, None if model == REFERENCE else model, recognizer_dir, lexicon, *paths]


def _folder(stack: contextlib.ExitStack, path: str | Path | None) -> Path | None:
    """A temporary folder that becomes `path` when the evaluation succeeds (atomic_dir makes its
    parents, and takes them away again if it fails)."""
    if path is None:
        return None
    return stack.enter_context(atomic_dir(path))


def _evaluate(
    model,
    corpus,
    split,
    items,
    output,
    pipeline,
    reconstruct,
    recognizer_dir,
    gif_dir,
    num_gifs,
    on_item,
    seed,
    saver,
    options,
) -> tuple[dict, dict]:
    """The report, and what the recognizer read back by item id."""

    def generate(item: CorpusItem):
        if reconstruct is not None:
            signing = reconstruct(corpus.load_pose(item))
        else:
            signing = pipeline(
                [item.text], spoken=item.spoken_language, signed=item.signed_language, seed=seed, **(options or {})
            ).outputs[0]
        if saver is not None:
            saver.add(item, signing)
        return signing

    read: dict[str, str] = {}
    if output == "video":
        results, failures = _evaluate_videos(generate, corpus, items, gif_dir, num_gifs, on_item, recognizer_dir, read)
        samples = [{"id": i.id, "text": i.text, "read": read.get(i.id, "")} for i in items[:10]] if read else None
        report = _report(model, "video", corpus, split, items, failures, results, samples, recognizer_dir)
    else:
        generator = generate if model != REFERENCE else None
        report, read = _evaluate_poses(
            model, generator, corpus, split, items, recognizer_dir, gif_dir, num_gifs, on_item
        )
    return report, read


class Predictions:
    """Every generated item kept next to the report: ``ID.pose`` (pose models) or ``ID.mp4``
    (video models) in one folder, and ``predictions.csv`` (id, text, languages, file, and what
    the recognizer read back) written last, so a complete folder has it. :func:`evaluate` gives it
    a temporary folder renamed into place at the end."""

    def __init__(self, directory: str | Path, output: str):
        self.directory = Path(directory)
        self.suffix = ".mp4" if output == "video" else ".pose"
        self.rows: list[dict] = []

    def add(self, item: CorpusItem, signing) -> None:
        from text2sign.rendering import write_output

        name = safe_filename(item.id) + self.suffix
        write_output(signing, self.directory / name)
        self.rows.append(
            {
                "id": item.id,
                "text": item.text,
                "spoken_language": item.spoken_language,
                "signed_language": item.signed_language,
                "file": name,
            }
        )

    def close(self, read: dict[str, str]) -> Path:
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.DictWriter(
            buffer, fieldnames=[*self.rows[0], "read"] if self.rows else ["id"], lineterminator="\n"
        )
        writer.writeheader()
        for row in self.rows:
            writer.writerow({**row, "read": read.get(row["id"], "")})
        write_text_atomic(self.directory / "predictions.csv", buffer.getvalue())
        return self.directory


def _report(model, output, corpus, split, items, failures, result, samples, recognizer_dir) -> dict:
    report = {
        "model": model,
        "output": output,
        "corpus": str(corpus.root),
        "split": split,
        "items": len(items),
        "failures": len(failures),
        "failed_items": failures[:20],
        "metrics": result,
    }
    if samples is not None:
        report["samples"] = samples
        shipped = "shipped FS-Words video recognizer" if output == "video" else "shipped FS-Words recognizer"
        report["recognizer"] = shipped if recognizer_dir is None else str(recognizer_dir)
    report["machine"] = f"{platform.machine()}, python {platform.python_version()}"
    report["date"] = time.strftime("%Y-%m-%d")
    return report


def _evaluate_videos(
    generate,
    corpus: Corpus,
    items,
    gif_dir,
    num_gifs,
    on_item,
    video_recognizer_dir=None,
    read: dict | None = None,
) -> tuple[dict, list]:
    """Pixel scores against the reference poses drawn by our renderer at each clip's size and rate,
    and the read-back of the video recognizer (`video_recognizer_dir`; None: the shipped FS-Words
    one): CER, WER, BLEU and ROUGE-L of what it reads from each clip (a failed item reads as
    empty), and the Fréchet distance between its pooled features of the generated clips and of
    those same drawn references (an FVD-style score from our own network: nothing downloaded),
    with the diversity of the generated set; `read` (when given) receives what was read, by item
    id. A corpus with a signed language the recognizer does not know gets no read-back (those
    keys are None) rather than scores on part of the split."""
    from text2sign.evaluation.video_recognizer import VideoRecognizer
    from text2sign.rendering import iter_frames
    from text2sign.video import VideoClip, save_video

    recognizer = VideoRecognizer.from_pretrained(video_recognizer_dir)
    readable = all(recognizer.knows(item.signed_language) for item in items)
    gif_items = {item.id for item in pick_spread(items, num_gifs)} if gif_dir is not None else set()
    psnrs, ssims, steadiness, gen_ms, failures = [], [], [], [], []
    read = {} if read is None else read
    generated_features, reference_features = [], []
    for n, item in enumerate(items):
        start = time.perf_counter()
        try:
            clip = generate(item)
        except Text2SignError as exc:
            failures.append({"id": item.id, "error": str(exc)})
            if on_item:
                on_item(n + 1, len(items))
            continue
        gen_ms.append((time.perf_counter() - start) * 1000)
        reference = np.stack(
            list(iter_frames(corpus.load_pose(item), width=clip.width, height=clip.height, fps=clip.fps))
        )
        index = np.round(np.linspace(0, clip.num_frames - 1, len(reference))).astype(int)
        matched = clip.frames[index]  # (T_ref, H, W, 3)
        psnrs.append(metrics.psnr(matched, reference, max_db=PSNR_CAP_DB))
        if min(clip.height, clip.width) >= metrics.SSIM_MIN_SIZE:
            ssims.append(metrics.ssim(matched, reference))
        if clip.num_frames >= 2:
            steadiness.append(metrics.temporal_consistency(clip.frames))
        if readable:
            # One clip at a time, so memory stays bounded by one clip whatever the split's size.
            (read[item.id],), features = recognizer.read([clip], item.signed_language)
            generated_features.append(features[0])
            reference_features.append(recognizer.embed([VideoClip(reference, clip.fps)], item.signed_language)[0])
        if item.id in gif_items:
            side_by_side = np.concatenate([matched, reference], axis=2)  # (T, H, 2W, 3)
            save_video(VideoClip(side_by_side, clip.fps), Path(gif_dir) / f"{safe_filename(item.id)}.gif")
        if on_item:
            on_item(n + 1, len(items))
    result = {
        "psnr": float(np.mean(psnrs)) if psnrs else None,
        "ssim": float(np.mean(ssims)) if ssims else None,
        "temporal_consistency": float(np.mean(steadiness)) if steadiness else None,
        **dict.fromkeys(VIDEO_READ_BACK),
        "generation_ms_mean": float(np.mean(gen_ms)) if gen_ms else None,
    }
    if readable:
        texts = [item.text for item in items]
        hypotheses = [read.get(item.id, "") for item in items]
        result.update(metrics.bleu(hypotheses, texts))
        result["rouge_l"] = metrics.rouge_l(hypotheses, texts)
        result["wer"] = metrics.wer(hypotheses, texts)
        result["cer"] = metrics.cer(hypotheses, texts)
        if len(generated_features) >= 2:
            result["frechet"] = metrics.frechet_distance(np.stack(generated_features), np.stack(reference_features))
            result["diversity"] = metrics.diversity(
                np.stack(generated_features), pairs=min(300, len(generated_features) // 2), seed=0
            )
    return result, failures


def _evaluate_poses(
    model, generate, corpus, split, items, recognizer_dir, gif_dir, num_gifs, on_item
) -> tuple[dict, dict]:
    """The pose report, and what the recognizer read from each item by id."""
    from text2sign.evaluation.recognizer import Recognizer

    recognizer = Recognizer.from_pretrained(recognizer_dir)
    gif_items = {item.id for item in pick_spread(items, num_gifs)} if gif_dir is not None else set()

    generated: list[PoseSequence | None] = []
    references: list[PoseSequence] = []
    failures: list[dict] = []
    dtw_parts, channel_parts, sync_corr, sync_lag, gen_ms = [], [], [], [], []
    ndtw_ham2pose, ndtw_pose_evaluation = [], []
    for n, item in enumerate(items):
        reference = corpus.load_pose(item)
        references.append(reference)
        start = time.perf_counter()
        if generate is None:
            output = reference
        else:
            try:
                output = generate(item)
            except Text2SignError as exc:
                failures.append({"id": item.id, "error": str(exc)})
                generated.append(None)
                if on_item:
                    on_item(n + 1, len(items))
                continue
            output = align_to_reference(output, reference)
        gen_ms.append((time.perf_counter() - start) * 1000)
        generated.append(output)

        gen_view, ref_view = scoring_view(output), scoring_view(reference)
        path = metrics.dtw_path(gen_view.data, gen_view.mask, ref_view.data, ref_view.mask)
        dtw_parts.append(metrics.dtw_mje(gen_view.data, gen_view.mask, ref_view.data, ref_view.mask, path=path))
        channel_parts.append(
            metrics.channel_errors(gen_view.data, gen_view.mask, ref_view.data, ref_view.mask, gen_view.layout, path)
        )
        ndtw_ham2pose.append(metrics.ndtw_mje_ham2pose(gen_view.data, gen_view.mask, ref_view.data, ref_view.mask))
        ndtw_pose_evaluation.append(
            metrics.ndtw_mje_pose_evaluation(
                gen_view.data, gen_view.mask, ref_view.data, ref_view.mask, gen_view.layout
            )
        )
        sync = metrics.sync_metrics(gen_view.data, gen_view.mask, gen_view.layout)
        if sync.correlation is not None:
            sync_corr.append(sync.correlation)
            sync_lag.append(sync.lag)
        if item.id in gif_items:
            from text2sign.rendering import write_side_by_side_gif

            write_side_by_side_gif(
                [gen_view, ref_view],
                Path(gif_dir) / f"{safe_filename(item.id)}.gif",
                titles=[f"{model}: {item.text}", "reference"],
            )
        if on_item:
            on_item(n + 1, len(items))

    scored = [(g, item) for g, item in zip(generated, items) if g is not None]
    hypotheses = [""] * len(items)
    if scored:
        read = recognizer.recognize([g for g, _ in scored], [item.signed_language for _, item in scored])
        by_id = dict(zip((item.id for _, item in scored), read))
        hypotheses = [by_id.get(item.id, "") for item in items]
    texts = [item.text for item in items]

    result: dict = {"dtw_mje": metrics.pool(dtw_parts) if dtw_parts else None}
    result["ndtw_mje_ham2pose"] = float(np.mean(ndtw_ham2pose)) if ndtw_ham2pose else None
    result["ndtw_mje_pose_evaluation"] = float(np.mean(ndtw_pose_evaluation)) if ndtw_pose_evaluation else None
    for channel, errors in (metrics.pool_channel_errors(channel_parts) if channel_parts else {}).items():
        result[f"mse_{channel}"] = None if errors is None else errors["mse"]
        result[f"mae_{channel}"] = None if errors is None else errors["mae"]
    result["sync_correlation"] = float(np.mean(sync_corr)) if sync_corr else None
    result["sync_lag"] = float(np.mean(sync_lag)) if sync_lag else None
    result.update(metrics.bleu(hypotheses, texts))
    result["rouge_l"] = metrics.rouge_l(hypotheses, texts)
    result["wer"] = metrics.wer(hypotheses, texts)
    result["cer"] = metrics.cer(hypotheses, texts)
    result["frechet"] = result["diversity"] = None
    if len(scored) >= 2:
        generated_features = recognizer.embed([g for g, _ in scored], [item.signed_language for _, item in scored])
        reference_features = recognizer.embed(references, [item.signed_language for item in items])
        result["frechet"] = metrics.frechet_distance(generated_features, reference_features)
        result["diversity"] = metrics.diversity(generated_features, pairs=min(300, len(scored) // 2), seed=0)
    result["generation_ms_mean"] = float(np.mean(gen_ms)) if gen_ms and generate is not None else None

    samples = [{"id": i.id, "text": t, "read": h} for i, t, h in list(zip(items, texts, hypotheses))[:10]]
    read = {item.id: h for item, h in zip(items, hypotheses)}
    return _report(model, "pose", corpus, split, items, failures, result, samples, recognizer_dir), read


def _columns(output: str):
    return VIDEO_COLUMNS if output == "video" else METRIC_COLUMNS


def markdown_row(report: dict) -> str:
    """One row for RESULTS.md's table (header: `markdown_header(report["output"])`)."""
    values = []
    for _, key, digits in _columns(report.get("output", "pose")):
        value = report["metrics"].get(key)
        values.append("–" if value is None else f"{value:.{digits}f}")
    return f"| {report['model']} | {report['items']} | {report['failures']} | " + " | ".join(values) + " |"


def markdown_header(output: str = "pose") -> str:
    names = [name for name, _, _ in _columns(output)]
    return "| model | items | failed | " + " | ".join(names) + " |\n|" + " --- |" * (len(names) + 3)


def write_report(report: dict, out: str | Path) -> tuple[Path, Path]:
    """The JSON report at `out` and a Markdown table (header + row) next to it, `.md`."""
    out = Path(out)
    check_output_path(out)
    write_text_atomic(out, json.dumps(report, indent=1, ensure_ascii=False))
    markdown = out.with_suffix(".md")
    write_text_atomic(markdown, markdown_header(report.get("output", "pose")) + "\n" + markdown_row(report) + "\n")
    return out, markdown
