import pytest
import torch

from text2sign.errors import ConfigError
from text2sign.models.video_diffusion import VideoDiffusionConfig, VideoDiffusionNet, pad_contexts
from text2sign.text.encoders import TextEncoderConfig

TEXT = TextEncoderConfig(
    d_model=16, layers=1, heads=2, vocab=["<pad>", "<unk>", "a", "b"], signed_languages=["ase", "gsg"]
)
SIZES = {
    "unet3d": {"width": 8, "channel_mults": [1, 2], "attention_levels": [1]},
    "dit3d": {"width": 16, "depth": 1, "patch": 4},
    "factorized": {"width": 16, "depth": 1, "patch": 4, "patch_t": 2},
    "frame-dit": {"width": 16, "depth": 1, "patch": 4},
}


def net(denoiser: str) -> VideoDiffusionNet:
    torch.manual_seed(0)
    return VideoDiffusionNet(
        VideoDiffusionConfig(denoiser=denoiser, text=TEXT, frames=4, size=8, heads=2, **SIZES[denoiser])
    )


@pytest.mark.parametrize("denoiser", sorted(SIZES))
def test_every_denoiser_predicts_the_video_shape_and_learns_from_text(denoiser):
    model = net(denoiser)
    x = torch.randn(2, 3, 4, 8, 8)
    t = torch.tensor([3, 900])
    context = model.encode(["ab", "a"], ["ase", "gsg"])
    out = model(x, t, *context)
    assert out.shape == x.shape
    assert torch.count_nonzero(out) == 0  # zero-initialised output: training starts from "predict no noise"
    (out - torch.randn_like(out)).pow(2).mean().backward()
    grads = {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert any(n.startswith("backbone") for n in grads)


@pytest.mark.parametrize("denoiser", sorted(SIZES))
def test_frames_interact_and_text_changes_the_prediction(denoiser):
    model = net(denoiser)
    for p in model.parameters():  # leave zero-init behind so every path carries signal
        torch.nn.init.normal_(p, std=0.2)
    x = torch.randn(1, 3, 4, 8, 8)
    t = torch.tensor([500])
    a = model(x, t, *model.encode(["a"], ["ase"]))
    assert not torch.allclose(a, model(x, t, *model.encode(["b"], ["ase"])))
    changed = x.clone()
    changed[:, :, 0] += 1.0
    moved = model(changed, t, *model.encode(["a"], ["ase"]))
    assert not torch.allclose(a[:, :, 3], moved[:, :, 3])  # frame 0 reaches frame 3 through temporal layers


def test_null_context_pads_against_text_context():
    model = net("dit3d")
    ctx, mask = pad_contexts(model.encode(["abab"], ["ase"]), model.null_context(1))
    assert ctx.shape[:2] == mask.shape == (2, 4) and mask[1].tolist() == [True, False, False, False]


def test_config_checks_shapes_in_one_line():
    with pytest.raises(ConfigError, match="patches"):
        VideoDiffusionConfig(denoiser="dit3d", size=10, patch=4)
    with pytest.raises(ConfigError, match="denoiser"):
        VideoDiffusionConfig(denoiser="unet2d")


def test_diffusers_unet3d_behind_the_same_interface_when_installed():
    pytest.importorskip("diffusers")
    model = VideoDiffusionNet(
        VideoDiffusionConfig(
            denoiser="diffusers-unet3d",
            text=TEXT,
            frames=4,
            size=8,
            width=16,
            heads=2,
            channel_mults=[1, 2],
            attention_levels=[1],
        )
    )
    x = torch.randn(2, 3, 4, 8, 8)
    out = model(x, torch.tensor([3, 900]), *model.encode(["ab", "a"], ["ase", "gsg"]))
    assert out.shape == x.shape
    out.pow(2).mean().backward()
    assert model.text_encoder.embedding.weight.grad.abs().sum() > 0  # the text reaches it through cross-attention


def test_diffusers_unet3d_without_diffusers_is_one_config_error(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "diffusers", None)
    with pytest.raises(ConfigError, match=r"text2sign\[video\]"):
        VideoDiffusionNet(
            VideoDiffusionConfig(denoiser="diffusers-unet3d", text=TEXT, frames=4, size=8, width=16, heads=2)
        )


def test_frame_dit_starts_from_an_image_dit_checkpoint_and_freezes_it(tmp_path):
    from safetensors.torch import save_file

    source = net("frame-dit")
    for p in source.backbone.parameters():
        torch.nn.init.normal_(p, std=0.2)
    spatial = source.backbone.spatial_parameter_names()
    save_file(
        {k: v.contiguous() for k, v in source.backbone.state_dict().items() if k in spatial},
        tmp_path / "dit.safetensors",
    )
    config = VideoDiffusionConfig(
        denoiser="frame-dit",
        text=TEXT,
        frames=4,
        size=8,
        heads=2,
        pretrained=str(tmp_path),
        freeze_pretrained=True,
        **SIZES["frame-dit"],
    )
    model = VideoDiffusionNet(config)
    notes = model.load_pretrained()
    assert any("frozen" in note for note in notes)
    loaded = dict(model.backbone.named_parameters())
    for name, value in source.backbone.named_parameters():
        if name in spatial:
            assert torch.equal(loaded[name], value) and not loaded[name].requires_grad
        else:
            assert loaded[name].requires_grad  # temporal layers, cross-attention and text pooling train
    rebuilt = VideoDiffusionNet(config)  # a trained checkpoint loads without the image DiT's file
    rebuilt.load_state_dict(model.state_dict())
    x, t = torch.randn(1, 3, 4, 8, 8), torch.tensor([10])
    context = model.encode(["ab"], ["ase"])
    assert torch.equal(rebuilt(x, t, *context), model(x, t, *context))


@pytest.mark.parametrize("denoiser", sorted(SIZES))
def test_gradient_checkpointing_changes_no_gradient(denoiser):
    from text2sign.models.checkpointing import enable_gradient_checkpointing

    model = net(denoiser)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.2)
    x, t = torch.randn(2, 3, 4, 8, 8), torch.tensor([3, 900])

    def gradients():
        model.zero_grad()
        torch.manual_seed(0)  # the same dropout masks in both passes (checkpointing replays them too)
        model(x, t, *model.encode(["ab", "a"], ["ase", "gsg"])).pow(2).mean().backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    plain = gradients()
    assert enable_gradient_checkpointing(model, "video-diffusion") == 1
    checkpointed = gradients()
    assert plain.keys() == checkpointed.keys()
    assert all(torch.allclose(plain[n], checkpointed[n], atol=1e-5) for n in plain)


def test_gradient_checkpointing_where_nothing_supports_it_is_one_config_error():
    from text2sign.models.checkpointing import enable_gradient_checkpointing

    with pytest.raises(ConfigError, match="gan-nat family's networks do not support it"):
        enable_gradient_checkpointing(torch.nn.Linear(2, 2), "gan-nat")


def test_train_gradient_checkpointing_trains_a_video_model_and_refuses_a_family_without_it(tmp_path):
    from text2sign.families.gan_nat import tiny_config as gan_nat_tiny
    from text2sign.families.video_diffusion import tiny_config
    from text2sign.training import parse_experiment, train

    config = tiny_config(tmp_path)
    config["train"] = {**config["train"], "gradient_checkpointing": True}
    result = train(parse_experiment(config, source="test"), tmp_path / "run")
    assert (result.checkpoint / "config.json").is_file()
    gan = gan_nat_tiny(tmp_path)
    gan["train"] = {**gan["train"], "gradient_checkpointing": True}
    with pytest.raises(ConfigError, match="gan-nat family's networks do not support it"):
        train(parse_experiment(gan, source="test"), tmp_path / "gan")


def test_paced_text_gives_each_frame_its_letter_then_done():
    torch.manual_seed(0)
    model = VideoDiffusionNet(
        VideoDiffusionConfig(
            denoiser="dit3d",
            text=TEXT,
            frames=4,
            size=8,
            heads=2,
            paced_text=True,
            text_pace=1.5,
            text_lead=1.0,
            **SIZES["dit3d"],
        )
    )
    context, mask = model.encode(["ab", "a"], ["ase", "ase"])
    paced = model.paced_context(context, mask, 6)
    # letter k spans frames [1 + 1.5 k, 2.5 + 1.5 k): frame 0 is before the first letter, frames 1-2 sign
    # letter 0, frame 3 letter 1 (floor((3 - 1) / 1.5) = 1), then "done"; "a" is done from frame 3
    start, done = model.pace_start[0, 0], model.pace_done[0, 0]
    expected_rows = [
        [start] + [context[0, 0]] * 2 + [context[0, 1]] + [done] * 2,
        [start] + [context[1, 0]] * 2 + [done] * 3,
    ]
    assert torch.equal(paced, torch.stack([torch.stack(r) for r in expected_rows]))
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.2)
    x, t = torch.randn(1, 3, 4, 8, 8), torch.tensor([500])
    ctx = model.encode(["ab"], ["ase"])
    before = model(x, t, *ctx)
    with torch.no_grad():
        model.pace_proj.weight.normal_()  # only the paced path changes
    assert not torch.allclose(before, model(x, t, *ctx))
    with pytest.raises(ConfigError, match="paced_text is for the dit3d and factorized"):
        VideoDiffusionConfig(denoiser="unet3d", paced_text=True)
    with pytest.raises(ConfigError, match="paced_text needs text_pace"):
        VideoDiffusionNet(
            VideoDiffusionConfig(
                denoiser="dit3d", text=TEXT, frames=4, size=8, heads=2, paced_text=True, **SIZES["dit3d"]
            )
        )
    with pytest.raises(ConfigError, match="char text encoder"):
        VideoDiffusionConfig(denoiser="dit3d", paced_text=True, text=TextEncoderConfig(kind="word"))
