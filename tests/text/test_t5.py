"""T5 as a text encoder (the video designs' CLIP / T5 choice), on a tiny random T5 made here:
nothing is downloaded. Needs `transformers` (the [video] extra); skips without it."""

from __future__ import annotations

import pytest
import torch

from text2sign.text import TextEncoderConfig, build_text_encoder

transformers = pytest.importorskip("transformers", reason="T5 loads through transformers (the [video] extra)")

WORDS = ["hello", "world", "a", "man", "is", "eating", "food"]


@pytest.fixture(scope="module")
def t5_dir(tmp_path_factory):
    """A two-layer, 16-wide random T5 encoder with a word-and-letter Unigram tokenizer, saved the
    way Hugging Face saves a T5 directory (config.json, model.safetensors, tokenizer.json)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    path = tmp_path_factory.mktemp("t5")
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -3.0)]
    vocab += [(f"\u2581{w}", -1.0) for w in WORDS] + [(c, -2.0) for c in letters]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=2))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)]
    )
    transformers.T5TokenizerFast(
        tokenizer_object=tokenizer, eos_token="</s>", pad_token="<pad>", unk_token="<unk>", extra_ids=0
    ).save_pretrained(path)
    torch.manual_seed(0)
    config = transformers.T5Config(
        vocab_size=len(vocab), d_model=16, d_kv=8, d_ff=32, num_layers=2, num_heads=2, decoder_start_token_id=0
    )
    transformers.T5EncoderModel(config).save_pretrained(path)
    return path


def test_a_t5_directory_encodes_text_as_t5_itself_does(t5_dir):
    enc = build_text_encoder(
        TextEncoderConfig(kind="hf", path=str(t5_dir), d_model=8, layers=0, heads=2, signed_languages=["ase"])
    ).eval()
    texts = ["a man is eating food", "hello"]
    with torch.no_grad():
        hidden, mask = enc.backbone(texts)
        tokens = transformers.AutoTokenizer.from_pretrained(str(t5_dir))(texts, padding=True, return_tensors="pt")
        t5 = transformers.T5EncoderModel.from_pretrained(str(t5_dir)).eval()
        expected = t5(**tokens).last_hidden_state
    # Five words and </s>; "hello" and </s>, then padding that the mask leaves out.
    assert mask.sum(1).tolist() == [6, 2]
    assert torch.allclose(hidden[mask], expected[tokens["attention_mask"].bool()], atol=1e-5)
    states, states_mask = enc(texts, ["ase", "ase"])
    assert states.shape == (2, 6, 8) and torch.equal(states_mask, mask)
    # A text's states do not depend on what it is batched with.
    with torch.no_grad():
        alone, _ = enc(["hello"], ["ase"])
        batched, _ = enc(texts, ["ase", "ase"])
    assert torch.allclose(alone[0], batched[1, :2], atol=1e-5)


def test_a_frozen_t5_stays_out_of_the_checkpoint_and_a_tuned_one_is_in_it(t5_dir):
    frozen = build_text_encoder(TextEncoderConfig(kind="hf", path=str(t5_dir), d_model=8, layers=1, heads=2))
    assert not any(k.startswith("backbone") for k in frozen.state_dict())
    assert any(k.startswith("projection") for k in frozen.state_dict())
    states, mask = frozen(["hello world"])
    states[mask].sum().backward()  # the projection and adapter learn; the backbone has no gradient
    assert frozen.projection.weight.grad is not None
    assert all(p.grad is None for p in frozen.backbone.model.parameters())
    tuned = build_text_encoder(
        TextEncoderConfig(kind="hf", path=str(t5_dir), d_model=8, layers=0, heads=2, freeze=False)
    )
    assert any(k.startswith("backbone.model.encoder.block.0") for k in tuned.state_dict())


def test_a_video_diffusion_model_conditions_on_t5(t5_dir):
    """The video designs' T5 conditioning: the denoiser's cross-attention reads the T5 states."""
    from text2sign.models.video_diffusion import VideoDiffusionConfig, VideoDiffusionNet

    text = TextEncoderConfig(kind="hf", path=str(t5_dir), d_model=16, layers=0, heads=2, signed_languages=["ase"])
    torch.manual_seed(0)
    net = VideoDiffusionNet(
        VideoDiffusionConfig(denoiser="dit3d", text=text, frames=4, size=8, heads=2, width=16, depth=1, patch=4)
    )
    for p in net.parameters():  # leave zero-init behind so the text's path carries signal
        torch.nn.init.normal_(p, std=0.2)
    context, mask = net.encode(["hello world", "a man"], ["ase", "ase"])
    assert context.shape == (2, 3, 16) and mask.tolist() == [[True] * 3, [True] * 3]
    x, t = torch.randn(1, 3, 4, 8, 8), torch.tensor([500])
    hello = net(x, t, *net.encode(["hello"], ["ase"]))
    assert hello.shape == x.shape and not torch.allclose(hello, net(x, t, *net.encode(["food"], ["ase"])))
    assert not any(".backbone." in k and "text" in k for k in net.state_dict())  # the frozen T5 stays in its directory
    assert any("text" in k and "projection" in k for k in net.state_dict())
