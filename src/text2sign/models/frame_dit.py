"""Frame DiT: a pretrained image DiT run frame by frame, tied together by temporal layers (design "DiT video").

A video diffusion transformer trained from scratch needs far more clips than a sign language corpus holds,
while image DiTs (facebookresearch/DiT, and TinyFusion's depth-pruned DiTs in the same format) already know
how to denoise images. So this backbone keeps DiT's per-frame computation exactly -- patch embedding, fixed
2D sin-cos positions, timestep MLP, adaLN-Zero blocks, final layer -- under DiT's own module names, so that a
DiT checkpoint loads by name (:func:`load_image_dit`). Each block gains two layers DiT does not have:

* text cross-attention between self-attention and the MLP (DiT conditions on a class label, we on text);
* a temporal layer after the block: attention over the frames at each patch position (``"attention"``), or
  a (3, 1, 1) convolution on the token grid (``"conv"``).

Both, and the pooled-text term of the conditioning vector (which replaces DiT's class embedding), start with
zero output: right after loading, the model *is* the image DiT applied to each frame, and fine-tuning learns
motion and text from there -- with the DiT part frozen if wanted (:meth:`FrameDiT.freeze_spatial`).

``frame_chunk`` runs the per-frame part of each block over at most that many frames at a time. It bounds the
peak memory of attention and the MLP for long clips at inference; in training autograd still keeps every
chunk's activations, so it only lowers the peak of the transient ones. Temporal layers always see all frames.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from text2sign.errors import CheckpointError, first_line
from text2sign.models.checkpointing import GradientCheckpointing
from text2sign.models.video_denoisers import TemporalAttention, _modulate
from text2sign.text.layers import Attention, masked_mean, sinusoidal_embedding

TEMPORAL_KINDS = ("attention", "conv")
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".safetensors")
FREQUENCY_DIMS = 256  # DiT's TimestepEmbedder input width; its first Linear is stored with this many columns
# Heads of the released DiTs by width: DiT-S/B/L/XL, TinyFusion's DiT-H (its pruned D7/D14/D19 are XL-wide).
DIT_HEADS_BY_WIDTH = {384: 6, 768: 12, 1024: 16, 1152: 16, 2304: 32}
_NORM_EPS = 1e-6  # DiT's LayerNorm epsilon: another value would make a loaded model differ from the DiT
_DIT_TOP_PARTS = ("x_embedder", "pos_embed", "t_embedder", "final_layer")
_DIT_BLOCK_PARTS = ("attn", "mlp", "adaLN_modulation")  # norm1 / norm2 have no parameters


def dit_timestep_features(t: torch.Tensor, dim: int = FREQUENCY_DIMS) -> torch.Tensor:
    """DiT's sinusoidal timestep features ``(B,) -> (B, dim)``: our sinusoid with cosines first, as DiT orders them."""
    half = dim // 2
    emb = sinusoidal_embedding(t, dim)
    return torch.cat([emb[..., half : 2 * half], emb[..., :half], emb[..., 2 * half :]], dim=-1)


def dit_pos_embed(dim: int, side: int) -> torch.Tensor:
    """DiT's fixed 2D sin-cos positions (MAE's) for a ``side x side`` patch grid: ``(1, side*side, dim)``.

    Token (row i, column j) gets ``[sin(j w), cos(j w), sin(i w), cos(i w)]`` with ``dim / 4`` frequencies w,
    computed in float64 as DiT does, so a recomputed table matches a checkpoint's stored one.
    """
    quarter = dim // 4
    omega = 1.0 / 10_000 ** (torch.arange(quarter, dtype=torch.float64) / quarter)
    rows, cols = torch.meshgrid(
        torch.arange(side, dtype=torch.float64), torch.arange(side, dtype=torch.float64), indexing="ij"
    )

    def axis(positions: torch.Tensor) -> torch.Tensor:
        angles = positions.flatten()[:, None] * omega  # (side*side, dim/4)
        return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)

    return torch.cat([axis(cols), axis(rows)], dim=-1).float()[None]


class PatchEmbed(nn.Module):
    """timm's PatchEmbed as DiT uses it: a strided convolution, tokens in row-major patch order."""

    def __init__(self, channels: int, dim: int, patch: int):
        super().__init__()
        self.proj = nn.Conv2d(channels, dim, patch, stride=patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)  # (N, C, H, W) -> (N, H*W/p^2, D)


class TimestepEmbedder(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(FREQUENCY_DIMS, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(dit_timestep_features(t))


class SelfAttention(nn.Module):
    """timm's ViT attention (one fused qkv projection, as DiT stores it) on ``scaled_dot_product_attention``."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)  # (B, H, N, dh)
        return self.proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class TemporalConv(nn.Module):
    """Residual (3, 1, 1) convolution over the frames of the token grid."""

    def __init__(self, dim: int, side: int):
        super().__init__()
        self.side = side
        self.norm = nn.LayerNorm(dim, eps=_NORM_EPS)
        self.conv = nn.Conv3d(dim, dim, (3, 1, 1), padding=(1, 0, 0))
        nn.init.zeros_(self.conv.weight)  # starts as the identity: the loaded image DiT stays per-frame
        nn.init.zeros_(self.conv.bias)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        b, t, _, d = tokens.shape
        grid = self.norm(tokens).permute(0, 3, 1, 2).reshape(b, d, t, self.side, self.side)
        return tokens + self.conv(grid).flatten(3).permute(0, 2, 3, 1)  # back to (B, T, N, D)


class FrameDiTBlock(nn.Module):
    """DiT's adaLN-Zero block per frame, plus text cross-attention; the temporal layer runs after it."""

    def __init__(self, dim: int, heads: int, context_dim: int, temporal: str, side: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=_NORM_EPS)
        self.attn = SelfAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=_NORM_EPS)
        self.mlp = Mlp(dim, 4 * dim)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))
        self.cross_norm = nn.LayerNorm(dim, eps=_NORM_EPS)
        self.cross_attn = Attention(dim, heads, context_dim=context_dim)
        self.temporal = TemporalAttention(dim, heads, _NORM_EPS) if temporal == "attention" else TemporalConv(dim, side)

    def spatial(
        self, x: torch.Tensor, c: torch.Tensor, context: torch.Tensor, context_mask: torch.Tensor | None
    ) -> torch.Tensor:
        """``x (R, N, D)`` frames as images, ``c (R, D)``, ``context (R, L, Dc)`` and its mask, one row per frame."""
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.adaLN_modulation(c).chunk(6, dim=-1)
        x = x + gate_msa[:, None] * self.attn(_modulate(self.norm1(x), shift_msa, scale_msa))
        x = x + self.cross_attn(self.cross_norm(x), context, key_mask=context_mask)
        return x + gate_mlp[:, None] * self.mlp(_modulate(self.norm2(x), shift_mlp, scale_mlp))


class FinalLayer(nn.Module):
    def __init__(self, dim: int, patch: int, channels: int):
        super().__init__()
        self.norm_final = nn.LayerNorm(dim, elementwise_affine=False, eps=_NORM_EPS)
        self.linear = nn.Linear(dim, patch * patch * channels)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=-1)
        return self.linear(_modulate(self.norm_final(x), shift, scale))


def _is_dit_parameter(name: str) -> bool:
    parts = name.split(".")
    return parts[0] in _DIT_TOP_PARTS or (parts[0] == "blocks" and len(parts) > 2 and parts[2] in _DIT_BLOCK_PARTS)


class FrameDiT(GradientCheckpointing, nn.Module):
    """``forward(x (B, C, T, H, W), t (B,), context (B, L, Dc), context_mask (B, L)) -> (B, C, T, H, W)``.

    `t` holds raw diffusion timesteps (int or float), embedded as DiT does; `context_mask` is True on real
    text tokens. `frames` is the clip length the model is built for; frame positions are sinusoidal, so other
    lengths run too.
    """

    def __init__(
        self,
        channels: int,
        frames: int,
        size: int,
        patch: int,
        dim: int,
        depth: int,
        heads: int,
        context_dim: int,
        temporal: Literal["attention", "conv"] = "attention",
        frame_chunk: int = 0,
    ):
        super().__init__()
        if size % patch:
            raise ValueError(f"frame size {size} is not divisible by patch size {patch}")
        if dim % heads:
            raise ValueError(f"model width {dim} is not divisible by {heads} heads")
        if dim % 4:
            raise ValueError(f"model width {dim} is not a multiple of 4, which DiT's 2D sin-cos positions need")
        if temporal not in TEMPORAL_KINDS:
            raise ValueError(f"temporal must be one of {', '.join(TEMPORAL_KINDS)}, got {temporal!r}")
        if frame_chunk < 0:
            raise ValueError(f"frame_chunk must be 0 (all frames at once) or positive, got {frame_chunk}")
        self.channels, self.frames, self.size, self.patch = channels, frames, size, patch
        self.dim, self.heads, self.temporal, self.frame_chunk = dim, heads, temporal, frame_chunk
        side = size // patch
        self.x_embedder = PatchEmbed(channels, dim, patch)
        # A Parameter (frozen) rather than a buffer because DiT stores it so: its checkpoints carry the table.
        self.pos_embed = nn.Parameter(dit_pos_embed(dim, side), requires_grad=False)
        self.t_embedder = TimestepEmbedder(dim)
        self.text_pool = nn.Linear(context_dim, dim)
        self.blocks = nn.ModuleList(FrameDiTBlock(dim, heads, context_dim, temporal, side) for _ in range(depth))
        self.final_layer = FinalLayer(dim, patch, channels)
        self._init_weights()

    def _init_weights(self) -> None:
        """DiT's initialisation, so that blocks a checkpoint does not fill start as the identity too."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.xavier_uniform_(self.x_embedder.proj.weight.view(self.dim, -1))
        nn.init.zeros_(self.x_embedder.proj.bias)
        nn.init.normal_(self.t_embedder.mlp[0].weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[2].weight, std=0.02)
        zero_output = [self.text_pool, self.final_layer.adaLN_modulation[-1], self.final_layer.linear]
        for block in self.blocks:
            zero_output += [block.adaLN_modulation[-1], block.cross_attn.out]
            zero_output.append(
                block.temporal.attn.out if isinstance(block.temporal, TemporalAttention) else block.temporal.conv
            )
        for layer in zero_output:
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def spatial_parameter_names(self) -> set[str]:
        """Names of the parameters an image DiT has (and a DiT checkpoint fills)."""
        return {name for name, _ in self.named_parameters() if _is_dit_parameter(name)}

    def freeze_spatial(self) -> None:
        """Train only what DiT lacks: temporal layers, cross-attention and text pooling."""
        spatial = self.spatial_parameter_names()
        for name, param in self.named_parameters():
            if name in spatial:
                param.requires_grad_(False)

    def forward(
        self, x: torch.Tensor, t: torch.Tensor | float, context: torch.Tensor, context_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        b, c, frames, h, w = x.shape
        if (c, h, w) != (self.channels, self.size, self.size):
            raise ValueError(
                f"expected frames of shape ({self.channels}, {self.size}, {self.size}), got ({c}, {h}, {w})"
            )
        t = torch.as_tensor(t, device=x.device)
        t = t.expand(b) if t.ndim == 0 else t
        cond = self.t_embedder(t) + self.text_pool(masked_mean(context, context_mask))  # (B, D)
        clip = torch.arange(b, device=x.device).repeat_interleave(frames)  # the clip each frame row belongs to
        tokens = self.x_embedder(x.transpose(1, 2).reshape(b * frames, c, h, w)) + self.pos_embed  # (B*T, N, D)
        for block in self.blocks:
            tokens = self.run_block(self._block, block, tokens, cond, context, context_mask, clip, frames)
        out = self.final_layer(tokens, cond[clip])  # (B*T, N, p*p*C)
        p, side = self.patch, self.size // self.patch
        out = torch.einsum("nhwpqc->nchpwq", out.view(b * frames, side, side, p, p, c))  # DiT's unpatchify
        return out.reshape(b, frames, c, h, w).transpose(1, 2)

    def _block(
        self,
        block: FrameDiTBlock,
        tokens: torch.Tensor,
        cond: torch.Tensor,
        context: torch.Tensor,
        context_mask: torch.Tensor | None,
        clip: torch.Tensor,
        frames: int,
    ) -> torch.Tensor:
        """One block: the per-frame part (in chunks of frames), then the temporal layer over all frames."""
        rows, n, d = tokens.shape
        tokens = self._per_frame(block, tokens, cond, context, context_mask, clip)
        return block.temporal(tokens.view(rows // frames, frames, n, d)).reshape(rows, n, d)

    def _per_frame(
        self,
        block: FrameDiTBlock,
        tokens: torch.Tensor,
        cond: torch.Tensor,
        context: torch.Tensor,
        context_mask: torch.Tensor | None,
        clip: torch.Tensor,
    ) -> torch.Tensor:
        rows = tokens.shape[0]
        chunk = self.frame_chunk or rows
        outs = []
        for start in range(0, rows, chunk):
            which = clip[start : start + chunk]
            mask = None if context_mask is None else context_mask[which]
            outs.append(block.spatial(tokens[start : start + chunk], cond[which], context[which], mask))
        return outs[0] if len(outs) == 1 else torch.cat(outs)


def load_image_dit(model: FrameDiT, path: str | Path) -> list[str]:
    """Load a facebookresearch/DiT-format checkpoint into `model`'s image-DiT part; return one note per adaptation.

    `path` is a .pt / .pth / .safetensors file or a directory holding exactly one. A raw state dict or one under
    "ema" (preferred, as DiT's own sampler does), "model" or "state_dict" is accepted, "module." prefixes are
    stripped. Shapes that can be adapted (input / output channels, learned sigma, the patch grid, depth) are, and
    each adaptation is described in the returned notes; anything else raises :class:`CheckpointError`.
    """
    file = _checkpoint_file(Path(path))
    state, args = _state_dict(_read(file), file)
    notes: list[str] = []
    model.load_state_dict(_adapt(model, state, args, file, notes), strict=False)
    return notes


def _checkpoint_file(path: Path) -> Path:
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in CHECKPOINT_SUFFIXES)
        if len(found) != 1:
            listed = f": {', '.join(p.name for p in found)}" if found else ""
            raise CheckpointError(
                f"{path} must hold exactly one DiT checkpoint (.pt, .pth or .safetensors), "
                f"it holds {len(found)}{listed}"
            )
        return found[0]
    if not path.is_file():
        raise CheckpointError(f"DiT checkpoint not found: {path}")
    if path.suffix not in CHECKPOINT_SUFFIXES:
        raise CheckpointError(f"{path} is not a DiT checkpoint: expected a .pt, .pth or .safetensors file")
    return path


def _read(file: Path) -> Any:
    try:
        if file.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(file))
        # DiT's training checkpoints pickle their argparse.Namespace next to the weights; it only holds attributes.
        allow = getattr(torch.serialization, "safe_globals", None)
        with allow([argparse.Namespace]) if allow else contextlib.nullcontext():
            return torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # every reader failure is the file's fault here: report it in one line
        reason = first_line(exc)
        raise CheckpointError(f"cannot read DiT checkpoint {file}: {reason}") from exc


def _state_dict(raw: Any, file: Path) -> tuple[dict[str, torch.Tensor], Any]:
    args = raw.get("args") if isinstance(raw, Mapping) else None
    if isinstance(raw, Mapping):
        raw = next((raw[key] for key in ("ema", "model", "state_dict") if isinstance(raw.get(key), Mapping)), raw)
    tensors = raw.items() if isinstance(raw, Mapping) else ()
    state = {str(k).removeprefix("module."): v for k, v in tensors if isinstance(v, torch.Tensor)}
    if not state:
        raise CheckpointError(f"{file} holds no state dict (no tensors at the top level or under ema/model/state_dict)")
    return state, args


def _arg(args: Any, name: str) -> Any:
    return args.get(name) if isinstance(args, Mapping) else getattr(args, name, None)


def _block_index(key: str) -> int | None:
    """3 for ``blocks.3.attn.qkv.weight``, None outside the blocks."""
    parts = key.split(".")
    return int(parts[1]) if len(parts) > 1 and parts[0] == "blocks" and parts[1].isdigit() else None


def _names(keys: list[str], shown: int = 4) -> str:
    more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
    return ", ".join(keys[:shown]) + more


def _new_channels(start: int, stop: int, verb: str) -> str:
    """``channel 3 starts`` / ``channels 3-4 start``."""
    return f"channel {start} {verb}s" if stop - start == 1 else f"channels {start}-{stop - 1} {verb}"


def _adapt(
    model: FrameDiT, state: dict[str, torch.Tensor], args: Any, file: Path, notes: list[str]
) -> dict[str, torch.Tensor]:
    """The checkpoint's tensors renamed/reshaped to `model`'s DiT part; `notes` gets one line per adaptation."""
    embed = state.get("x_embedder.proj.weight")
    if embed is None or embed.ndim != 4:
        raise CheckpointError(f"{file} is not a DiT checkpoint: it has no x_embedder.proj.weight convolution")
    width, in_channels, patch = embed.shape[0], embed.shape[1], embed.shape[-1]
    if width != model.dim:
        raise CheckpointError(f"{file}: the DiT is {width} wide, the model {model.dim}; set the model width to {width}")
    if patch != model.patch:
        raise CheckpointError(f"{file}: the DiT uses {patch}-pixel patches, the model {model.patch}")
    _check_heads(model, args, width, file, notes)
    own = model.state_dict()
    channels, p2 = model.channels, model.patch**2
    adapted: dict[str, torch.Tensor] = {}
    explained: set[str] = set()  # model tensors deliberately left as they are, already covered by a note

    if in_channels != channels:
        keep = min(in_channels, channels)
        extra = embed.new_zeros(width, channels - keep, patch, patch)
        adapted["x_embedder.proj.weight"] = torch.cat([embed[:, :keep], extra], dim=1)
        if in_channels > channels:
            how = f"kept the first {keep}; the dropped ones act as if they were zero"
        else:
            how = (
                f"{_new_channels(keep, channels, 'start')} with zero weights, so the DiT ignores the extra input "
                "at first"
            )
        notes.append(f"x_embedder.proj.weight: {in_channels} input channels -> {channels} ({how})")

    linear = state.get("final_layer.linear.weight")
    if linear is not None:
        if linear.shape[0] % p2:
            raise CheckpointError(
                f"{file}: final_layer.linear has {linear.shape[0]} outputs, not a multiple of "
                f"{model.patch}x{model.patch} patch pixels"
            )
        out_channels = linear.shape[0] // p2
        sigma = out_channels == 2 * in_channels
        mean_channels = out_channels // 2 if sigma else out_channels
        keep = min(mean_channels, channels)
        for key in ("final_layer.linear.weight", "final_layer.linear.bias"):
            if key in state:
                # Output features are laid out (row p, column q, channel) with the channel fastest; the
                # predicted noise is the first half of the channels when DiT also learned the variance.
                value = state[key].reshape(model.patch, model.patch, out_channels, *state[key].shape[1:])[:, :, :keep]
                pad = value.new_zeros(model.patch, model.patch, channels - keep, *value.shape[3:])
                adapted[key] = torch.cat([value, pad], dim=2).reshape(p2 * channels, *value.shape[3:])
        if out_channels != channels:
            how = f"kept the first {keep} noise channels" + (", dropped the variance" if sigma else "")
            if keep < channels:
                how += f"; {_new_channels(keep, channels, 'start')} at zero"
            notes.append(
                f"final_layer.linear: {out_channels} output channels{' (learned sigma)' if sigma else ''} "
                f"-> {channels} ({how})"
            )

    pos = state.get("pos_embed")
    if pos is not None and pos.shape != own["pos_embed"].shape and pos.ndim == 3 and pos.shape[-1] == width:
        side = model.size // model.patch
        notes.append(f"pos_embed: {pos.shape[1]} -> {side * side} tokens (recomputed for a {side}x{side} grid)")
        explained.add("pos_embed")

    ckpt_depth = 1 + max((i for i in map(_block_index, state) if i is not None), default=-1)
    depth = len(model.blocks)
    if ckpt_depth > depth:
        notes.append(f"blocks: checkpoint has {ckpt_depth}, model {depth} (kept the first {depth})")
    elif ckpt_depth < depth:
        fresh = f"block {ckpt_depth}" if depth - ckpt_depth == 1 else f"blocks {ckpt_depth}-{depth - 1}"
        notes.append(
            f"model has {depth} blocks, checkpoint {ckpt_depth} ({fresh} start fresh; their zero adaLN "
            "gates make them the identity at first)"
        )
        explained |= {k for k in own if (_block_index(k) or 0) >= ckpt_depth}

    _fold_class_embedding(state.get("y_embedder.embedding_table.weight"), args, width, adapted, notes)

    unplaced = []
    for key, value in state.items():
        if key in adapted or key in explained or key.startswith("y_embedder."):
            continue
        if (_block_index(key) or 0) >= depth:
            continue
        if key not in own or not _is_dit_parameter(key):
            unplaced.append(key)
            continue
        if value.shape != own[key].shape:
            raise CheckpointError(
                f"{file}: {key} is {tuple(value.shape)} in the checkpoint but {tuple(own[key].shape)} in the model"
            )
        adapted[key] = value
    if unplaced:
        notes.append(f"checkpoint tensors the model has no place for (ignored): {_names(unplaced)}")
    lacking = sorted(k for k in model.spatial_parameter_names() if k not in adapted and k not in explained)
    if lacking:
        notes.append(f"model tensors the checkpoint lacks (kept their initialisation): {_names(lacking)}")
    return adapted


def _check_heads(model: FrameDiT, args: Any, width: int, file: Path, notes: list[str]) -> None:
    """A state dict does not record the head count; a wrong one loads fine but computes another attention."""
    dit_heads = DIT_HEADS_BY_WIDTH.get(width)
    if dit_heads is None or model.heads == dit_heads:
        return
    preset = _arg(args, "model")
    if isinstance(preset, str) and preset.startswith("DiT-"):
        raise CheckpointError(
            f"{file}: {preset} splits its width {width} into {dit_heads} heads, the model into "
            f"{model.heads}; set heads to {dit_heads}"
        )
    notes.append(
        f"attention heads: the checkpoint does not record them; the model uses {model.heads}, the released "
        f"{width}-wide DiTs {dit_heads} (set heads to {dit_heads} if this is one of them)"
    )


def _fold_class_embedding(
    table: torch.Tensor | None, args: Any, width: int, adapted: dict[str, torch.Tensor], notes: list[str]
) -> None:
    """Drop DiT's class labels, keeping its unconditional ("null label") embedding as text_pool's bias.

    DiT adds a label embedding to the timestep embedding; trained with label dropout (as DiT's train.py always
    does), its last row is the null label of classifier-free guidance. With it as the bias of the zero-weight
    text pooling, the loaded model starts as the unconditional image DiT instead of a DiT with no label at all.
    """
    if table is None:
        return
    num_classes = _arg(args, "num_classes")
    has_null = table.shape[0] == num_classes + 1 if isinstance(num_classes, int) else table.shape[0] > 1
    labels = table.shape[0] - 1 if has_null else table.shape[0]
    note = f"y_embedder: {labels} class labels dropped (text conditioning replaces them)"
    if has_null and table.ndim == 2 and table.shape[1] == width:
        adapted["text_pool.bias"] = table[-1]
        note += "; the null-label embedding is text_pool's bias, so the model starts as the unconditional DiT"
    notes.append(note)
