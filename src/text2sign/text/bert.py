"""A plain-PyTorch BERT / DistilBERT encoder that reads Hugging Face model directories.

BERT, mBERT, MiniLM and DistilBERT checkpoints are the usual frozen text encoders of
sign-language production papers. Reading them needs only ``config.json``, the weights
(``model.safetensors``, or ``pytorch_model.bin`` loaded with ``weights_only=True``) and the
tokenizer (``tokenizer.json``, or ``vocab.txt``), so this module loads them with torch,
safetensors and tokenizers alone -- no `transformers` install and never a download.
Other architectures (T5, CLIP, ...) go through `transformers` in :mod:`text2sign.text.pretrained`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from text2sign.errors import CheckpointError, TextError

NATIVE_MODEL_TYPES = ("bert", "distilbert")


@dataclass(frozen=True)
class BertConfig:
    model_type: str
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    max_positions: int
    type_vocab_size: int  # 0 for DistilBERT, which has no segment embeddings
    layer_norm_eps: float
    activation: str

    @classmethod
    def from_hf(cls, d: dict) -> BertConfig:
        if d.get("model_type") == "distilbert":
            return cls(
                "distilbert", d["vocab_size"], d["dim"], d["n_layers"], d["n_heads"], d["hidden_dim"],
                d.get("max_position_embeddings", 512), 0, 1e-12, d.get("activation", "gelu"),
            )  # fmt: skip
        return cls(
            "bert", d["vocab_size"], d["hidden_size"], d["num_hidden_layers"], d["num_attention_heads"],
            d["intermediate_size"], d.get("max_position_embeddings", 512), d.get("type_vocab_size", 2),
            d.get("layer_norm_eps", 1e-12), d.get("hidden_act", "gelu"),
        )  # fmt: skip


class BertLayer(nn.Module):
    """Post-norm transformer layer, as BERT has it."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        h = cfg.hidden_size
        self.heads = cfg.num_heads
        self.q, self.k, self.v, self.o = (nn.Linear(h, h) for _ in range(4))
        self.norm1 = nn.LayerNorm(h, eps=cfg.layer_norm_eps)
        self.ff1 = nn.Linear(h, cfg.intermediate_size)
        self.ff2 = nn.Linear(cfg.intermediate_size, h)
        self.norm2 = nn.LayerNorm(h, eps=cfg.layer_norm_eps)
        self.act = {"gelu": F.gelu, "relu": F.relu, "gelu_new": lambda x: F.gelu(x, approximate="tanh")}[cfg.activation]

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = (proj(x).view(b, t, self.heads, d // self.heads).transpose(1, 2) for proj in (self.q, self.k, self.v))
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # (B, H, T, dh)
        x = self.norm1(x + self.o(att.transpose(1, 2).reshape(b, t, d)))
        return self.norm2(x + self.ff2(self.act(self.ff1(x))))


class BertEncoder(nn.Module):
    """``forward(input_ids (B, L), mask (B, L)) -> last hidden states (B, L, H)``."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.cfg = cfg
        h = cfg.hidden_size
        self.tok = nn.Embedding(cfg.vocab_size, h)
        self.pos = nn.Embedding(cfg.max_positions, h)
        self.typ = nn.Embedding(cfg.type_vocab_size, h) if cfg.type_vocab_size else None
        self.norm = nn.LayerNorm(h, eps=cfg.layer_norm_eps)
        self.layers = nn.ModuleList(BertLayer(cfg) for _ in range(cfg.num_layers))

    def forward(self, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.tok(input_ids) + self.pos(positions)[None]
        if self.typ is not None:
            x = x + self.typ.weight[0]
        x = self.norm(x)
        attn_mask = None if bool(mask.all()) else mask[:, None, None, :]
        for layer in self.layers:
            x = layer(x, attn_mask)
        return x


_BERT_RENAMES = [
    (r"^embeddings\.word_embeddings\.", "tok."),
    (r"^embeddings\.position_embeddings\.", "pos."),
    (r"^embeddings\.token_type_embeddings\.", "typ."),
    (r"^embeddings\.LayerNorm\.", "norm."),
    (r"^encoder\.layer\.(\d+)\.attention\.self\.query\.", r"layers.\1.q."),
    (r"^encoder\.layer\.(\d+)\.attention\.self\.key\.", r"layers.\1.k."),
    (r"^encoder\.layer\.(\d+)\.attention\.self\.value\.", r"layers.\1.v."),
    (r"^encoder\.layer\.(\d+)\.attention\.output\.dense\.", r"layers.\1.o."),
    (r"^encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\.", r"layers.\1.norm1."),
    (r"^encoder\.layer\.(\d+)\.intermediate\.dense\.", r"layers.\1.ff1."),
    (r"^encoder\.layer\.(\d+)\.output\.dense\.", r"layers.\1.ff2."),
    (r"^encoder\.layer\.(\d+)\.output\.LayerNorm\.", r"layers.\1.norm2."),
]
_DISTILBERT_RENAMES = [
    (r"^embeddings\.word_embeddings\.", "tok."),
    (r"^embeddings\.position_embeddings\.", "pos."),
    (r"^embeddings\.LayerNorm\.", "norm."),
    (r"^transformer\.layer\.(\d+)\.attention\.q_lin\.", r"layers.\1.q."),
    (r"^transformer\.layer\.(\d+)\.attention\.k_lin\.", r"layers.\1.k."),
    (r"^transformer\.layer\.(\d+)\.attention\.v_lin\.", r"layers.\1.v."),
    (r"^transformer\.layer\.(\d+)\.attention\.out_lin\.", r"layers.\1.o."),
    (r"^transformer\.layer\.(\d+)\.sa_layer_norm\.", r"layers.\1.norm1."),
    (r"^transformer\.layer\.(\d+)\.ffn\.lin1\.", r"layers.\1.ff1."),
    (r"^transformer\.layer\.(\d+)\.ffn\.lin2\.", r"layers.\1.ff2."),
    (r"^transformer\.layer\.(\d+)\.output_layer_norm\.", r"layers.\1.norm2."),
]


def convert_hf_state_dict(state: dict[str, torch.Tensor], model_type: str) -> dict[str, torch.Tensor]:
    """Hugging Face parameter names -> :class:`BertEncoder` names; heads and poolers are dropped."""
    renames = _DISTILBERT_RENAMES if model_type == "distilbert" else _BERT_RENAMES
    out = {}
    for key, value in state.items():
        key = re.sub(r"^(bert|distilbert)\.", "", key)
        key = re.sub(r"\.gamma$", ".weight", re.sub(r"\.beta$", ".bias", key))
        for pattern, repl in renames:
            new, hits = re.subn(pattern, repl, key)
            if hits:
                out[new] = value
                break
    return out


def read_hf_weights(path: Path) -> dict[str, torch.Tensor]:
    safetensors_file = path / "model.safetensors"
    if safetensors_file.exists():
        from safetensors.torch import load_file

        return load_file(str(safetensors_file))
    bin_file = path / "pytorch_model.bin"
    if bin_file.exists():
        return torch.load(bin_file, map_location="cpu", weights_only=True)
    raise CheckpointError(f"{path} has no model.safetensors or pytorch_model.bin")


def load_hf_tokenizer(path: Path, max_positions: int):
    from tokenizers import Tokenizer

    if (path / "tokenizer.json").exists():
        tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    elif (path / "vocab.txt").exists():
        from tokenizers import BertWordPieceTokenizer

        options = {}
        if (path / "tokenizer_config.json").exists():
            options = json.loads((path / "tokenizer_config.json").read_text())
        tokenizer = BertWordPieceTokenizer(str(path / "vocab.txt"), lowercase=options.get("do_lower_case", True))
    else:
        raise CheckpointError(f"{path} has no tokenizer.json or vocab.txt")
    # Padding is done by the caller; truncation would silently drop text, so long texts are refused instead.
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


class HFBertBackbone(nn.Module):
    """Tokenizer + :class:`BertEncoder` loaded from a local Hugging Face directory."""

    def __init__(self, path: str | Path):
        super().__init__()
        path = Path(path)
        config_file = path / "config.json"
        if not config_file.exists():
            raise CheckpointError(f"{path} is not a Hugging Face model directory (no config.json)")
        raw = json.loads(config_file.read_text())
        self.cfg = BertConfig.from_hf(raw)
        self.hidden_size = self.cfg.hidden_size
        self.encoder = BertEncoder(self.cfg)
        state = convert_hf_state_dict(read_hf_weights(path), self.cfg.model_type)
        missing, _ = self.encoder.load_state_dict(state, strict=False)
        if missing:
            raise CheckpointError(
                f"{path}: weights lack {len(missing)} tensors the {self.cfg.model_type} config needs, e.g. {missing[0]}"
            )
        self.tokenizer = load_hf_tokenizer(path, self.cfg.max_positions)
        pad = self.tokenizer.token_to_id("[PAD]")
        self.pad_id = 0 if pad is None else pad

    def forward(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        encodings = self.tokenizer.encode_batch(texts)
        longest = max(len(e.ids) for e in encodings)
        if longest > self.cfg.max_positions:
            raise TextError(f"text has {longest} tokens; the pretrained encoder reads at most {self.cfg.max_positions}")
        ids = torch.full((len(texts), longest), self.pad_id, dtype=torch.long)
        mask = torch.zeros(len(texts), longest, dtype=torch.bool)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = torch.tensor(e.ids)
            mask[row, : len(e.ids)] = True
        device = self.encoder.tok.weight.device
        ids, mask = ids.to(device), mask.to(device)
        return self.encoder(ids, mask), mask
