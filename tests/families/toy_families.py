"""Two tiny families registered from outside the package, to prove the family contract.

``toy-pose``: text -> a fixed number of pose frames (body joints only).
``toy-video``: text -> a few frames of video, trained on our renderings of the same
pose corpus (what ``prepare video --from CORPUS`` will make for real video models).

Each is a network, an objective, a pipeline and one ``register_family`` call: nothing in the
package names them, yet ``text2sign train / generate / evaluate / bench / models`` take them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from text2sign.config import bounded
from text2sign.data.config import PoseDataConfig
from text2sign.data.corpus import Corpus, CorpusWriter
from text2sign.families import Experiment, register_family
from text2sign.objectives import Objective
from text2sign.pipelines.base import Pipeline
from text2sign.pipelines.options import Option
from text2sign.pose.io import load_pose
from text2sign.pose.layout import get_layout
from text2sign.pose.normalize import compute_feature_stats
from text2sign.pose.sequence import PoseSequence
from text2sign.testing import fake_pose
from text2sign.video import VideoClip

WORDS = {"train": ["ab", "ba", "abc", "cab"], "dev": ["ca"], "test": ["bc", "acb"]}


def make_corpus(root: Path) -> Path:
    """A few fake signers' words in the holistic-178 layout, every split, ASL from English."""
    if (root / "manifest.csv").is_file():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    writer = CorpusWriter(root)
    for split, words in WORDS.items():
        for i, word in enumerate(words):
            pose = fake_pose(10 + 2 * len(word), seed=len(split) * 10 + i)
            writer.add(pose, id=f"{split}-{word}", split=split, text=word, spoken_language="en", signed_language="ase")
    writer.close()
    return root


@dataclass
class ToyPoseConfig:
    vocab: list[str] = field(default_factory=list)  # filled from the data
    frames: int = bounded(8, min=2)
    hidden: int = bounded(16, min=1)
    noise_dim: int = bounded(4, min=1)
    feature_dim: int = 0  # filled from the data
    layout: str = ""  # filled from the data
    fps: float = 0.0  # filled from the data
    kinds: list[str] = field(default_factory=lambda: ["body"])


@dataclass
class ToyVideoConfig:
    vocab: list[str] = field(default_factory=list)
    frames: int = bounded(4, min=2)
    size: int = bounded(12, min=4, max=64)
    hidden: int = bounded(16, min=1)
    noise_dim: int = bounded(4, min=1)
    fps: float = 0.0


@dataclass
class ToyObjectiveConfig:
    noise_weight: float = 0.0  # unused by the loss; here so the section exists


class TextBag(nn.Module):
    """Mean of learned character embeddings: enough text conditioning for a contract test."""

    def __init__(self, vocab: list[str], dim: int):
        super().__init__()
        self.index = {c: i + 1 for i, c in enumerate(vocab)}
        self.embed = nn.Embedding(len(vocab) + 1, dim)

    def unknown(self, text: str) -> list[str]:
        return [c for c in text if c not in self.index]

    def forward(self, texts: list[str]) -> torch.Tensor:
        device = self.embed.weight.device
        rows = [torch.tensor([self.index.get(c, 0) for c in t] or [0], device=device) for t in texts]
        return torch.stack([self.embed(r).mean(0) for r in rows])  # (B, dim)


class ToyPoseNet(nn.Module):
    def __init__(self, config: ToyPoseConfig):
        super().__init__()
        self.config = config
        self.text = TextBag(config.vocab, config.hidden)
        self.out = nn.Linear(config.hidden + config.noise_dim, config.frames * config.feature_dim)

    def forward(self, texts: list[str], noise: torch.Tensor) -> torch.Tensor:
        h = torch.cat([self.text(texts), noise], dim=-1)  # (B, hidden + noise)
        return self.out(h).view(len(texts), self.config.frames, self.config.feature_dim)  # (B, T, F)


class ToyVideoNet(nn.Module):
    def __init__(self, config: ToyVideoConfig):
        super().__init__()
        self.config = config
        self.text = TextBag(config.vocab, config.hidden)
        c = config
        self.out = nn.Linear(c.hidden + c.noise_dim, c.frames * c.size * c.size * 3)

    def forward(self, texts: list[str], noise: torch.Tensor) -> torch.Tensor:
        c = self.config
        h = torch.cat([self.text(texts), noise], dim=-1)
        return torch.sigmoid(self.out(h)).view(len(texts), c.frames, c.size, c.size, 3)  # (B, T, H, W, 3) in [0, 1]


class Targets(Dataset):
    def __init__(self, texts: list[str], targets: np.ndarray):
        self.texts, self.targets = texts, torch.from_numpy(targets)

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, i: int):
        return self.texts[i], self.targets[i]


def collate(items):
    return [t for t, _ in items], torch.stack([y for _, y in items])


class Regression(Objective):
    """Noise-conditioned regression to the targets (the noise makes sampling seed-dependent)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, batch, group: str) -> dict[str, torch.Tensor]:
        texts, target = batch
        noise = torch.randn(len(texts), self.net.config.noise_dim, device=target.device)
        return {"loss": F.mse_loss(self.net(texts, noise), target)}

    def inference_model(self) -> nn.Module:
        return self.net


class ToyPipeline(Pipeline):
    """`wobble` is an option of the toy families' own: how much the style noise moves the output."""

    stochastic = True
    options = (
        Option("wobble", float, "toy models: how far the style noise moves the output (1: as trained)", 0.0, 2.0),
    )

    def __init__(self, net: nn.Module, pairs: list[tuple[str, str]], make_output):
        self.net = net.eval()
        self.pairs = [tuple(p) for p in pairs]
        self.make_output = make_output

    def language_pairs(self):
        return sorted(self.pairs)

    def generate(self, texts, spoken, signed, *, num_samples, seed, strict, notes, wobble=None, like=None):
        for text in texts:
            unknown = self.net.text.unknown(text)
            if unknown:
                notes.warn(f"the model has never seen {', '.join(map(repr, dict.fromkeys(unknown)))}")
        out = [[] for _ in texts]
        with torch.inference_mode():
            for k in range(num_samples):
                g = torch.Generator().manual_seed((seed or 0) + k)
                noise = torch.randn(len(texts), self.net.config.noise_dim, generator=g) * (
                    1.0 if wobble is None else wobble
                )
                for i, y in enumerate(self.net(texts, noise).numpy()):
                    made = self.make_output(y)
                    out[i].append(made if like is None else made.resample(num_frames=like.num_frames))
        return out


class ToyPosePipeline(ToyPipeline):
    name = "toy-pose"
    output = "pose"
    # A file-valued option: the CLI reads the file (--like X.pose), the server never takes it.
    options = (*ToyPipeline.options, Option("like", Path, "toy-pose: as many frames as this pose file", load=load_pose))

    @classmethod
    def from_checkpoint(cls, checkpoint, device="cpu"):
        cfg, stats = checkpoint.model_config, checkpoint.feature_stats
        layout = get_layout(cfg.layout)

        def to_pose(features: np.ndarray) -> PoseSequence:  # (T, F) standardized
            return PoseSequence.from_features(stats.destandardize(features), layout, cfg.fps, kinds=tuple(cfg.kinds))

        return cls(checkpoint.model, checkpoint.metadata["language_pairs"], to_pose)


class ToyVideoPipeline(ToyPipeline):
    name = "toy-video"
    output = "video"

    @classmethod
    def from_checkpoint(cls, checkpoint, device="cpu"):
        fps = checkpoint.model_config.fps

        def to_clip(frames: np.ndarray) -> VideoClip:  # (T, H, W, 3) in [0, 1]
            return VideoClip(np.round(frames * 255).astype(np.uint8), fps)

        return cls(checkpoint.model, checkpoint.metadata["language_pairs"], to_clip)


def _common(config):
    corpus = Corpus.load(config.data.corpus)
    items = corpus.split(config.data.train_split)
    dev = corpus.split(config.data.dev_split)
    pairs = sorted({(i.spoken_language, i.signed_language) for i in items})
    vocab = sorted(set("".join(i.text for i in items)))
    return corpus, items, dev, pairs, vocab


def build_pose(config) -> Experiment:
    import dataclasses

    corpus, items, dev, pairs, vocab = _common(config)
    layout = get_layout(corpus.layout_name)
    model = dataclasses.replace(config.model, vocab=vocab, layout=layout.name, fps=items[0].fps)
    kinds = tuple(model.kinds)
    model.feature_dim = int(layout.kind_indices(*kinds).size) * layout.dims
    stats = compute_feature_stats((corpus.load_pose(i) for i in items), kinds, normalize=False)

    def targets(split_items) -> np.ndarray:
        out = []
        for item in split_items:
            features, _ = corpus.load_pose(item).resample(num_frames=model.frames).to_features(kinds)
            out.append(stats.standardize(features))
        return np.stack(out).astype(np.float32)  # (N, T, F)

    return Experiment(
        Regression(ToyPoseNet(model)),
        Targets([i.text for i in items], targets(items)),
        dev_data=Targets([i.text for i in dev], targets(dev)),
        collate_fn=collate,
        feature_stats=stats,
        config=dataclasses.replace(config, model=model),
        metadata={"language_pairs": [list(p) for p in pairs]},
    )


def build_video(config) -> Experiment:
    import dataclasses

    from text2sign.rendering import iter_frames

    corpus, items, dev, pairs, vocab = _common(config)
    model = dataclasses.replace(config.model, vocab=vocab, fps=items[0].fps)

    def targets(split_items) -> np.ndarray:
        out = []
        for item in split_items:
            frames = np.stack(list(iter_frames(corpus.load_pose(item), width=model.size, height=model.size)))
            index = np.round(np.linspace(0, len(frames) - 1, model.frames)).astype(int)
            out.append(frames[index].astype(np.float32) / 255)
        return np.stack(out)  # (N, T, H, W, 3)

    return Experiment(
        Regression(ToyVideoNet(model)),
        Targets([i.text for i in items], targets(items)),
        dev_data=Targets([i.text for i in dev], targets(dev)),
        collate_fn=collate,
        config=dataclasses.replace(config, model=model),
        metadata={"language_pairs": [list(p) for p in pairs]},
    )


def tiny(family: str):
    def config(workdir: Path) -> dict:
        corpus = make_corpus(workdir / "toy-corpus")
        return {
            "family": family,
            "data": {"corpus": str(corpus)},
            "train": {"steps": 3, "batch_size": 2, "lr": 1e-2, "ema_decay": 0.0, "sample_every": 0},
        }

    return config


register_family(
    "toy-pose",
    output="pose",
    pipeline=ToyPosePipeline.from_checkpoint,
    model_config=ToyPoseConfig,
    build_model=ToyPoseNet,
    objective_config=ToyObjectiveConfig,
    data_config=PoseDataConfig,
    build=build_pose,
    tiny=tiny("toy-pose"),
)
register_family(
    "toy-video",
    output="video",
    pipeline=ToyVideoPipeline.from_checkpoint,
    model_config=ToyVideoConfig,
    build_model=ToyVideoNet,
    objective_config=ToyObjectiveConfig,
    data_config=PoseDataConfig,
    build=build_video,
    tiny=tiny("toy-video"),
)
