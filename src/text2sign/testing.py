"""Fake poses, videos and tiny corpora made in code, so tests and examples need no downloads (like pose-format's
fake_pose)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from text2sign.errors import InvalidPoseError
from text2sign.pose.layout import Layout, get_layout
from text2sign.pose.sequence import PoseSequence
from text2sign.video import fake_video  # noqa: F401  (re-exported: fake inputs of every kind live here)


def fake_pose(
    num_frames: int = 30,
    layout: Layout | str = "holistic-178",
    fps: float = 25.0,
    seed: int = 0,
    hands_moving: bool = True,
) -> PoseSequence:
    """A plausible signer in pixel coordinates (about 500 x 500): a fixed skeleton at random
    per-joint offsets, with the hands circling over time so consecutive frames differ.

    Every joint is observed; tests mask what they need.
    """
    layout = get_layout(layout) if isinstance(layout, str) else layout
    rng = np.random.default_rng(seed)
    rest = np.empty((layout.num_joints, layout.dims), np.float32)
    rest[:, 0] = rng.uniform(150, 350, layout.num_joints)
    rest[:, 1] = rng.uniform(100, 400, layout.num_joints)
    if layout.dims > 2:
        rest[:, 2:] = rng.normal(0, 0.05, (layout.num_joints, layout.dims - 2))
    with contextlib.suppress(InvalidPoseError):  # layouts without named shoulders get no fixed torso
        left, right = layout.shoulders
        rest[left, :2] = (320, 250)
        rest[right, :2] = (180, 250)
    data = np.repeat(rest[None], num_frames, axis=0)  # (T, J, D)
    if hands_moving and num_frames:
        t = np.arange(num_frames, dtype=np.float32) / fps
        hands = layout.kind_indices("left_hand", "right_hand")
        data[:, hands, 0] += (40 * np.sin(2 * np.pi * t))[:, None]
        data[:, hands, 1] += (40 * np.cos(2 * np.pi * t))[:, None]
    data += rng.normal(0, 0.5, data.shape).astype(np.float32)
    mask = np.ones((num_frames, layout.num_joints), bool)
    return PoseSequence(data, mask, fps, layout)


def tiny_fs_words(root: Path) -> Path:
    """A three-word ASL FS-Words corpus (real letter clips) at `root`, built once: the data of
    the built-in families' tiny configs for the family contract test."""
    from text2sign.data.fingerspelling import FSWordsConfig, build_fs_words

    if not (root / "manifest.csv").is_file():
        build_fs_words(root, FSWordsConfig(train_words=3, dev_words=1, test_words=1), signed_languages=["ase"])
    return root


def tiny_video_corpus(workdir: Path) -> Path:
    """A three-word ASL FS-Words drawn at 16 px in `workdir` (once): the data of the video
    families' tiny configs for the contract tests."""
    from text2sign.data.video_corpus import render_pose_corpus

    videos = workdir / "fs-ase-video16"
    if not (videos / "manifest.csv").is_file():
        render_pose_corpus(tiny_fs_words(workdir / "fs-ase"), videos, size=16, fps=12.5)
    return videos


def tiny_autoencoder(workdir: Path) -> Path:
    """A seconds-long ``latent-ae`` run on a three-word ASL FS-Words (trained once per `workdir`):
    the earlier stage of the later latent stages' tiny configs."""
    from text2sign.checkpoints import resolve_checkpoint
    from text2sign.training import parse_experiment, train

    run = workdir / "tiny-latent-ae"
    if not (run / "checkpoints").exists():
        corpus = tiny_fs_words(workdir / "fs-ase")
        raw = {
            "family": "latent-ae",
            "name": "tiny-latent-ae",
            "data": {"corpus": str(corpus), "max_frames": 60},
            "model": {
                "d_model": 16,
                "heads": 2,
                "encoder_layers": 1,
                "coarse_layers": 1,
                "medium_layers": 0,
                "fine_layers": 1,
                "latent_dim": 8,
                "downsample": 2,
            },
            "train": {"steps": 2, "batch_size": 4, "lr": 1e-3, "ema_decay": 0.0, "sample_every": 0},
        }
        train(parse_experiment(raw, source="tiny latent-ae config"), run)
    return resolve_checkpoint(run)


def tiny_frame_autoencoder(workdir: Path) -> Path:
    """A seconds-long ``video-ae`` run on the tiny 16 px video corpus (trained once per `workdir`):
    the frame autoencoder of the latent video families' tiny configs."""
    from text2sign.checkpoints import resolve_checkpoint
    from text2sign.families import get_family
    from text2sign.training import parse_experiment, train

    run = workdir / "tiny-video-ae"
    if not (run / "checkpoints").exists():
        train(parse_experiment(get_family("video-ae").tiny(workdir), source="tiny video-ae config"), run)
    return resolve_checkpoint(run)


def tiny_pose_video_net(seed: int = 0, **model):
    """An untrained pose-video network at toy size (16 px frames, 4-frame windows, a factor-2
    autoencoder), for tests of the network, its objective and its pipeline; `model` overrides."""
    import torch

    from text2sign.models.frame_codec import FrameAutoencoderConfig
    from text2sign.models.pose_video import PoseVideoConfig, PoseVideoNet

    torch.manual_seed(seed)
    sizes = {"frames": 4, "size": 16, "width": 16, "heads": 2, "depth": 1, "patch": 2, "fps": 12.5}
    autoencoder = FrameAutoencoderConfig(size=16, channels=[8, 8], latent_channels=2, norm_groups=4)
    config = PoseVideoConfig(
        layout="holistic-178",
        kinds=["body", "face", "left_hand", "right_hand"],
        autoencoder=autoencoder,
        **{**sizes, **model},
    )
    return PoseVideoNet(config)


def tiny_stage2(family: str, workdir: Path, **sections) -> dict:
    """A seconds-long experiment of latent stage `family` on the tiny autoencoder, for the family
    contract test; `sections` replace or add whole config sections."""
    return {
        "family": family,
        "data": {"corpus": str(tiny_fs_words(workdir / "fs-ase")), "max_frames": 60},
        "model": {
            "predictor": {
                "text": {"kind": "char", "d_model": 16, "layers": 1, "heads": 2},
                "d_model": 16,
                "layers": 1,
                "heads": 2,
                "min_frames": 2,
                "max_frames": 40,
                "length_bin": 1,
                "alignment": "durations",
            }
        },
        "init": {"autoencoder": str(tiny_autoencoder(workdir))},
        "train": {"steps": 2, "batch_size": 4, "lr": 1e-3, "ema_decay": 0.0, "sample_every": 0},
        **sections,
    }


def tiny_teacher(workdir: Path) -> Path:
    """A seconds-long ``latent-flow`` run (trained once per `workdir`) for ``latent-distill`` to distill from."""
    from text2sign.checkpoints import resolve_checkpoint
    from text2sign.families import get_family
    from text2sign.training import parse_experiment, train

    run = workdir / "tiny-latent-flow"
    if not (run / "checkpoints").exists():
        flow = get_family("latent-flow").tiny(workdir)
        train(parse_experiment({**flow, "name": "tiny-latent-flow"}, source="tiny latent-flow config"), run)
    return resolve_checkpoint(run)


def one_error_line(capsys) -> str:
    """What the CLI printed to stderr, checked to be one ``error: ...`` line and no traceback
    (pytest's `capsys`): the shape of every error a user can cause."""
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def tiny_stable_diffusion(root: Path, seed: int = 0) -> Path:
    """A randomly initialised Stable-Diffusion-style directory at `root` (built once): a two-level
    ``UNet2DConditionModel`` on 4 latent channels, an ``AutoencoderKL`` that halves each side, a
    two-layer CLIP text encoder (32 wide) and a character-level CLIP tokenizer, in diffusers'
    pipeline layout. The Tune-A-Video tests build from it; nothing is downloaded. Needs the
    [video] extra (diffusers, transformers)."""
    import json

    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    if (root / "model_index.json").is_file():
        return root
    torch.manual_seed(seed)
    root.mkdir(parents=True, exist_ok=True)
    UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(32, 64),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=8,
    ).save_pretrained(root / "unet")
    AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        block_out_channels=(16, 32),
        norm_num_groups=8,
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
    ).save_pretrained(root / "vae")
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    specials = ["<|startoftext|>", "<|endoftext|>"]
    vocab = {token: i for i, token in enumerate(specials + letters + [f"{c}</w>" for c in letters])}
    tokenizer_dir = root / "tokenizer"
    tokenizer_dir.mkdir(exist_ok=True)
    (tokenizer_dir / "vocab.json").write_text(json.dumps(vocab))
    (tokenizer_dir / "merges.txt").write_text("#version: 0.2\n")
    CLIPTokenizer(
        str(tokenizer_dir / "vocab.json"),
        str(tokenizer_dir / "merges.txt"),
        pad_token="<|endoftext|>",
        model_max_length=32,
    ).save_pretrained(tokenizer_dir)
    CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(vocab),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=32,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        )
    ).save_pretrained(root / "text_encoder")
    (root / "model_index.json").write_text(
        json.dumps(
            {
                "_class_name": "StableDiffusionPipeline",
                "unet": ["diffusers", "UNet2DConditionModel"],
                "vae": ["diffusers", "AutoencoderKL"],
                "text_encoder": ["transformers", "CLIPTextModel"],
                "tokenizer": ["transformers", "CLIPTokenizer"],
            }
        )
    )
    return root
