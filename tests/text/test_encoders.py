import pytest
import torch

from text2sign.errors import ConfigError, LanguageError, Text2SignError, TextError
from text2sign.text import (
    TextEncoderConfig,
    WordEncoder,
    build_text_encoder,
    normalize_text,
    resolve_text_config,
)

CORPUS = ["hello world", "Hello there", "the world is round", "round and round", "hallo welt"]
LANGS = ["ase", "gsg"]


def tiny(kind: str, **kw) -> TextEncoderConfig:
    return TextEncoderConfig(kind=kind, d_model=16, layers=1, heads=2, dropout=0.0, signed_languages=LANGS, **kw)


@pytest.mark.parametrize("kind", ["char", "word", "bpe"])
def test_shapes_masks_and_padding(kind):
    torch.manual_seed(0)
    enc = build_text_encoder(tiny(kind, bpe_vocab_size=60), CORPUS).eval()
    texts = ["hello world", "round"]
    states, mask = enc(texts, ["ase", "gsg"])
    lengths = [len(enc.token_ids(t)) for t in texts]
    assert states.shape == (2, max(lengths), enc.output_dim) and enc.output_dim == 16
    assert mask.dtype == torch.bool and mask.sum(1).tolist() == lengths
    assert torch.all(states[~mask] == 0)
    # Real tokens do not depend on how much the batch pads them.
    alone, _ = enc(["round"], ["gsg"])
    assert torch.allclose(alone[0], states[1, : lengths[1]], atol=1e-5)


def test_char_vocab_and_tokens():
    enc = build_text_encoder(tiny("char"), CORPUS)
    vocab = enc.config.vocab
    assert vocab[:2] == ["<pad>", "<unk>"] and " " in vocab and "h" in vocab and "H" not in vocab
    assert [vocab[i] for i in enc.token_ids("  Hello   world ")] == list("hello world")
    assert enc.token_ids("hé") == [vocab.index("h"), 1]
    assert enc.unknown_tokens("héz") == ["é", "z"]


def test_word_vocab_min_count():
    enc = build_text_encoder(tiny("word", min_count=2), CORPUS)
    assert enc.config.vocab == ["<pad>", "<unk>", "hello", "round", "world"]  # "the" and "there" occur once
    assert enc.token_ids("Hello, moon") == [2, 1, 1]
    assert WordEncoder.words("a,b  c!") == ["a", ",", "b", "c", "!"]


def test_bpe_round_trip_and_saved_tokenizer(tmp_path):
    enc = build_text_encoder(tiny("bpe", bpe_vocab_size=60), CORPUS)
    for text in ["hello world", "the round world", "hallo there"]:
        ids = enc.token_ids(text)
        assert 0 not in ids and 1 not in ids
        assert enc.decode(ids) == text
    assert len(enc.token_ids("hello world")) < len("hello world")  # merges happened
    enc.save_tokenizer(tmp_path / "tokenizer.json")
    from tokenizers import Tokenizer

    assert Tokenizer.from_file(str(tmp_path / "tokenizer.json")).encode("hello").ids == enc.token_ids("hello")
    again = build_text_encoder(enc.config.to_dict())
    assert again.token_ids("round world") == enc.token_ids("round world")


@pytest.mark.parametrize("kind", ["char", "word", "bpe"])
def test_config_round_trip_rebuilds_same_encoder(kind):
    enc = build_text_encoder(tiny(kind, bpe_vocab_size=60), CORPUS).eval()
    clone = build_text_encoder(TextEncoderConfig.from_dict(enc.config.to_dict())).eval()
    clone.load_state_dict(enc.state_dict())
    a, _ = enc(["hello world"], ["ase"])
    b, _ = clone(["hello world"], ["ase"])
    assert torch.equal(a, b)


def test_language_conditioning_changes_states_and_errors():
    enc = build_text_encoder(tiny("char"), CORPUS).eval()
    a, _ = enc(["hello"], ["ase"])
    b, _ = enc(["hello"], ["gsg"])
    assert not torch.allclose(a, b)
    with pytest.raises(LanguageError, match="'?xyz'? is not supported.*supported: ase, gsg"):
        enc(["hello"], ["xyz"])
    with pytest.raises(LanguageError, match="choose one of: ase, gsg"):
        enc(["hello"])
    single = build_text_encoder(TextEncoderConfig(d_model=16, heads=2, signed_languages=["ase"]), CORPUS)
    assert single(["hello"])[0].shape[0] == 1  # one language: it is the default


def test_prepended_language_token_and_signers():
    cfg = tiny("char", language_mode="token", signers=["s1", "s2"])
    enc = build_text_encoder(cfg, CORPUS).eval()
    states, mask = enc(["hi", "hello"], ["ase", "ase"])
    assert states.shape[1] == len("hello") + 1 and mask.sum(1).tolist() == [3, 6]
    a, _ = enc(["hello"], ["ase"], ["s1"])
    b, _ = enc(["hello"], ["ase"], ["s2"])
    assert not torch.allclose(a, b)
    with pytest.raises(Text2SignError, match="unknown signer s3; this model knows: s1, s2"):
        enc(["hello"], ["ase"], ["s3"])


def test_text_errors():
    enc = build_text_encoder(tiny("char", max_tokens=8), CORPUS)
    with pytest.raises(TextError, match="text is empty"):
        enc(["hello", "   "], ["ase", "ase"])
    with pytest.raises(TextError, match="reads at most 8"):
        enc(["hello world"], ["ase"])


def test_config_errors():
    with pytest.raises(ConfigError, match="unknown text encoder kind 'chars'"):
        TextEncoderConfig(kind="chars")
    with pytest.raises(ConfigError, match="unknown text encoder config keys: colour"):
        TextEncoderConfig.from_dict({"colour": 1})
    with pytest.raises(ConfigError, match="needs corpus texts"):
        build_text_encoder(TextEncoderConfig())
    with pytest.raises(ConfigError, match="needs `path`"):
        build_text_encoder(TextEncoderConfig(kind="hf"))
    resolved = resolve_text_config(TextEncoderConfig(), ["ab"])
    assert resolved.vocab == ["<pad>", "<unk>", "a", "b"]


def test_normalize_text():
    assert normalize_text("  Cafe\u0301  AU\tlait ") == "café au lait"
    assert normalize_text("ABC", lowercase=False) == "ABC"


def test_backprop_reaches_embeddings():
    enc = build_text_encoder(tiny("char"), CORPUS)
    states, mask = enc(["hello", "hi"], ["ase", "gsg"])
    states[mask].pow(2).mean().backward()
    assert enc.embedding.weight.grad.abs().sum() > 0
    assert enc.conditioning.language.weight.grad[1].abs().sum() > 0


def test_lstm_layers_read_in_both_directions_and_ignore_padding():
    torch.manual_seed(0)
    enc = build_text_encoder(
        TextEncoderConfig(
            kind="word", d_model=16, layers=2, heads=2, dropout=0.0, layer_type="lstm", signed_languages=LANGS
        ),
        CORPUS,
    ).eval()
    assert enc.lstm is not None and not enc.blocks
    assert any(k.startswith("lstm.weight_hh_l1_reverse") for k in enc.state_dict())
    states, mask = enc(["the world is round", "round"], ["ase", "ase"])
    assert states.shape == (2, 4, 16) and torch.all(states[~mask] == 0)
    alone, _ = enc(["round"], ["ase"])
    assert torch.allclose(alone[0], states[1, :1], atol=1e-5)  # padding never enters the backward pass
    first = enc(["round world"], ["ase"])[0][0, 0]
    assert not torch.allclose(first, enc(["round and"], ["ase"])[0][0, 0])  # a later word reaches the first
    states.pow(2).sum().backward()
    assert enc.lstm.weight_ih_l0.grad.abs().sum() > 0
    with pytest.raises(ConfigError, match="layer_type"):
        TextEncoderConfig(layer_type="gru")
    with pytest.raises(ConfigError, match="odd"):
        TextEncoderConfig(layer_type="lstm", d_model=15, heads=1)
