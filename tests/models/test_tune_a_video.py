"""Tune-A-Video and latent-space video diffusion, on a tiny random Stable-Diffusion directory made
here (text2sign.testing.tiny_stable_diffusion): no download anywhere."""

from __future__ import annotations

import copy
import sys

import pytest
import torch

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from text2sign.errors import CheckpointError, ConfigError, CorpusError
from text2sign.models.frame_codec import FrameVAE
from text2sign.models.video_diffusion import VideoDiffusionConfig, VideoDiffusionNet
from text2sign.testing import tiny_stable_diffusion
from text2sign.text.encoders import TextEncoderConfig

FRAMES = 4


@pytest.fixture(scope="module")
def sd(tmp_path_factory):
    return tiny_stable_diffusion(tmp_path_factory.mktemp("sd") / "tiny-sd")


def clip_text(sd, **extra) -> TextEncoderConfig:
    return TextEncoderConfig(
        kind="hf",
        path=str(sd),
        d_model=32,
        layers=0,
        heads=4,
        passthrough=True,
        signed_languages=["ase", "gsg"],
        **extra,
    )


def tune_a_video(sd, **extra) -> VideoDiffusionNet:
    net = VideoDiffusionNet(
        VideoDiffusionConfig(
            denoiser="tune-a-video", pretrained=str(sd), text=clip_text(sd), frames=FRAMES, size=16, heads=4, **extra
        )
    )
    net.load_pretrained()
    return net.eval()


def image_unet(sd):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel.from_pretrained(str(sd / "unet"), low_cpu_mem_usage=False).eval()


def inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, 4, FRAMES, 8, 8, generator=g), torch.tensor([10, 700])


def model_and_inputs(sd, **extra):
    """A fresh Tune-A-Video net, a batch of latents, timesteps and a text context."""
    net = tune_a_video(sd, **extra)
    x, t = inputs()
    return net, x, t, *net.encode(["hello", "ab"], ["ase", "ase"])


def changed_frame(x, frame):
    changed = x.clone()
    changed[:, :, frame] += 1.0
    return changed


def per_frame(unet, x, t, context, mask):
    """The image UNet on every frame alone: what the inflated UNet must equal before tuning."""
    frames = [
        unet(x[:, :, f], t, encoder_hidden_states=context, encoder_attention_mask=mask).sample
        for f in range(x.shape[2])
    ]
    return torch.stack(frames, dim=2)


def test_text_passthrough_hands_clip_states_on_unchanged(sd):
    from transformers import CLIPTextModel, CLIPTokenizer

    net = tune_a_video(sd)
    context, mask = net.encode(["hello", "ab"], ["ase", "gsg"])
    tokens = CLIPTokenizer.from_pretrained(str(sd / "tokenizer"))(["hello", "ab"], padding=True, return_tensors="pt")
    clip = CLIPTextModel.from_pretrained(str(sd / "text_encoder")).eval()
    expected = clip(**tokens).last_hidden_state * tokens["attention_mask"][..., None]
    assert torch.allclose(context, expected, atol=1e-5)
    assert mask.tolist() == tokens["attention_mask"].bool().tolist()


def test_without_sparse_causal_it_is_the_image_unet_frame_by_frame(sd):
    net, x, t, context, mask = model_and_inputs(sd, sparse_causal=False)
    with torch.no_grad():
        ours = net(x, t, context, mask)
        theirs = per_frame(image_unet(sd), x, t, context, mask)
    assert ours.shape == x.shape
    assert torch.allclose(ours, theirs, atol=1e-4)


def test_sparse_causal_attention_reads_the_first_and_previous_frame_only(sd):
    net, x, t, context, mask = model_and_inputs(sd)
    with torch.no_grad():
        out = net(x, t, context, mask)
        assert torch.allclose(
            out[:, :, 0], per_frame(image_unet(sd), x[:, :, :1], t, context, mask)[:, :, 0], atol=1e-4
        )
        assert torch.equal(
            net(changed_frame(x, -1), t, context, mask)[:, :, :-1], out[:, :, :-1]
        )  # no frame reads a later one
        assert not torch.allclose(
            net(changed_frame(x, 0), t, context, mask)[:, :, 2], out[:, :, 2]
        )  # frame 2 reads frame 0


def test_tuned_temporal_layers_mix_all_frames_and_a_deep_copy_keeps_its_own(sd):
    net, x, t, context, mask = model_and_inputs(sd)
    with torch.no_grad():
        before = net(x, t, context, mask)
        ema = copy.deepcopy(net)  # how the training loop keeps its EMA copy
        for layer in net.backbone.temporal:
            torch.nn.init.normal_(layer.attn.out.weight, std=0.5)
        after = net(x, t, context, mask)
        assert not torch.allclose(
            net(changed_frame(x, -1), t, context, mask)[:, :, 0], after[:, :, 0]
        )  # frame 0 sees frame 3
        assert torch.equal(ema(x, t, context, mask), before)  # the copy's hooks run the copy's (untouched) layers


def test_freeze_to_recipe_trains_temporal_layers_and_queries_only(sd):
    net = VideoDiffusionNet(
        VideoDiffusionConfig(
            denoiser="tune-a-video",
            pretrained=str(sd),
            text=clip_text(sd),
            frames=FRAMES,
            size=16,
            heads=4,
            freeze_pretrained=True,
        )
    )
    notes = net.load_pretrained()
    assert any("query-projection" in note for note in notes)
    trainable = {n for n, p in net.backbone.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith("temporal.") or ".attn1.to_q." in n or ".attn2.to_q." in n for n in trainable)
    assert any(".attn2.to_q." in n for n in trainable) and any(n.startswith("temporal.") for n in trainable)
    for layer in net.backbone.temporal:
        torch.nn.init.normal_(layer.attn.out.weight, std=0.1)
    x, t = inputs()
    net(x, t, *net.encode(["hello", "ab"], ["ase", "ase"])).pow(2).mean().backward()
    assert all(p.grad is not None for n, p in net.backbone.named_parameters() if n in trainable)
    assert all(p.grad is None for n, p in net.backbone.named_parameters() if n not in trainable)


def test_gradient_checkpointing_runs_through_diffusers_and_changes_no_gradient(sd):
    from text2sign.models.checkpointing import enable_gradient_checkpointing

    net = tune_a_video(sd).train()
    for layer in net.backbone.temporal:
        torch.nn.init.normal_(layer.attn.out.weight, std=0.5)
    x, t = inputs()

    def gradients():
        net.zero_grad()
        net(x, t, *net.encode(["hello", "ab"], ["ase", "ase"])).pow(2).mean().backward()
        return {n: p.grad.clone() for n, p in net.named_parameters() if p.grad is not None}

    plain = gradients()
    assert enable_gradient_checkpointing(net, "video-diffusion") == 1  # the UNet; the frozen VAE is left alone
    assert net.backbone.unet.is_gradient_checkpointing
    checkpointed = gradients()
    assert plain.keys() == checkpointed.keys() and any(n.startswith("backbone.temporal") for n in plain)
    assert all(torch.allclose(plain[n], checkpointed[n], atol=1e-5) for n in plain)


def test_checkpoints_leave_the_frozen_vae_and_text_encoder_out(sd):
    net = tune_a_video(sd)
    keys = set(net.state_dict())
    assert not any(k.startswith(("frame_vae", "text_encoder.backbone")) or "backbone.module" in k for k in keys)
    assert any(k.startswith("backbone.unet.") for k in keys) and any(k.startswith("backbone.temporal.") for k in keys)
    rebuilt = VideoDiffusionNet(net.config).eval()  # from the config alone, as a checkpoint load does
    rebuilt.load_state_dict(net.state_dict())
    x, t = inputs()
    context = net.encode(["ab", "b"], ["ase", "ase"])
    with torch.no_grad():
        assert torch.equal(rebuilt(x, t, *context), net(x, t, *context))


def test_frame_vae_encodes_per_frame_and_chunking_changes_nothing(sd):
    videos = torch.rand(2, 3, 5, 16, 16) * 2 - 1
    whole, chunked = FrameVAE.from_directory(sd), FrameVAE.from_directory(sd / "vae", frame_chunk=3)
    latents = whole.encode(videos)
    assert latents.shape == (2, 4, 5, 8, 8) and not latents.requires_grad
    assert torch.allclose(chunked.encode(videos), latents, atol=1e-5)
    assert torch.allclose(whole.encode(videos[:, :, 2:3]), latents[:, :, 2:3], atol=1e-5)  # frame by frame
    decoded = whole.decode(latents)
    assert decoded.shape == videos.shape and decoded.abs().max() <= 1.0
    assert torch.allclose(chunked.decode(latents), decoded, atol=1e-5)
    assert not list(whole.parameters()) and not whole.state_dict()


def test_any_denoiser_runs_in_a_vae_latent_space(sd):
    text = TextEncoderConfig(
        d_model=16, layers=1, heads=2, vocab=["<pad>", "<unk>", "a", "b"], signed_languages=["ase"]
    )
    net = VideoDiffusionNet(
        VideoDiffusionConfig(
            denoiser="dit3d", text=text, frames=FRAMES, size=16, width=16, heads=2, depth=1, patch=4, vae=str(sd)
        )
    )
    assert net.latent_shape(FRAMES) == (4, FRAMES, 8, 8)
    z = net.to_latent(torch.zeros(1, 3, FRAMES, 16, 16))
    assert net(z, torch.tensor([5]), *net.encode(["ab"], ["ase"])).shape == z.shape
    with pytest.raises(ConfigError, match="patches"):
        VideoDiffusionNet(
            VideoDiffusionConfig(
                denoiser="dit3d", text=text, frames=FRAMES, size=16, width=16, heads=2, depth=1, patch=16, vae=str(sd)
            )
        )  # 8 latent px cannot hold 16 px patches


def test_bad_settings_are_one_line_errors(sd, tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="needs model.pretrained"):
        VideoDiffusionConfig(denoiser="tune-a-video")
    with pytest.raises(ConfigError, match="not dit3d"):
        VideoDiffusionConfig(denoiser="dit3d", pretrained=str(sd))
    with pytest.raises(CheckpointError, match="not a diffusers model directory"):
        VideoDiffusionNet(VideoDiffusionConfig(denoiser="tune-a-video", pretrained=str(tmp_path), text=clip_text(sd)))
    with pytest.raises(ConfigError, match="passthrough needs d_model"):
        VideoDiffusionNet(
            VideoDiffusionConfig(
                denoiser="tune-a-video",
                pretrained=str(sd),
                text=TextEncoderConfig(kind="hf", path=str(sd), d_model=16, layers=0, heads=4, passthrough=True),
            )
        )
    monkeypatch.setitem(sys.modules, "diffusers", None)
    with pytest.raises(ConfigError, match=r"text2sign\[video\]"):
        FrameVAE.from_directory(sd)


def test_the_shipped_config_tunes_one_clip_in_latent_space_and_generates_video(sd, tmp_path):
    from pathlib import Path

    from text2sign.pipelines import load_pipeline
    from text2sign.testing import tiny_video_corpus
    from text2sign.training import load_config, train

    config_file = Path(__file__).resolve().parents[2] / "configs" / "fs-video-tune-a-video.yaml"
    tiny = [
        f"data.corpus={tiny_video_corpus(tmp_path)}",
        f"model.pretrained={sd}",
        "model.text.d_model=32",
        "model.text.heads=4",
        f"model.frames={FRAMES}",
        "model.size=16",
        "model.heads=4",
        "train.steps=2",
        "train.batch_size=2",
        "train.sample_every=2",
        "train.checkpoint_every=2",
        "inference.steps=2",
        "train.device=cpu",
    ]
    config = load_config(config_file, [*tiny, "data.one_clip=b"])
    assert config.model.text.path == str(sd)  # the hf text encoder reads the SD directory it is not given twice
    run = tmp_path / "run"
    train(config, run)
    assert list((run / "samples").rglob("*.gif"))  # GIF previews during tuning
    pipeline = load_pipeline(str(run))
    clip = pipeline(["b"], "en", "ase", seed=0).samples[0][0]
    assert clip.frames.shape == (FRAMES, 16, 16, 3) and clip.frames.dtype.name == "uint8"
    with pytest.raises(CorpusError, match="no train clip with the text 'nope'"):
        train(load_config(config_file, [*tiny, "data.one_clip=nope"]), tmp_path / "bad")
