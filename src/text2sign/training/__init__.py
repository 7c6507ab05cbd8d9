"""Training: one loop for every model family, configs, checkpoints, logging.

    from text2sign.training import load_config, train, from_pretrained
    config = load_config("configs/fs-gan.yaml", ["train.lr=3e-4"])
    result = train(config, "runs/fs-gan")
    generator = from_pretrained(result.checkpoint)
"""

from text2sign.training.checkpoint import (
    Pretrained,
    from_pretrained,
    list_checkpoints,
    load_pretrained,
    read_config,
    resolve_checkpoint,
    save_checkpoint,
)
from text2sign.training.config import (
    ExperimentConfig,
    OptimizerOverride,
    PoseDataConfig,
    TrainConfig,
    apply_overrides,
    bounded,
    config_to_dict,
    load_config,
    parse_experiment,
)
from text2sign.training.ema import EMA
from text2sign.training.loop import StepInfo, TrainResult, train
from text2sign.training.optim import warmup_cosine
from text2sign.training.registry import Experiment, Family, get_family, register_experiment

__all__ = [
    "EMA",
    "Experiment",
    "ExperimentConfig",
    "Family",
    "OptimizerOverride",
    "PoseDataConfig",
    "Pretrained",
    "StepInfo",
    "TrainConfig",
    "TrainResult",
    "apply_overrides",
    "bounded",
    "config_to_dict",
    "from_pretrained",
    "get_family",
    "list_checkpoints",
    "load_config",
    "load_pretrained",
    "parse_experiment",
    "read_config",
    "register_experiment",
    "resolve_checkpoint",
    "save_checkpoint",
    "train",
    "warmup_cosine",
]
