"""Training: one loop for every model family, experiment configs, trainer state, logging.

    from text2sign.training import load_config, train
    from text2sign.checkpoints import from_pretrained
    config = load_config("configs/fs-gan-nat.yaml", ["train.lr=3e-4"])
    result = train(config, "runs/fs-gan-nat")
    generator = from_pretrained(result.best or result.checkpoint)

Families (what a config's ``family:`` names) are registered in :mod:`text2sign.families`.
"""

from text2sign.config import apply_overrides, config_to_dict
from text2sign.training.checkpoint import read_config
from text2sign.training.config import ExperimentConfig, OptimizerOverride, TrainConfig, load_config, parse_experiment
from text2sign.training.ema import EMA
from text2sign.training.loop import DryRunReport, StepInfo, TrainResult, train
from text2sign.training.optim import warmup_cosine

__all__ = [
    "EMA",
    "DryRunReport",
    "ExperimentConfig",
    "OptimizerOverride",
    "StepInfo",
    "TrainConfig",
    "TrainResult",
    "apply_overrides",
    "config_to_dict",
    "load_config",
    "parse_experiment",
    "read_config",
    "train",
    "warmup_cosine",
]
