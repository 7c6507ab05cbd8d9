"""Text encoders behind one interface: ``encoder(texts, languages) -> (states (B, L, C), mask (B, L))``.

Every encoder has the same three stages, so they differ only in how tokens become vectors:

1. ``embed``: text -> token vectors ``(B, L, d_model)`` -- learned character, word or BPE
   embeddings with sinusoidal positions, or a pretrained backbone followed by a projection
   (:mod:`text2sign.text.pretrained`);
2. conditioning on the target signed language (and optionally the signer): a learned
   embedding added to every token (``language_mode="add"``) or prepended as an extra token
   (``"token"``), so one model serves many sign languages;
3. ``layers`` pre-norm transformer blocks and a final LayerNorm.

The whole encoder is described by a :class:`TextEncoderConfig` -- including the vocabulary or
the trained BPE tokenizer -- which is JSON, so a checkpoint's ``config.json`` rebuilds it.
Fingerspelling is letter by letter, so the character encoder is the default.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from text2sign.config import bounded
from text2sign.errors import ConfigError, LanguageError, Text2SignError, TextError
from text2sign.text.layers import TransformerBlock, sinusoidal_embedding

PAD, UNK = "<pad>", "<unk>"
LEARNED_KINDS = ("char", "word", "bpe")
PRETRAINED_KINDS = ("hf", "minilm")
ENCODER_KINDS = LEARNED_KINDS + PRETRAINED_KINDS
LANGUAGE_MODES = ("add", "token")
LAYER_TYPES = ("transformer", "lstm")
WORD_PATTERN = re.compile(r"\w+|[^\w\s]")


@dataclass
class TextEncoderConfig:
    kind: str = "char"  # one of ENCODER_KINDS
    d_model: int = bounded(128, min=8, max=4096)
    layers: int = bounded(
        2, min=0, max=48
    )  # contextual layers after conditioning (on top of the backbone for hf/minilm)
    # transformer blocks, or a bidirectional LSTM (the 3D-UNet video design's text encoder)
    layer_type: str = "transformer"
    heads: int = bounded(4, min=1, max=64)
    ff_mult: int = bounded(2, min=1, max=16)
    dropout: float = bounded(0.1, min=0.0, max=0.9)
    lowercase: bool = True
    max_tokens: int = bounded(256, min=1, max=100000)  # longer texts are refused with a TextError, never silently cut
    vocab: list[str] = field(default_factory=list)  # char / word, built from corpus texts
    min_count: int = bounded(1, min=1)  # word: rarer words become <unk>
    bpe_vocab_size: int = bounded(1000, min=32, max=1000000)
    tokenizer_json: str = ""  # bpe: the trained tokenizers.Tokenizer, serialized
    path: str = ""  # hf: a local Hugging Face model directory
    freeze: bool = True  # hf / minilm: keep pretrained weights fixed (and out of checkpoints)
    passthrough: bool = False  # hf / minilm: start from the backbone's own states (text/pretrained.py)
    signed_languages: list[str] = field(default_factory=list)
    signers: list[str] = field(default_factory=list)
    language_mode: str = "add"

    def __post_init__(self) -> None:
        if self.kind not in ENCODER_KINDS:
            raise ConfigError(f"unknown text encoder kind {self.kind!r}; choose one of {', '.join(ENCODER_KINDS)}")
        if self.layer_type not in LAYER_TYPES:
            raise ConfigError(f"layer_type must be one of {', '.join(LAYER_TYPES)}, got {self.layer_type!r}")
        if self.layer_type == "lstm" and self.d_model % 2:
            raise ConfigError(f"an lstm text encoder splits d_model over two directions; {self.d_model} is odd")
        if self.language_mode not in LANGUAGE_MODES:
            raise ConfigError(f"language_mode must be one of {LANGUAGE_MODES}, got {self.language_mode!r}")
        if self.d_model % self.heads:
            raise ConfigError(f"text encoder d_model {self.d_model} is not divisible by heads {self.heads}")
        if self.passthrough and self.kind not in PRETRAINED_KINDS:
            raise ConfigError(
                f"passthrough is for pretrained text encoders ({', '.join(PRETRAINED_KINDS)}), not {self.kind!r}"
            )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TextEncoderConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown text encoder config keys: {', '.join(unknown)}")
        return cls(**d)


def normalize_text(text: str, lowercase: bool = True) -> str:
    """NFC, optional lowercase, runs of whitespace collapsed to one space."""
    text = unicodedata.normalize("NFC", text)
    if lowercase:
        text = text.lower()
    return " ".join(text.split())


class Conditioning(nn.Module):
    """Learned signed-language (and signer) embeddings mixed into the token states."""

    def __init__(self, dim: int, languages: list[str], signers: list[str], mode: str = "add"):
        super().__init__()
        self.languages = list(languages)
        self.signers = list(signers)
        self.mode = mode
        self._language_index = {lang: i for i, lang in enumerate(self.languages)}
        self._signer_index = {s: i for i, s in enumerate(self.signers)}
        self.language = nn.Embedding(len(languages), dim) if languages else None
        self.signer = nn.Embedding(len(signers), dim) if signers else None

    def language_ids(self, languages: list[str] | None, batch: int) -> list[int] | None:
        if not self.languages:
            return None
        if languages is None:
            if len(self.languages) == 1:
                return [0] * batch
            raise LanguageError(f"this model signs several languages; choose one of: {', '.join(self.languages)}")
        if len(languages) != batch:
            raise ValueError(f"got {len(languages)} languages for {batch} texts")
        unknown = sorted({lang for lang in languages if lang not in self._language_index})
        if unknown:
            raise LanguageError(
                f"signed language {', '.join(unknown)} is not supported by this model; supported: "
                f"{', '.join(self.languages)}"
            )
        return [self._language_index[lang] for lang in languages]

    def signer_ids(self, signers: list[str] | None, batch: int) -> list[int] | None:
        if signers is None or not self.signers:
            return None
        if len(signers) != batch:
            raise ValueError(f"got {len(signers)} signers for {batch} texts")
        unknown = sorted({s for s in signers if s not in self._signer_index})
        if unknown:
            raise Text2SignError(f"unknown signer {', '.join(unknown)}; this model knows: {', '.join(self.signers)}")
        return [self._signer_index[s] for s in signers]

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        languages: list[str] | None = None,
        signers: list[str] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        b = x.shape[0]
        cond = None
        lang_ids = self.language_ids(languages, b)
        if lang_ids is not None:
            cond = self.language(torch.tensor(lang_ids, device=x.device))  # (B, C)
        signer_ids = self.signer_ids(signers, b)
        if signer_ids is not None:
            s = self.signer(torch.tensor(signer_ids, device=x.device))
            cond = s if cond is None else cond + s
        if cond is None:
            return x, mask
        if self.mode == "add":
            return x + cond[:, None, :], mask
        ones = torch.ones(b, 1, dtype=torch.bool, device=mask.device)
        return torch.cat([cond[:, None, :], x], dim=1), torch.cat([ones, mask], dim=1)


class TextEncoder(nn.Module):
    """Base class: ``forward(texts, languages=None, signers=None) -> (states (B, L, C), mask (B, L))``.

    ``mask`` is True on real tokens; states are zero at padded tokens. ``output_dim`` is C.
    """

    def __init__(self, config: TextEncoderConfig):
        super().__init__()
        self.config = config
        self.output_dim = config.d_model
        self.conditioning = Conditioning(config.d_model, config.signed_languages, config.signers, config.language_mode)
        lstm = config.layer_type == "lstm" and config.layers > 0
        self.blocks = nn.ModuleList(
            TransformerBlock(config.d_model, config.heads, config.ff_mult, config.dropout)
            for _ in range(0 if lstm else config.layers)
        )
        self.lstm = (
            nn.LSTM(
                config.d_model,
                config.d_model // 2,
                num_layers=config.layers,
                batch_first=True,
                bidirectional=True,
                dropout=config.dropout if config.layers > 1 else 0.0,
            )
            if lstm
            else None
        )
        self.norm = nn.LayerNorm(config.d_model)

    @property
    def signed_languages(self) -> list[str]:
        return list(self.config.signed_languages)

    def embed(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token vectors ``(B, L, d_model)`` and mask ``(B, L)`` of already checked texts."""
        raise NotImplementedError

    def unknown_tokens(self, text: str) -> list[str]:
        """Pieces of `text` the encoder can only read as <unk> (for warnings)."""
        return []

    def check_texts(self, texts: list[str]) -> None:
        if isinstance(texts, str):
            raise TypeError("texts must be a list of strings, not one string")
        if not texts:
            raise TextError("no texts given")
        for text in texts:
            if not text or not text.strip():
                raise TextError("text is empty")

    def forward(
        self, texts: list[str], languages: list[str] | None = None, signers: list[str] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        self.check_texts(texts)
        x, mask = self.embed(texts)  # (B, L, C), (B, L)
        x, mask = self.conditioning(x, mask, languages, signers)
        key_mask = None if bool(mask.all()) else mask  # an all-real batch takes attention's fast path
        for block in self.blocks:
            x = block(x, key_mask)
        if self.lstm is not None:
            # Packed, so the backward direction starts at each text's own last token, not at padding.
            packed = pack_padded_sequence(x, mask.sum(1).cpu(), batch_first=True, enforce_sorted=False)
            x = pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=x.shape[1])[0]
        return self.norm(x) * mask[..., None], mask


class LearnedEncoder(TextEncoder):
    """Token ids -> learned embeddings + sinusoidal positions (the char / word / BPE encoders)."""

    def __init__(self, config: TextEncoderConfig, vocab_size: int):
        super().__init__(config)
        self.embedding = nn.Embedding(vocab_size, config.d_model, padding_idx=0)

    def token_ids(self, text: str) -> list[int]:
        raise NotImplementedError

    def embed(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        ids = [self.token_ids(text) for text in texts]
        longest = max(len(i) for i in ids)
        if longest > self.config.max_tokens:
            raise TextError(f"text has {longest} tokens; this model reads at most {self.config.max_tokens}")
        device = self.embedding.weight.device
        padded = torch.zeros(len(ids), longest, dtype=torch.long)
        for row, seq in enumerate(ids):
            padded[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        padded = padded.to(device)
        mask = padded != 0  # (B, L)
        positions = sinusoidal_embedding(torch.arange(longest, device=device), self.config.d_model)  # (L, C)
        return self.embedding(padded) + positions[None], mask


class CharEncoder(LearnedEncoder):
    """One token per character (space included): the default, since fingerspelling is letter by letter."""

    def __init__(self, config: TextEncoderConfig):
        if not config.vocab:
            raise ConfigError("the char text encoder has no vocabulary; build it from corpus texts")
        super().__init__(config, len(config.vocab))
        self._index = {tok: i for i, tok in enumerate(config.vocab)}

    @staticmethod
    def build_vocab(texts: Iterable[str], lowercase: bool = True) -> list[str]:
        chars = Counter(ch for text in texts for ch in normalize_text(text, lowercase))
        return [PAD, UNK] + sorted(chars)

    def token_ids(self, text: str) -> list[int]:
        return [self._index.get(ch, 1) for ch in normalize_text(text, self.config.lowercase)]

    def unknown_tokens(self, text: str) -> list[str]:
        return [ch for ch in normalize_text(text, self.config.lowercase) if ch not in self._index]


class WordEncoder(LearnedEncoder):
    """One token per word or punctuation mark; words seen fewer than `min_count` times are <unk>."""

    def __init__(self, config: TextEncoderConfig):
        if not config.vocab:
            raise ConfigError("the word text encoder has no vocabulary; build it from corpus texts")
        super().__init__(config, len(config.vocab))
        self._index = {tok: i for i, tok in enumerate(config.vocab)}

    @staticmethod
    def words(text: str, lowercase: bool = True) -> list[str]:
        return WORD_PATTERN.findall(normalize_text(text, lowercase))

    @classmethod
    def build_vocab(cls, texts: Iterable[str], lowercase: bool = True, min_count: int = 1) -> list[str]:
        counts = Counter(w for text in texts for w in cls.words(text, lowercase))
        return [PAD, UNK] + sorted(w for w, c in counts.items() if c >= min_count)

    def token_ids(self, text: str) -> list[int]:
        return [self._index.get(w, 1) for w in self.words(text, self.config.lowercase)]

    def unknown_tokens(self, text: str) -> list[str]:
        return [w for w in self.words(text, self.config.lowercase) if w not in self._index]


class BPEEncoder(LearnedEncoder):
    """Byte-pair-encoding subwords from a `tokenizers` BPE trained on the corpus text.

    The trained tokenizer is stored in ``config.tokenizer_json``; :meth:`save_tokenizer` also
    writes it as a standalone ``tokenizer.json`` for inspection with the tokenizers library.
    """

    def __init__(self, config: TextEncoderConfig):
        from tokenizers import Tokenizer

        if not config.tokenizer_json:
            raise ConfigError("the bpe text encoder has no tokenizer; train it on corpus texts")
        tokenizer = Tokenizer.from_str(config.tokenizer_json)
        super().__init__(config, tokenizer.get_vocab_size())
        self.tokenizer = tokenizer

    @staticmethod
    def train_tokenizer(texts: Iterable[str], vocab_size: int, lowercase: bool = True) -> str:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        # Metaspace keeps word boundaries inside the tokens, so decoding gives the text back.
        tokenizer = Tokenizer(models.BPE(unk_token=UNK))
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
        tokenizer.decoder = decoders.Metaspace()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[PAD, UNK], show_progress=False)
        tokenizer.train_from_iterator((normalize_text(t, lowercase) for t in texts), trainer)
        return tokenizer.to_str()

    def token_ids(self, text: str) -> list[int]:
        return self.tokenizer.encode(normalize_text(text, self.config.lowercase)).ids

    def tokens(self, text: str) -> list[str]:
        return self.tokenizer.encode(normalize_text(text, self.config.lowercase)).tokens

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids)

    def unknown_tokens(self, text: str) -> list[str]:
        encoding = self.tokenizer.encode(normalize_text(text, self.config.lowercase))
        return [text[a:b] for (a, b), i in zip(encoding.offsets, encoding.ids) if i == 1]

    def save_tokenizer(self, path) -> None:
        from text2sign.fileio import write_text_atomic

        write_text_atomic(path, self.config.tokenizer_json)


LEARNED_ENCODERS = {"char": CharEncoder, "word": WordEncoder, "bpe": BPEEncoder}


def resolve_text_config(config: TextEncoderConfig | dict, texts: Iterable[str] | None = None) -> TextEncoderConfig:
    """A copy of `config` with the vocabulary (char, word) or BPE tokenizer filled in from `texts`.

    A config that already has its vocabulary is returned as is (texts are not needed), so a
    resolved config saved in a checkpoint rebuilds exactly the same encoder.
    """
    config = TextEncoderConfig.from_dict(config) if isinstance(config, dict) else TextEncoderConfig(**asdict(config))
    if config.kind in PRETRAINED_KINDS:
        return config
    needs_texts = not config.tokenizer_json if config.kind == "bpe" else not config.vocab
    if needs_texts:
        if texts is None:
            raise ConfigError(f"the {config.kind} text encoder needs corpus texts to build its vocabulary")
        texts = list(texts)
        if config.kind == "char":
            config.vocab = CharEncoder.build_vocab(texts, config.lowercase)
        elif config.kind == "word":
            config.vocab = WordEncoder.build_vocab(texts, config.lowercase, config.min_count)
        else:
            config.tokenizer_json = BPEEncoder.train_tokenizer(texts, config.bpe_vocab_size, config.lowercase)
    return config
