import torch

from text2sign.models.video_diffusion import VideoDiffusionConfig, VideoDiffusionNet
from text2sign.objectives.video_diffusion import VideoBatch, VideoDiffusionObjective, VideoDiffusionObjectiveConfig
from text2sign.schedulers.ddpm import DiffusionSchedule
from text2sign.text.encoders import TextEncoderConfig


def objective(cond_dropout: float) -> VideoDiffusionObjective:
    torch.manual_seed(0)
    text = TextEncoderConfig(
        d_model=16, layers=1, heads=2, vocab=["<pad>", "<unk>", "a", "b"], signed_languages=["ase"]
    )
    net = VideoDiffusionNet(
        VideoDiffusionConfig(denoiser="dit3d", text=text, frames=2, size=8, width=16, heads=2, depth=1, patch=4)
    )
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.1)
    return VideoDiffusionObjective(
        net, DiffusionSchedule(100), VideoDiffusionObjectiveConfig(cond_dropout=cond_dropout)
    )


def batch(texts):
    return VideoBatch(torch.zeros(len(texts), 3, 2, 8, 8), texts, ["ase"] * len(texts))


def loss(obj, texts) -> float:
    with torch.no_grad():
        return float(obj(batch(texts), "model", torch.Generator().manual_seed(0))["loss"])


def test_dropped_condition_makes_the_text_irrelevant_in_training_only():
    always = objective(1.0)
    assert loss(always, ["ab", "a"]) == loss(always, ["ba", "bbb"])
    never = objective(0.0)
    assert loss(never, ["ab", "a"]) != loss(never, ["ba", "bbb"])
    always.eval()  # dev losses are always conditional
    assert loss(always, ["ab", "a"]) != loss(always, ["ba", "bbb"])


def test_dev_losses_are_repeatable():
    obj = objective(0.1).eval()
    assert obj.dev_losses(batch(["ab"]))["loss"] == obj.dev_losses(batch(["ab"]))["loss"]
