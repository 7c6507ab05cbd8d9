"""Two tiny model families that exercise the training loop without pose data.

``toy-regression``: an MLP fitting a fixed random function (one optimizer group).
``toy-gan``: a generator and a discriminator with hinge losses (two groups).

Importing this module registers them through the public API (:func:`register_family`), as a
third-party family's module does; the tests import it, and child processes find it through
``TEXT2SIGN_PLUGINS=toy_family`` (see conftest.py's ``child_env``): a config names the family, never
the module.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn
from torch.utils.data import Dataset

from text2sign.families import Experiment, register_family
from text2sign.objectives import Objective
from text2sign.testing import fake_pose
from text2sign.training import StepInfo
from text2sign.video import VideoClip


@dataclass
class ToyDataConfig:
    num_items: int = 64
    seed: int = 0
    dev_items: int = 0  # > 0: a held-out set (another seed) the loop validates on


@dataclass
class ToyModelConfig:
    in_dim: int = 4
    hidden_dim: int = 16
    out_dim: int = 2


@dataclass
class ToyObjectiveConfig:
    input_noise: float = 0.0  # torch-RNG noise on inputs, so exact resume must restore RNG state
    dump_final_weights: bool = False  # each rank writes rank<r>.safetensors at the last step
    samples: bool = False  # render a pose GIF and a video GIF and report a scalar
    generator_only_steps: int = 0  # toy-gan: steps before the discriminator starts training

    def __post_init__(self):
        if self.input_noise < 0:
            raise ValueError(f"input_noise must be >= 0, got {self.input_noise}")


class ToyNet(nn.Module):
    def __init__(self, config: ToyModelConfig):
        super().__init__()
        self.config = config
        self.layers = nn.Sequential(
            nn.Linear(config.in_dim, config.hidden_dim), nn.Tanh(), nn.Linear(config.hidden_dim, config.out_dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class RegressionData(Dataset):
    """``y = sin(x @ W / 2)`` for fixed random x and W: deterministic items, learnable by a small MLP."""

    def __init__(self, data: ToyDataConfig, model: ToyModelConfig, held_out: bool = False):
        rng = np.random.default_rng(data.seed)
        w = torch.from_numpy(rng.normal(size=(model.in_dim, model.out_dim)).astype(np.float32))
        count = data.dev_items if held_out else data.num_items
        rng = np.random.default_rng(data.seed + 1) if held_out else rng
        self.x = torch.from_numpy(rng.normal(size=(count, model.in_dim)).astype(np.float32))
        self.y = torch.sin(0.5 * self.x @ w)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return self.x[i], self.y[i]


class ToyRegression(Objective):
    def __init__(self, net: ToyNet, config: ToyObjectiveConfig):
        super().__init__()
        self.net = net
        self.config = config

    def forward(self, batch, group: str) -> dict[str, torch.Tensor]:
        x, y = batch  # (B, in), (B, out)
        if self.config.input_noise:
            x = x + self.config.input_noise * torch.randn_like(x)
        pred = self.net(x)
        return {"loss": F.mse_loss(pred, y), "mae": (pred - y).abs().mean().detach()}

    def inference_model(self) -> nn.Module:
        return self.net


class ToyGan(Objective):
    def __init__(self, model: ToyModelConfig, config: ToyObjectiveConfig):
        super().__init__()
        self.config = config
        self.latent_dim = model.in_dim
        self.generator = ToyNet(model)
        self.discriminator = nn.Sequential(nn.Linear(model.out_dim, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))

    def param_groups(self):
        return {"discriminator": list(self.discriminator.parameters()), "generator": list(self.generator.parameters())}

    def schedule(self, step: int):
        return ("discriminator", "generator") if step >= self.config.generator_only_steps else ("generator",)

    def forward(self, batch, group: str) -> dict[str, torch.Tensor]:
        _, real = batch  # (B, out)
        z = torch.randn(real.shape[0], self.latent_dim, device=real.device)
        if group == "discriminator":
            with torch.no_grad():
                fake = self.generator(z)
            loss = F.relu(1 - self.discriminator(real)).mean() + F.relu(1 + self.discriminator(fake)).mean()
            return {"loss": loss}
        return {"loss": -self.discriminator(self.generator(z)).mean()}

    def inference_model(self) -> nn.Module:
        return self.generator


def _dump_weights(info: StepInfo) -> None:
    if info.is_last:
        info.run_dir.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().clone().contiguous() for k, v in info.objective.state_dict().items()}
        save_file(state, str(info.run_dir / f"rank{info.rank}.safetensors"))


def _samples(net: nn.Module, device: torch.device) -> dict:
    out = net(torch.zeros(1, net.config.in_dim, device=device))[0]  # (out_dim,)
    pose = fake_pose(6, layout="holistic-178", seed=0)
    pose.data[..., 0] += 10 * float(out[0])
    video = np.zeros((3, 24, 32, 3), np.uint8)
    video[:, :, :, 0] = np.arange(3, dtype=np.uint8)[:, None, None] * 100
    return {"pose sample": pose, "video": VideoClip(video, fps=8.0), "output_norm": float(out.norm())}


def build_regression(config) -> Experiment:
    net = ToyNet(config.model)
    objective = ToyRegression(net, config.objective)
    return Experiment(
        objective=objective,
        train_data=RegressionData(config.data, config.model),
        dev_data=RegressionData(config.data, config.model, held_out=True) if config.data.dev_items else None,
        sample=_samples if config.objective.samples else None,
        callbacks=[_dump_weights] if config.objective.dump_final_weights else [],
    )


def build_gan(config) -> Experiment:
    return Experiment(
        objective=ToyGan(config.model, config.objective),
        train_data=RegressionData(config.data, config.model),
        callbacks=[_dump_weights] if config.objective.dump_final_weights else [],
    )


@dataclass
class ToyStackedConfig:
    """A second stage: a frozen first-stage ToyNet and a trained head on its outputs."""

    first: ToyModelConfig = field(default_factory=ToyModelConfig)  # filled from init.first_stage
    out_dim: int = 2


class ToyStacked(nn.Module):
    def __init__(self, config: ToyStackedConfig):
        super().__init__()
        self.config = config
        self.first = ToyNet(config.first).requires_grad_(False)
        self.head = nn.Linear(config.first.out_dim, config.out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.first(x))


def build_stacked(config) -> Experiment:
    """Starts from another run's checkpoint (``init.first_stage``) and copies it into its own
    model, so its checkpoints load without the first run."""
    import dataclasses

    from text2sign.checkpoints import load_checkpoint
    from text2sign.errors import ConfigError

    if "first_stage" not in config.init:
        raise ConfigError("toy-stacked needs init.first_stage: a toy-regression checkpoint")
    first = load_checkpoint(config.init["first_stage"])
    model_config = dataclasses.replace(config.model, first=first.model_config)
    net = ToyStacked(model_config)
    net.first.load_state_dict(first.model.state_dict())
    data = ToyDataConfig(num_items=config.data.num_items, seed=config.data.seed)
    first_model = ToyModelConfig(first.model_config.in_dim, first.model_config.hidden_dim, model_config.out_dim)
    return Experiment(
        objective=ToyRegression(net, config.objective),
        train_data=RegressionData(data, first_model),
        config=dataclasses.replace(config, model=model_config),
    )


register_family(
    "toy-stacked",
    output="pose",
    pipeline=None,
    model_config=ToyStackedConfig,
    build_model=ToyStacked,
    objective_config=ToyObjectiveConfig,
    data_config=ToyDataConfig,
    build=build_stacked,
    init_keys=("first_stage",),
)
for name, build in (("toy-regression", build_regression), ("toy-gan", build_gan)):
    register_family(
        name,
        output="pose",
        pipeline=None,
        model_config=ToyModelConfig,
        build_model=ToyNet,
        objective_config=ToyObjectiveConfig,
        data_config=ToyDataConfig,
        build=build,
    )
