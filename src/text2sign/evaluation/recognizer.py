"""Back-translation recognizer: read text back from poses, to score what generated signing says.

A :class:`Recognizer` wraps :class:`text2sign.models.recognizer.PoseRecognizer` (temporal
convolutions + CTC over the characters of the item text) with everything needed to use it on any
pose: the vocabulary, the signed languages it knows, the component kinds and joints it reads,
the frame rate, and the feature statistics of its training data.

A checkpoint is a directory::

    config.json          model config, vocab, languages, kinds, layout (the joints read), dims, fps
    model.safetensors    weights (loaded with safetensors only: nothing is unpickled)
    normalization.json   FeatureStats of the train split
    training.json        how it was trained and the scores it got (informative only)

``Recognizer.from_pretrained()`` with no path loads the FS-Words recognizer shipped inside the
package, so evaluation works offline out of the box.

Inference: a pose is converted to the recognizer's joints by name (``PoseSequence.to_layout``),
resampled to its fps, shoulder-normalized, reduced to x and y (``dims=2``: MediaPipe's depth is
not on their scale), hand joints made offsets from their wrist (``hands_relative_to_wrist``:
handshape is what spells a letter) and standardized (``data.torch_data.pose_features``);
missing joints are zero features plus a False flag in the joint mask the network also reads.
Decoding is greedy CTC (argmax per frame, merge repeats, drop blanks).

Two corruptions show that the recognizer reads the signing rather than guessing from
duration or language: :func:`time_shuffled` (frames permuted) and :func:`letter_swapped`
(the word re-spelled from its own letters in reverse order, reference text unchanged).
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from text2sign.data.augment import default_augmentation
from text2sign.data.corpus import Corpus, CorpusItem
from text2sign.data.torch_data import (
    LengthBucketSampler,
    PoseItem,
    PoseTextDataset,
    collate_pose_batch,
    first_dims,
    hands_relative_to_wrist,
    kinds_layout,
    pose_features,
)
from text2sign.errors import CheckpointError, CorpusError, LanguageError, Text2SignError, TextError
from text2sign.fileio import atomic_dir
from text2sign.models.recognizer import PoseRecognizer, RecognizerConfig
from text2sign.pose.layout import KINDS, Layout, get_layout
from text2sign.pose.normalize import FeatureStats, compute_feature_stats, normalize_by_shoulders
from text2sign.pose.sequence import PoseSequence

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
NORMALIZATION = "normalization.json"
TRAINING = "training.json"
FORMAT = "text2sign-recognizer"
SHIPPED_NAME = "fs-words-recognizer"
DEFAULT_KINDS = ("body", "left_hand", "right_hand")
CORRUPTIONS = ("time-shuffle", "letter-swap")


def shipped_recognizer_dir() -> Path:
    """Where the FS-Words recognizer that ships with the package lives."""
    return Path(str(resources.files("text2sign.evaluation").joinpath("assets", SHIPPED_NAME)))


def error_rates(references: Sequence[str], hypotheses: Sequence[str]) -> dict:
    """``{cer, wer, n}``: corpus character and word error rates in percent (evaluation.metrics,
    so the same normalisation as every other report) and the number of items."""
    from text2sign.evaluation import metrics

    return {
        "cer": metrics.cer(hypotheses, references),
        "wer": metrics.wer(hypotheses, references),
        "n": len(references),
    }


def greedy_decode(logits: torch.Tensor, mask: torch.Tensor, vocab: Sequence[str]) -> list[str]:
    """Best path of CTC logits ``(B, T, V)``: argmax per real frame, merge repeats, drop blanks (0)."""
    best = logits.argmax(dim=-1).cpu().numpy()  # (B, T)
    lengths = mask.sum(dim=1).cpu().numpy()
    texts = []
    for path, n in zip(best, lengths):
        path = path[:n]
        keep = np.ones(len(path), bool)
        keep[1:] = path[1:] != path[:-1]
        texts.append("".join(vocab[i - 1] for i in path[keep] if i != 0))
    return texts


# --- corruptions that a good recognizer must not read as the reference ------------------------


def time_shuffled(seq: PoseSequence, rng: np.random.Generator) -> PoseSequence:
    """The same frames in a random order."""
    order = rng.permutation(seq.num_frames)
    conf = None if seq.confidence is None else seq.confidence[order]
    return PoseSequence(seq.data[order], seq.mask[order], seq.fps, seq.layout, conf)


def letter_swapped(text: str, signed_language: str, lexicon, rng: np.random.Generator) -> PoseSequence:
    """`text` fingerspelled with its letters in reverse order (rotated once for palindromes),
    composed like an FS-Words reference (random 6-11 frames per letter, 3-6 frame blends).

    `lexicon` is a :class:`text2sign.data.lexicon.Lexicon` with fingerspelling clips.
    """
    from text2sign.data.fingerspelling import FSWordsConfig
    from text2sign.pose.concatenate import compose

    keys, _ = lexicon.spell(text, signed_language)
    if not keys:
        raise TextError(f"cannot fingerspell {text!r} in {signed_language}")
    order = keys[::-1]
    if order == keys and len(set(keys)) > 1:
        order = keys[1:] + keys[:1]
    clips = lexicon.clips(signed_language)
    (core_lo, core_hi), (blend_lo, blend_hi) = FSWordsConfig().letter_frames, FSWordsConfig().transition_frames
    return compose(
        [clips[k] for k in order],
        core_frames=[int(rng.integers(core_lo, core_hi + 1)) for _ in order],
        transition_frames=[int(rng.integers(blend_lo, blend_hi + 1)) for _ in order[1:]],
    )


# --- the recognizer -------------------------------------------------------------------------


class Recognizer:
    """A trained PoseRecognizer with what it needs to read any pose (see the module docstring).

    `layout` holds the joints it reads (the kinds plus the body, for the shoulders), `dims` the
    coordinates per joint, `stats` the standardization of its features; `training` is the
    informative record of how it was trained.
    """

    def __init__(
        self,
        model: PoseRecognizer,
        vocab: Sequence[str],
        languages: Sequence[str],
        kinds: tuple[str, ...],
        layout: Layout,
        fps: float,
        stats: FeatureStats,
        training: dict | None = None,
        dims: int | None = None,
        hand_relative: bool = False,
    ):
        self.model = model.eval()
        self.vocab = list(vocab)
        self.languages = list(languages)
        self.kinds = tuple(kinds)
        self.layout = layout
        self.fps = float(fps)
        self.stats = stats
        self.dims = dims or layout.dims
        self.hand_relative = hand_relative
        self.training = training or {}
        self._char_index = {c: i + 1 for i, c in enumerate(self.vocab)}
        self._language_index = {lang: i for i, lang in enumerate(self.languages)}

    # --- loading and saving ------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None) -> Recognizer:
        """Load a checkpoint directory (None: the FS-Words recognizer shipped with text2sign)."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        root = shipped_recognizer_dir() if path is None else Path(path)
        if not root.is_dir():
            raise CheckpointError(f"recognizer checkpoint not found: {root}")
        for name in (CONFIG, WEIGHTS, NORMALIZATION):
            if not (root / name).is_file():
                raise CheckpointError(f"{root} is not a recognizer checkpoint: {name} is missing")
        try:
            config = json.loads((root / CONFIG).read_text(encoding="utf-8"))
            if config.get("format") != FORMAT:
                raise CheckpointError(f"{root / CONFIG} is not a text2sign recognizer config")
            model_config = RecognizerConfig(**config["model"])
            vocab, languages = list(config["vocab"]), list(config["languages"])
            kinds = tuple(config["kinds"])
            layout = Layout.from_dict(config["layout"])
            fps = float(config["fps"])
            dims = int(config.get("dims", layout.dims))
            hand_relative = bool(config.get("hand_relative", False))
            stats = FeatureStats.load(root / NORMALIZATION)
        except CheckpointError:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"{root}: malformed checkpoint config ({type(exc).__name__}: {exc})") from None
        expected = {
            "vocab_size": len(vocab) + 1,
            "num_languages": len(languages),
            "num_joints": int(layout.kind_indices(*kinds).size),
            "num_features": int(layout.kind_indices(*kinds).size) * dims,
        }
        for key, value in expected.items():
            if getattr(model_config, key) != value:
                found = getattr(model_config, key)
                raise CheckpointError(f"{root / CONFIG}: model {key} is {found} but the checkpoint needs {value}")
        if stats.mean.shape[0] != model_config.num_features:
            raise CheckpointError(
                f"{root / NORMALIZATION} has {stats.mean.shape[0]} features, "
                f"the model reads {model_config.num_features}"
            )
        model = PoseRecognizer(**asdict(model_config))
        try:
            weights = load_file(str(root / WEIGHTS))
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"{root / WEIGHTS} is not a readable safetensors file ({exc})") from None
        try:
            model.load_state_dict(weights, strict=True)
        except RuntimeError as exc:
            detail = " ".join(str(exc).split())
            raise CheckpointError(f"{root / WEIGHTS} does not fit {CONFIG}: {detail[:300]}") from None
        training = {}
        if (root / TRAINING).is_file():
            training = json.loads((root / TRAINING).read_text(encoding="utf-8"))
        return cls(model, vocab, languages, kinds, layout, fps, stats, training, dims, hand_relative)

    def config_dict(self) -> dict:
        return {
            "format": FORMAT,
            "version": 1,
            "model": self.model.config_dict(),
            "vocab": self.vocab,
            "languages": self.languages,
            "kinds": list(self.kinds),
            "layout": self.layout.to_dict(),
            "dims": self.dims,
            "hand_relative": self.hand_relative,
            "fps": self.fps,
        }

    def save(self, path: str | Path) -> Path:
        """Write the checkpoint directory atomically (a temporary directory renamed into place)."""
        from safetensors.torch import save_file

        root = check_checkpoint_target(path)
        with atomic_dir(root) as tmp:
            (tmp / CONFIG).write_text(json.dumps(self.config_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
            state = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
            save_file(state, str(tmp / WEIGHTS))
            (tmp / NORMALIZATION).write_text(json.dumps(self.stats.to_dict()), encoding="utf-8")
            if self.training:
                (tmp / TRAINING).write_text(json.dumps(self.training, ensure_ascii=False, indent=1), encoding="utf-8")
        return root

    # --- inference ---------------------------------------------------------------------------

    def check_languages(self, signed_languages: Sequence[str]) -> None:
        unknown = sorted({s for s in signed_languages if s not in self._language_index})
        if unknown:
            raise LanguageError(
                f"the recognizer does not know signed language {', '.join(unknown)}; "
                f"it knows: {', '.join(self.languages)}"
            )

    def prepare(self, seq: PoseSequence) -> tuple[np.ndarray, np.ndarray]:
        """Standardized features and joint mask of one pose, in the recognizer's joints and fps."""
        seq = seq.to_layout(self.layout)
        if abs(seq.fps - self.fps) > 1e-3:
            seq = seq.resample(fps=self.fps)
        seq = first_dims(normalize_by_shoulders(seq)[0], self.dims)
        if self.hand_relative:
            seq = hands_relative_to_wrist(seq)
        return pose_features(seq, self.stats, self.kinds, normalized=True)

    def _items(self, poses: Sequence[PoseSequence], signed_languages: Sequence[str] | str) -> list[PoseItem]:
        if isinstance(signed_languages, str):
            signed_languages = [signed_languages] * len(poses)
        if len(signed_languages) != len(poses):
            raise ValueError(f"{len(poses)} poses but {len(signed_languages)} signed languages")
        self.check_languages(signed_languages)
        items = []
        for seq, lang in zip(poses, signed_languages):
            features, joint_mask = self.prepare(seq)
            items.append(PoseItem(features, joint_mask, "", signed_language=lang))
        return items

    @torch.no_grad()
    def _run(self, items: Sequence[PoseItem], fn: Callable, batch_size: int) -> list:
        was_training = self.model.training
        self.model.eval()
        device = next(self.model.parameters()).device
        outputs = []
        try:
            for start in range(0, len(items), batch_size):
                batch = collate_pose_batch(items[start : start + batch_size]).to(device)
                language = torch.tensor([self._language_index[s] for s in batch.signed_languages], device=device)
                outputs.extend(fn(batch, language))
        finally:
            self.model.train(was_training)
        return outputs

    def _decode(self, items: Sequence[PoseItem], batch_size: int = 32) -> list[str]:
        def decode(batch, language):
            logits, mask = self.model(batch.features, batch.joint_mask, batch.frame_mask, language)
            return greedy_decode(logits, mask, self.vocab)

        return self._run(items, decode, batch_size)

    def recognize(
        self, poses: Sequence[PoseSequence], signed_languages: Sequence[str] | str, batch_size: int = 32
    ) -> list[str]:
        """The text read from each pose (greedy CTC). `signed_languages`: one per pose, or one for all."""
        return self._decode(self._items(poses, signed_languages), batch_size)

    def embed(
        self, poses: Sequence[PoseSequence], signed_languages: Sequence[str] | str, batch_size: int = 32
    ) -> np.ndarray:
        """``(N, C)`` float32 encoder states averaged over frames, for Fréchet distance and diversity."""
        items = self._items(poses, signed_languages)
        if not items:
            return np.zeros((0, self.model.embedding_dim), np.float32)

        def pool(batch, language):
            return list(self.model.pooled(batch.features, batch.joint_mask, batch.frame_mask, language).cpu().numpy())

        return np.stack(self._run(items, pool, batch_size)).astype(np.float32)

    def evaluate_split(
        self, corpus: Corpus | str | Path, split: str, corruption: str | None = None, seed: int = 0
    ) -> dict:
        """``{cer, wer, n}`` of this recognizer on a corpus split's reference poses.

        `corruption`: None (the real references: the recognizer's ceiling), "time-shuffle"
        (frames permuted) or "letter-swap" (words re-spelled in reverse order; fingerspelled
        corpora only). References are always the items' original texts.
        """
        corpus = corpus if isinstance(corpus, Corpus) else Corpus.load(corpus)
        items = corpus.split(split)
        if not items:
            raise CorpusError(f"{corpus.root} has no {split} items")
        poses = corrupted_poses(corpus, items, corruption, seed)
        hypotheses = self.recognize(poses, [i.signed_language for i in items])
        return error_rates([i.text for i in items], hypotheses)

    def evaluate_items(self, items: Sequence[PoseItem]) -> dict:
        """``{cer, wer, n}`` on already prepared items (e.g. a :class:`PoseTextDataset`)."""
        hypotheses = self._decode(items)
        return error_rates([i.text for i in items], hypotheses)

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def corrupted_poses(
    corpus: Corpus, items: Sequence[CorpusItem], corruption: str | None, seed: int = 0
) -> list[PoseSequence]:
    """The items' reference poses, optionally corrupted (see :func:`time_shuffled`, :func:`letter_swapped`)."""
    if corruption is not None and corruption not in CORRUPTIONS:
        raise Text2SignError(f"unknown corruption {corruption!r}; choose from {', '.join(CORRUPTIONS)}")
    rng = np.random.default_rng(seed)
    if corruption == "letter-swap":
        from text2sign.data.lexicon import DEFAULT_LAYOUT, Lexicon

        lexicon = Lexicon.fingerspelling(corpus.layout_name or DEFAULT_LAYOUT)
        return [letter_swapped(i.text, i.signed_language, lexicon, rng) for i in items]
    poses = [corpus.load_pose(i) for i in items]
    if corruption == "time-shuffle":
        poses = [time_shuffled(p, rng) for p in poses]
    return poses


# --- checkpoint directories ---------------------------------------------------------------------


def check_checkpoint_target(path: str | Path) -> Path:
    """Fail early (before any training) if `path` cannot become a checkpoint directory."""
    root = Path(path)
    if not root.parent.is_dir():
        raise CheckpointError(f"output directory does not exist: {root.parent}")
    if root.exists():
        if not root.is_dir():
            raise CheckpointError(f"checkpoint output {root} exists and is not a directory")
        if any(root.iterdir()) and not (root / CONFIG).is_file():
            raise CheckpointError(f"refusing to overwrite {root}: it is not empty and holds no {CONFIG}")
    return root


# --- training ------------------------------------------------------------------------------------


@dataclass
class RecognizerTrainConfig:
    epochs: int = 50
    batch_size: int = 16
    lr: float = 2e-3
    weight_decay: float = 0.01
    seed: int = 0
    kinds: tuple[str, ...] = DEFAULT_KINDS
    dims: int = 2  # coordinates read per joint: x, y (see data.torch_data.first_dims)
    hand_relative: bool = True  # hand joints as offsets from the wrist (data.torch_data.hands_relative_to_wrist)
    # network (see text2sign.models.recognizer.RecognizerConfig)
    hidden: int = 128
    kernel_size: int = 5
    downsample: int = 2
    dilations: tuple[int, ...] = (1, 2, 4, 1, 2, 4)
    dropout: float = 0.1
    # augmentation of the train split, in shoulder widths and degrees (see data/augment.py)
    augment: bool = True
    speed: tuple[float, float] = (0.8, 1.25)
    noise_std: float = 0.01
    max_vertical_degrees: float = 15.0
    max_view_degrees: float = 10.0
    scale: tuple[float, float] = (0.9, 1.1)
    max_frames: int | None = 512
    num_threads: int = 2
    evaluate_test: bool = True

    def __post_init__(self) -> None:
        self.kinds = tuple(self.kinds)
        self.dilations = tuple(self.dilations)
        self.speed, self.scale = tuple(self.speed), tuple(self.scale)
        unknown = [k for k in self.kinds if k not in KINDS]
        if unknown or not self.kinds:
            raise Text2SignError(f"kinds must be among {', '.join(KINDS)}; got {', '.join(self.kinds) or 'none'}")
        for name in ("epochs", "batch_size", "hidden", "kernel_size", "downsample", "num_threads", "dims"):
            if getattr(self, name) < 1:
                raise Text2SignError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.dilations or min(self.dilations) < 1:
            raise Text2SignError(f"dilations must be positive integers, got {self.dilations}")
        if self.kernel_size % 2 == 0:
            raise Text2SignError(f"kernel_size must be odd, got {self.kernel_size}")
        if not self.lr > 0:
            raise Text2SignError(f"lr must be positive, got {self.lr}")

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class _Best:
    cer: float = float("inf")
    epoch: int = 0
    state: dict = field(default_factory=dict)


def train_recognizer(
    corpus_dir: str | Path,
    out_dir: str | Path,
    cfg: RecognizerTrainConfig | None = None,
    on_progress: Callable[[int, int, dict], None] | None = None,
) -> dict:
    """Train on the train split (augmented), keep the epoch with the best dev CER, save to `out_dir`.

    `on_progress(step, total_steps, info)` is called after every optimizer step; `info` has the
    epoch, the running loss and the latest dev CER. Returns the metrics also written to
    ``training.json``: history, best epoch, wall time, and ``{cer, wer, n}`` on dev and test
    (real references = the ceiling) and on time-shuffled / letter-swapped test references.
    """
    cfg = cfg or RecognizerTrainConfig()
    out = check_checkpoint_target(out_dir)
    corpus = Corpus.load(corpus_dir)
    train_items = corpus.split("train")
    if not train_items:
        raise CorpusError(f"{corpus.root} has no train items")
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(cfg.num_threads)
    try:
        return _train(corpus, train_items, out, cfg, on_progress)
    finally:
        torch.set_num_threads(previous_threads)


def _train(corpus: Corpus, train_items: list[CorpusItem], out: Path, cfg: RecognizerTrainConfig, on_progress) -> dict:
    started = time.perf_counter()
    torch.manual_seed(cfg.seed)
    first = corpus.load_pose(train_items[0])
    layout = get_layout(corpus.layout_name) if corpus.layout_name else first.layout
    needed = kinds_layout(layout, cfg.kinds)
    if needed.kind_indices(*cfg.kinds).size == 0:
        raise CorpusError(f"layout {layout.name} has no joints of kinds {', '.join(cfg.kinds)}")
    if cfg.dims > layout.dims:
        raise CorpusError(f"dims is {cfg.dims} but the corpus poses ({layout.name}) have {layout.dims} coordinates")
    transform = hands_relative_to_wrist if cfg.hand_relative else None

    def prepared(item: CorpusItem) -> PoseSequence:
        seq = first_dims(normalize_by_shoulders(corpus.load_pose(item))[0], cfg.dims)
        return transform(seq) if transform else seq

    stats = compute_feature_stats((prepared(i) for i in train_items), cfg.kinds, normalize=False)
    vocab = sorted(set("".join(i.text for i in train_items)))
    languages = sorted({i.signed_language for i in train_items})
    fps = float(np.median([i.fps for i in train_items]))

    augment = None
    if cfg.augment:
        augment = default_augmentation(
            cfg.speed, cfg.noise_std, cfg.max_vertical_degrees, cfg.max_view_degrees, cfg.scale
        )
    train_set = PoseTextDataset(
        corpus, "train", stats, cfg.kinds, augment, cfg.max_frames, seed=cfg.seed, dims=cfg.dims, transform=transform
    )
    dev_set = PoseTextDataset(corpus, "dev", stats, cfg.kinds, None, cfg.max_frames, dims=cfg.dims, transform=transform)
    dev_items = [dev_set[i] for i in range(len(dev_set))]

    num_joints = int(needed.kind_indices(*cfg.kinds).size)
    model = PoseRecognizer(
        num_features=num_joints * cfg.dims,
        num_joints=num_joints,
        vocab_size=len(vocab) + 1,
        num_languages=len(languages),
        hidden=cfg.hidden,
        kernel_size=cfg.kernel_size,
        downsample=cfg.downsample,
        dilations=cfg.dilations,
        dropout=cfg.dropout,
    )
    recognizer = Recognizer(
        model, vocab, languages, cfg.kinds, needed, fps, stats, dims=cfg.dims, hand_relative=cfg.hand_relative
    )
    sampler = LengthBucketSampler([i.num_frames for i in train_set.items], cfg.batch_size, seed=cfg.seed)
    loader = DataLoader(train_set, batch_sampler=sampler, collate_fn=collate_pose_batch)
    total_steps = cfg.epochs * len(loader)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=total_steps, pct_start=0.1)
    char_index = recognizer._char_index
    language_index = recognizer._language_index

    history: list[dict] = []
    best = _Best()
    step = 0
    dev_cer = float("nan")
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        losses = []
        for batch in loader:
            language = torch.tensor([language_index[s] for s in batch.signed_languages])
            targets = [[char_index[c] for c in text if c in char_index] for text in batch.texts]
            logits, out_mask = model(batch.features, batch.joint_mask, batch.frame_mask, language)  # (B, T', V)
            log_probs = logits.log_softmax(dim=-1).transpose(0, 1)  # (T', B, V)
            loss = torch.nn.functional.ctc_loss(
                log_probs,
                torch.tensor([c for t in targets for c in t], dtype=torch.long),
                out_mask.sum(dim=1),
                torch.tensor([len(t) for t in targets], dtype=torch.long),
                blank=0,
                zero_infinity=True,
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            step += 1
            losses.append(loss.item())
            if on_progress is not None:
                on_progress(step, total_steps, {"epoch": epoch, "loss": float(np.mean(losses)), "dev_cer": dev_cer})
        record = {"epoch": epoch, "loss": float(np.mean(losses))}
        if dev_items:
            dev_cer = recognizer.evaluate_items(dev_items)["cer"]
            record["dev_cer"] = dev_cer
        history.append(record)
        # Without a dev split the last epoch is kept.
        score = dev_cer if dev_items else -epoch
        if score <= best.cer:
            best = _Best(score, epoch, copy.deepcopy(model.state_dict()))
    model.load_state_dict(best.state)
    model.eval()
    train_seconds = time.perf_counter() - started

    metrics: dict = {
        "corpus": str(corpus.root),
        "best_epoch": best.epoch,
        "epochs": cfg.epochs,
        "steps": total_steps,
        "parameters": recognizer.num_parameters,
        "train_seconds": round(train_seconds, 1),
        "history": history,
        "scores": {},
    }
    if dev_items:
        metrics["scores"]["dev"] = recognizer.evaluate_items(dev_items)
    if cfg.evaluate_test and corpus.split("test"):
        metrics["scores"]["test"] = recognizer.evaluate_split(corpus, "test")
        metrics["scores"]["test time-shuffled"] = recognizer.evaluate_split(corpus, "test", "time-shuffle", cfg.seed)
        if str(corpus.stats.get("source", "")).startswith("fingerspelling"):
            swapped = recognizer.evaluate_split(corpus, "test", "letter-swap", cfg.seed)
            metrics["scores"]["test letter-swapped"] = swapped
    recognizer.training = {"config": cfg.to_dict(), **metrics}
    recognizer.save(out)
    return metrics
