"""Tune-A-Video (the "UNet3D" design's pretrained route): a Stable Diffusion UNet inflated to video.

Wu et al., 2023. The image UNet (diffusers' ``UNet2DConditionModel``) runs on every frame -- its
3x3 convolutions act as (1, 3, 3) ones, frames folded into the batch -- and gains two things:

* sparse-causal self-attention: each frame's queries read the keys and values of the first and
  the previous frame instead of its own, which ties appearance to the first frame;
* a temporal attention layer after every transformer block, attending over the frames at each
  spatial position. Its output projection starts at zero, so it adds nothing until tuned.

Before tuning, frame 0 is exactly the image model's output (and every frame is, with
`sparse_causal` off). Tuning trains the temporal layers and the attention query projections
(the paper's recipe: :meth:`InflatedUNet.freeze_to_recipe`) or everything.

The weights come from a local Stable-Diffusion-style diffusers directory (``unet/``, ``vae/``,
``text_encoder/``, ``tokenizer/`` beside ``model_index.json``): only local files are read.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from text2sign.errors import CheckpointError, first_line
from text2sign.models.frame_codec import diffusers_component, import_diffusers
from text2sign.models.video_denoisers import TemporalAttention

TUNED_IN_RECIPE = ("attn1.to_q", "attn2.to_q")  # besides the temporal layers


class TemporalLayer(TemporalAttention):
    """Temporal attention hooked after a transformer block, which sees frames folded into the batch."""

    frames = 1  # set by InflatedUNet.forward

    def after_block(self, _block, _args, tokens: torch.Tensor) -> torch.Tensor:
        """A forward hook: a bound method, so a deep copy of the model (EMA) calls its own copy."""
        bt, n, c = tokens.shape
        return self(tokens.view(bt // self.frames, self.frames, n, c)).reshape(bt, n, c)


class SparseCausalAttention:
    """A diffusers attention processor: frame i attends to frames 0 and i-1 (frame 0 to itself)."""

    frames = 1  # set by InflatedUNet.forward

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kwargs):
        frames = self.frames
        bt, n, _ = hidden_states.shape
        b = bt // frames
        residual = hidden_states
        query = attn.to_q(hidden_states)
        first = torch.zeros(frames, dtype=torch.long, device=hidden_states.device)
        previous = (torch.arange(frames, device=hidden_states.device) - 1).clamp(min=0)

        def sparse(projected: torch.Tensor) -> torch.Tensor:
            per_frame = projected.view(b, frames, n, -1)
            return torch.cat([per_frame[:, first], per_frame[:, previous]], dim=2).reshape(bt, 2 * n, -1)

        key, value = sparse(attn.to_k(hidden_states)), sparse(attn.to_v(hidden_states))
        heads = attn.heads

        def split(x):
            return x.view(bt, -1, heads, x.shape[-1] // heads).transpose(1, 2)

        out = F.scaled_dot_product_attention(split(query), split(key), split(value))
        out = attn.to_out[1](attn.to_out[0](out.transpose(1, 2).reshape(bt, n, -1)))
        if attn.residual_connection:
            out = out + residual
        return out / attn.rescale_output_factor


class InflatedUNet(nn.Module):
    """``forward(x (B, C, T, h, w) latents, t (B,), context (B, L, D), context_mask (B, L))``.

    Built from the directory's ``unet/config.json`` with fresh weights; :meth:`load_pretrained`
    copies the image UNet's weights in (training does, once; a trained checkpoint holds them all).
    """

    def __init__(self, directory: str | Path, sparse_causal: bool = True, temporal_heads: int = 8):
        super().__init__()
        diffusers = import_diffusers("denoiser tune-a-video")
        from diffusers.models.attention import BasicTransformerBlock

        self.folder = diffusers_component(directory, "unet")
        self.unet = diffusers.UNet2DConditionModel.from_config(diffusers.UNet2DConditionModel.load_config(self.folder))
        self.temporal = nn.ModuleList()
        self.sparse_causal: list[SparseCausalAttention] = []
        for block in (m for m in self.unet.modules() if isinstance(m, BasicTransformerBlock)):
            dim = block.norm1.normalized_shape[0]
            layer = TemporalLayer(dim, next(h for h in (temporal_heads, 4, 2, 1) if dim % h == 0))
            self.temporal.append(layer)
            block.register_forward_hook(layer.after_block)
            if sparse_causal:
                self.sparse_causal.append(SparseCausalAttention())
                block.attn1.set_processor(self.sparse_causal[-1])

    @property
    def in_channels(self) -> int:
        return self.unet.config.in_channels

    @property
    def cross_attention_dim(self) -> int:
        return self.unet.config.cross_attention_dim

    def load_pretrained(self) -> list[str]:
        diffusers = import_diffusers("denoiser tune-a-video")
        try:
            image_unet = diffusers.UNet2DConditionModel.from_pretrained(
                str(self.folder), local_files_only=True, low_cpu_mem_usage=False
            )
        except (OSError, ValueError, RuntimeError) as error:
            raise CheckpointError(f"cannot read the UNet in {self.folder}: {first_line(error)}") from None
        self.unet.load_state_dict(image_unet.state_dict())
        return [
            (
                f"tune-a-video: image UNet weights from {self.folder}; {len(self.temporal)} temporal attention "
                f"layers added (zero output, so the model starts as the image UNet frame by frame)"
            )
        ]

    def freeze_to_recipe(self) -> list[str]:
        """Train only what Tune-A-Video tunes: temporal layers and the attention query projections."""
        tuned = []
        for name, parameter in self.unet.named_parameters():
            parameter.requires_grad_(any(f".{part}." in f".{name}" for part in TUNED_IN_RECIPE))
            tuned += [name] if parameter.requires_grad else []
        return [f"tune-a-video: UNet frozen but {len(tuned)} query-projection tensors; temporal layers trained"]

    def forward(self, x, t, context, context_mask):
        b, c, frames, h, w = x.shape
        for frame_aware in (*self.temporal, *self.sparse_causal):
            frame_aware.frames = frames
        folded = x.transpose(1, 2).reshape(b * frames, c, h, w)
        out = self.unet(
            folded,
            t.repeat_interleave(frames),
            encoder_hidden_states=context.repeat_interleave(frames, 0),
            encoder_attention_mask=context_mask.repeat_interleave(frames, 0),
        ).sample
        return out.view(b, frames, -1, h, w).transpose(1, 2)
