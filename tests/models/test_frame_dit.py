import argparse
import math

import numpy as np
import pytest
import torch
from torch import nn

from text2sign.errors import CheckpointError
from text2sign.models.frame_dit import FrameDiT, load_image_dit

# --- A reference image DiT --------------------------------------------------------------------------------------
# An independent re-implementation of facebookresearch/DiT's models.py image forward (timm's Attention, Mlp and
# PatchEmbed written out, attention as an explicit softmax, positions in numpy as MAE computes them), with the same
# parameter names and shapes, so that its state_dict is a DiT checkpoint.


def ref_pos_embed(dim: int, side: int) -> np.ndarray:
    def one_axis(d: int, pos: np.ndarray) -> np.ndarray:
        omega = 1.0 / 10000 ** (np.arange(d // 2, dtype=np.float64) / (d / 2.0))
        out = np.einsum("m,d->md", pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    coords = np.arange(side, dtype=np.float32)
    grid = np.stack(np.meshgrid(coords, coords), axis=0).reshape(2, 1, side, side)  # grid[0]: column, grid[1]: row
    return np.concatenate([one_axis(dim // 2, grid[0]), one_axis(dim // 2, grid[1])], axis=1)


def ref_modulate(x, shift, scale):
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class RefPatchEmbed(nn.Module):
    def __init__(self, channels, dim, patch):
        super().__init__()
        self.proj = nn.Conv2d(channels, dim, kernel_size=patch, stride=patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class RefAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        weights = ((q * (c // self.heads) ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((weights @ v).transpose(1, 2).reshape(b, n, c))


class RefMlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class RefTimestepEmbedder(nn.Module):
    def __init__(self, dim, frequencies=256):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(frequencies, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.frequencies = frequencies

    def forward(self, t):
        half = self.frequencies // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(0, half, dtype=torch.float32) / half)
        args = t[:, None].float() * freqs[None]
        return self.mlp(torch.cat([torch.cos(args), torch.sin(args)], dim=-1))


class RefLabelEmbedder(nn.Module):
    def __init__(self, num_classes, dim):
        super().__init__()
        self.embedding_table = nn.Embedding(num_classes + 1, dim)  # + the null label of label dropout

    def forward(self, labels):
        return self.embedding_table(labels)


class RefBlock(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn = RefAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.mlp = RefMlp(dim, 4 * dim)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))

    def forward(self, x, c):
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.adaLN_modulation(c).chunk(6, dim=1)
        x = x + gate_msa.unsqueeze(1) * self.attn(ref_modulate(self.norm1(x), shift_msa, scale_msa))
        return x + gate_mlp.unsqueeze(1) * self.mlp(ref_modulate(self.norm2(x), shift_mlp, scale_mlp))


class RefFinalLayer(nn.Module):
    def __init__(self, dim, patch, out_channels):
        super().__init__()
        self.norm_final = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(dim, patch * patch * out_channels)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))

    def forward(self, x, c):
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        return self.linear(ref_modulate(self.norm_final(x), shift, scale))


class RefDiT(nn.Module):
    def __init__(
        self,
        input_size=8,
        patch_size=2,
        in_channels=3,
        hidden_size=32,
        depth=2,
        num_heads=2,
        num_classes=5,
        learn_sigma=True,
    ):
        super().__init__()
        self.out_channels = 2 * in_channels if learn_sigma else in_channels
        self.patch_size, self.num_classes = patch_size, num_classes
        self.x_embedder = RefPatchEmbed(in_channels, hidden_size, patch_size)
        self.t_embedder = RefTimestepEmbedder(hidden_size)
        self.y_embedder = RefLabelEmbedder(num_classes, hidden_size)
        pos = ref_pos_embed(hidden_size, input_size // patch_size)
        self.pos_embed = nn.Parameter(torch.from_numpy(pos).float().unsqueeze(0), requires_grad=False)
        self.blocks = nn.ModuleList([RefBlock(hidden_size, num_heads) for _ in range(depth)])
        self.final_layer = RefFinalLayer(hidden_size, patch_size, self.out_channels)
        with torch.no_grad():  # random everywhere (DiT zero-initialises gates and output, which would hide bugs)
            for name, param in self.named_parameters():
                if name != "pos_embed":
                    param.normal_(std=0.15)

    def unpatchify(self, x):
        c, p = self.out_channels, self.patch_size
        h = w = int(x.shape[1] ** 0.5)
        x = torch.einsum("nhwpqc->nchpwq", x.reshape(x.shape[0], h, w, p, p, c))
        return x.reshape(x.shape[0], c, h * p, h * p)

    def forward(self, x, t, y):
        x = self.x_embedder(x) + self.pos_embed
        c = self.t_embedder(t) + self.y_embedder(y)
        for block in self.blocks:
            x = block(x, c)
        return self.unpatchify(self.final_layer(x, c))

    def unconditional(self, x, t):
        return self.forward(x, t, torch.full((x.shape[0],), self.num_classes))


# --- Helpers ----------------------------------------------------------------------------------------------------

CTX = 8


def frame_dit(**overrides) -> FrameDiT:
    torch.manual_seed(1)
    kwargs = {"channels": 3, "frames": 3, "size": 8, "patch": 2, "dim": 32, "depth": 2, "heads": 2, "context_dim": CTX}
    return FrameDiT(**(kwargs | overrides))


def inputs(channels=3, frames=3, size=8, batch=2):
    torch.manual_seed(2)
    x = torch.randn(batch, channels, frames, size, size)
    t = torch.tensor([10, 700][:batch])
    context = torch.randn(batch, 4, CTX)
    mask = torch.tensor([[True, True, True, False], [True, False, False, False]][:batch])
    return x, t, context, mask


def save_dit(ref: RefDiT, tmp_path, name="dit.pt", **extra):
    path = tmp_path / name
    torch.save({"model": ref.state_dict(), "ema": ref.state_dict(), **extra}, path)
    return path


def per_frame_reference(ref: RefDiT, x, t, channels=3):
    return torch.stack([ref.unconditional(x[:, :, f], t)[:, :channels] for f in range(x.shape[2])], dim=2)


def perturb(model: nn.Module) -> None:
    """Leave the zero inits behind so that every path carries signal."""
    torch.manual_seed(3)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name != "pos_embed":
                param.normal_(std=0.1)


# --- Tests ------------------------------------------------------------------------------------------------------


def test_shapes_round_trip_and_every_new_layer_learns():
    model = frame_dit()
    x, t, context, mask = inputs()
    out = model(x, t, context, mask)
    assert out.shape == x.shape
    assert torch.count_nonzero(out) == 0  # DiT's zero-initialised output layer
    perturb(model)
    (model(x, t, context, mask) - torch.randn_like(x)).pow(2).mean().backward()
    learned = {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    for part in ("temporal.attn.out", "temporal.attn.q", "cross_attn.out", "cross_attn.kv", "text_pool", "attn.qkv"):
        assert any(part in n for n in learned), part


@pytest.mark.parametrize("fmt", ["pt", "safetensors"])
def test_loaded_dit_is_the_image_dit_on_every_frame(tmp_path, fmt):
    torch.manual_seed(0)
    ref = RefDiT()
    if fmt == "pt":  # DiT's train.py layout; "ema" must win over "model"
        decoy = {k: torch.zeros_like(v) for k, v in ref.state_dict().items()}
        path = tmp_path / "0001000.pt"
        args = argparse.Namespace(model="DiT-custom", num_classes=5)
        torch.save({"model": decoy, "ema": ref.state_dict(), "opt": {}, "args": args}, path)
    else:
        from safetensors.torch import save_file

        (tmp_path / "dit").mkdir()
        save_file({k: v.contiguous() for k, v in ref.state_dict().items()}, tmp_path / "dit" / "model.safetensors")
        path = tmp_path / "dit"  # a directory holding exactly one checkpoint
    model = frame_dit()
    notes = load_image_dit(model, path)
    x, t, context, mask = inputs()
    with torch.no_grad():
        out = model(x, t, context, mask)
        expected = per_frame_reference(ref, x, t)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)
    assert torch.count_nonzero(out) > 0
    assert any(n.startswith("final_layer.linear: 6 output channels (learned sigma) -> 3") for n in notes)
    assert any(n.startswith("y_embedder: 5 class labels dropped") for n in notes)
    assert not any("lacks" in n or "no place" in n for n in notes), notes


def test_a_loaded_model_keeps_its_frames_apart_until_trained(tmp_path):
    torch.manual_seed(0)
    model = frame_dit()
    load_image_dit(model, save_dit(RefDiT(), tmp_path))
    x, t, context, mask = inputs()
    moved = x.clone()
    moved[:, :, 0] += 1.0
    with torch.no_grad():
        a, b = model(x, t, context, mask), model(moved, t, context, mask)
    assert not torch.allclose(a[:, :, 0], b[:, :, 0])
    torch.testing.assert_close(a[:, :, 1:], b[:, :, 1:], atol=1e-6, rtol=0)


def test_channel_adaptations_are_reported_and_keep_the_dit_meaningful(tmp_path):
    torch.manual_seed(0)
    four = RefDiT(in_channels=4)  # e.g. a latent DiT: 4 in, 8 out with learned sigma
    model = frame_dit()
    notes = load_image_dit(model, save_dit(four, tmp_path, "four.pt"))
    assert (
        "x_embedder.proj.weight: 4 input channels -> 3 (kept the first 3; the dropped ones act as if they were "
        "zero)" in notes
    )
    assert (
        "final_layer.linear: 8 output channels (learned sigma) -> 3 (kept the first 3 noise channels, dropped the "
        "variance)" in notes
    )
    x, t, context, mask = inputs()
    with torch.no_grad():
        padded = torch.cat([x, torch.zeros_like(x[:, :1])], dim=1)
        torch.testing.assert_close(model(x, t, context, mask), per_frame_reference(four, padded, t), atol=1e-5, rtol=0)

    ref3 = RefDiT(in_channels=3)
    wider = frame_dit(channels=4)
    notes = load_image_dit(wider, save_dit(ref3, tmp_path, "three.pt"))
    assert (
        "x_embedder.proj.weight: 3 input channels -> 4 (channel 3 starts with zero weights, so the DiT ignores "
        "the extra input at first)" in notes
    )
    assert any("6 output channels (learned sigma) -> 4" in n and "channel 3 starts at zero" in n for n in notes)
    x4, t, context, mask = inputs(channels=4)
    with torch.no_grad():
        out = wider(x4, t, context, mask)
        torch.testing.assert_close(out[:, :3], per_frame_reference(ref3, x4[:, :3], t), atol=1e-5, rtol=0)
    assert torch.count_nonzero(out[:, 3]) == 0


def test_a_new_patch_grid_recomputes_the_positions(tmp_path):
    torch.manual_seed(0)
    big = RefDiT(input_size=16)
    model = frame_dit()
    notes = load_image_dit(model, save_dit(big, tmp_path))
    assert "pos_embed: 64 -> 16 tokens (recomputed for a 4x4 grid)" in notes
    small = RefDiT(input_size=8)  # the same weights on the 8-px grid: DiT's own positions for it
    small.load_state_dict({k: v for k, v in big.state_dict().items() if k != "pos_embed"}, strict=False)
    x, t, context, mask = inputs()
    with torch.no_grad():
        torch.testing.assert_close(model(x, t, context, mask), per_frame_reference(small, x, t), atol=1e-5, rtol=0)


def test_depth_changes_both_ways(tmp_path):
    torch.manual_seed(0)
    ref = RefDiT(depth=3)
    path = save_dit(ref, tmp_path)
    x, t, context, mask = inputs()

    deeper = frame_dit(depth=5)
    notes = load_image_dit(deeper, path)
    assert any(n.startswith("model has 5 blocks, checkpoint 3 (blocks 3-4 start fresh") for n in notes)
    with torch.no_grad():  # fresh blocks have zero adaLN gates: still exactly the 3-block DiT
        torch.testing.assert_close(deeper(x, t, context, mask), per_frame_reference(ref, x, t), atol=1e-5, rtol=0)

    shallower = frame_dit(depth=2)
    notes = load_image_dit(shallower, path)
    assert "blocks: checkpoint has 3, model 2 (kept the first 2)" in notes
    ref.blocks = ref.blocks[:2]
    with torch.no_grad():
        torch.testing.assert_close(shallower(x, t, context, mask), per_frame_reference(ref, x, t), atol=1e-5, rtol=0)


def test_a_head_count_unlike_the_released_dits_is_reported(tmp_path):
    torch.manual_seed(0)
    raw = tmp_path / "dit-s.pt"  # a bare state dict, as DiT's released files are: nothing says how many heads
    torch.save(RefDiT(hidden_size=384, depth=1, num_heads=2).state_dict(), raw)
    notes = load_image_dit(frame_dit(dim=384, depth=1), raw)
    assert (
        "attention heads: the checkpoint does not record them; the model uses 2, the released 384-wide DiTs 6 "
        "(set heads to 6 if this is one of them)" in notes
    )
    assert not any(n.startswith("attention heads") for n in load_image_dit(frame_dit(dim=384, depth=1, heads=6), raw))


def test_unknown_and_missing_tensors_are_reported(tmp_path):
    torch.manual_seed(0)
    state = {f"module.{k}": v for k, v in RefDiT().state_dict().items()}  # DDP prefixes are stripped
    state["module.extra.head.weight"] = torch.ones(2)
    del state["module.final_layer.adaLN_modulation.1.bias"]
    path = tmp_path / "raw.pth"
    torch.save(state, path)
    notes = load_image_dit(frame_dit(), path)
    assert "checkpoint tensors the model has no place for (ignored): extra.head.weight" in notes
    assert (
        "model tensors the checkpoint lacks (kept their initialisation): final_layer.adaLN_modulation.1.bias" in notes
    )


def one_line_checkpoint_error(message: str, model: FrameDiT, path) -> None:
    with pytest.raises(CheckpointError, match=message) as info:
        load_image_dit(model, path)
    assert "\n" not in str(info.value)


def test_what_cannot_be_adapted_is_one_checkpoint_error(tmp_path):
    torch.manual_seed(0)
    one_line_checkpoint_error(
        r"wide\.pt: the DiT is 64 wide, the model 32; set the model width to 64",
        frame_dit(),
        save_dit(RefDiT(hidden_size=64), tmp_path, "wide.pt"),
    )
    one_line_checkpoint_error(
        r"4-pixel patches, the model 2", frame_dit(), save_dit(RefDiT(patch_size=4), tmp_path, "patch.pt")
    )
    small = RefDiT(hidden_size=384, depth=1, num_heads=2)  # DiT-S's width; DiT-S has 6 heads
    preset = save_dit(small, tmp_path, "preset.pt", args=argparse.Namespace(model="DiT-S/2", num_classes=5))
    one_line_checkpoint_error(
        r"DiT-S/2 splits its width 384 into 6 heads, the model into 2; set heads to 6",
        frame_dit(dim=384, depth=1),
        preset,
    )
    one_line_checkpoint_error(r"DiT checkpoint not found: .*missing\.pt", frame_dit(), tmp_path / "missing.pt")
    (tmp_path / "broken.pt").write_bytes(b"not a checkpoint")
    one_line_checkpoint_error(r"cannot read DiT checkpoint .*broken\.pt: ", frame_dit(), tmp_path / "broken.pt")
    one_line_checkpoint_error(
        r"must hold exactly one DiT checkpoint .* it holds 4: broken\.pt, patch\.pt", frame_dit(), tmp_path
    )
    torch.save({"model": {"weight": torch.ones(1)}}, tmp_path / "other.pt")
    one_line_checkpoint_error(r"other\.pt is not a DiT checkpoint", frame_dit(), tmp_path / "other.pt")


def test_frame_chunks_give_the_same_output():
    x, t, context, mask = inputs(frames=5)
    whole = frame_dit(frames=5)
    perturb(whole)
    with torch.no_grad():
        expected = whole(x, t, context, mask)
        for chunk in (1, 2, 4, 20):  # 2 and 4 split the 10 frame rows across the two clips
            chunked = frame_dit(frames=5, frame_chunk=chunk)
            chunked.load_state_dict(whole.state_dict())
            torch.testing.assert_close(chunked(x, t, context, mask), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("temporal", ["attention", "conv"])
def test_temporal_layers_carry_the_first_frame_to_the_last(temporal):
    model = frame_dit(temporal=temporal, frames=3)  # depth 2: two (3, 1, 1) convolutions reach 2 frames away
    perturb(model)
    x, t, context, mask = inputs(frames=3)
    moved = x.clone()
    moved[:, :, 0] += 1.0
    with torch.no_grad():
        assert not torch.allclose(model(x, t, context, mask)[:, :, -1], model(moved, t, context, mask)[:, :, -1])


def test_text_changes_the_prediction_and_padding_does_not():
    model = frame_dit()
    perturb(model)
    x, t, context, mask = inputs()
    with torch.no_grad():
        out = model(x, t, context, mask)
        padded = context.clone()
        padded[~mask] = 100.0
        torch.testing.assert_close(model(x, t, padded, mask), out, atol=1e-5, rtol=0)
        assert not torch.allclose(model(x, t, context + 1.0, mask), out)


def test_freeze_spatial_freezes_exactly_the_dit_parameters():
    model = frame_dit()
    dit_names = set(RefDiT().state_dict()) - {"y_embedder.embedding_table.weight"}
    assert model.spatial_parameter_names() == dit_names
    model.freeze_spatial()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {n for n, _ in model.named_parameters()} - dit_names
    assert trainable and all(n.startswith("text_pool") or ".cross_" in n or ".temporal." in n for n in trainable)


def test_constructor_rejects_bad_shapes_in_one_line():
    for kwargs, message in [
        ({"size": 9}, "not divisible by patch size"),
        ({"heads": 3}, "not divisible by 3 heads"),
        ({"temporal": "lstm"}, "temporal must be one of"),
        ({"frame_chunk": -1}, "frame_chunk"),
    ]:
        with pytest.raises(ValueError, match=message):
            frame_dit(**kwargs)
