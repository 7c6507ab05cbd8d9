import pytest
import torch
import torch.nn.functional as F

from text2sign.errors import ConfigError
from text2sign.models.gan_nat import (
    DiscriminatorConfig,
    GanNatConfig,
    GanNatGenerator,
    TemporalDiscriminator,
    bins_to_lengths,
    lengths_to_bins,
)
from text2sign.text import TextEncoderConfig


def tiny_generator(**kw) -> GanNatGenerator:
    torch.manual_seed(0)
    text = TextEncoderConfig(d_model=16, layers=1, heads=2, dropout=0.0, vocab=["<pad>", "<unk>", *"abcdef"],
                             signed_languages=["ase", "gsg"])  # fmt: skip
    cfg = GanNatConfig(text=text, d_model=16, layers=2, heads=2, dropout=0.0, noise_dim=4, feature_dim=6,
                       min_frames=4, max_frames=40, length_bin=2, layout="holistic-178", fps=25.0, **kw)  # fmt: skip
    return GanNatGenerator(cfg).eval()


def test_generator_shape_and_padded_frames():
    gen = tiny_generator()
    lengths = torch.tensor([5, 9])
    states, mask = gen.encode(["abc", "fed"], ["ase", "gsg"])
    out = gen(states, mask, lengths)
    assert out.shape == (2, 9, 6)
    assert torch.all(out[0, 5:] == 0) and out[0, :5].abs().sum() > 0
    assert gen(states, mask, lengths, num_frames=12).shape == (2, 12, 6)


def test_padded_noise_and_batch_company_do_not_change_real_frames():
    gen = tiny_generator()
    lengths = torch.tensor([5, 9])
    states, mask = gen.encode(["abc", "abcdef"], ["ase", "ase"])
    noise = torch.randn(2, 9, 4)
    out = gen(states, mask, lengths, noise)
    other = noise.clone()
    other[0, 5:] = 100.0
    assert torch.allclose(gen(states, mask, lengths, other)[0, :5], out[0, :5], atol=1e-5)
    s1, m1 = gen.encode(["abc"], ["ase"])
    alone = gen(s1, m1, torch.tensor([5]), noise[:1, :5])
    assert torch.allclose(alone[0], out[0, :5], atol=1e-5)


def test_noise_changes_output():
    gen = tiny_generator()
    states, mask = gen.encode(["abc"], ["ase"])
    a = gen(states, mask, torch.tensor([6]), torch.zeros(1, 6, 4))
    b = gen(states, mask, torch.tensor([6]), torch.ones(1, 6, 4))
    assert not torch.allclose(a, b)


def test_length_bins():
    cfg = tiny_generator().cfg
    assert cfg.num_length_bins == 19  # 4, 6, ..., 40
    lengths = torch.tensor([1, 4, 5, 6, 7, 40, 99])
    assert lengths_to_bins(lengths, cfg).tolist() == [0, 0, 0, 1, 2, 18, 18]  # 5 -> 0.5 rounds to even
    assert bins_to_lengths(torch.tensor([0, 1, 18]), cfg).tolist() == [4, 6, 40]
    even = torch.arange(4, 41, 2)
    assert torch.equal(bins_to_lengths(lengths_to_bins(even, cfg), cfg), even)


def test_length_predictor_learns_toy_lengths():
    gen = tiny_generator()
    gen.train()
    texts = ["a", "abcdef", "ab", "abcde"]
    target = lengths_to_bins(torch.tensor([6, 36, 12, 30]), gen.cfg)
    opt = torch.optim.Adam(gen.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        states, mask = gen.encode(texts, ["ase"] * 4)
        loss = F.cross_entropy(gen.length_logits(states, mask), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]
    gen.eval()
    states, mask = gen.encode(texts, ["ase"] * 4)
    assert gen.predict_lengths(states, mask).tolist() == [6, 36, 12, 30]


def test_generate_uses_predicted_or_given_lengths():
    gen = tiny_generator()
    feats, lengths = gen.generate(["abc", "de"], ["ase", "gsg"])
    assert feats.shape == (2, int(lengths.max()), 6) and lengths.min() >= 4
    feats, lengths = gen.generate(["abc"], ["ase"], lengths=torch.tensor([7]))
    assert feats.shape == (1, 7, 6)


def test_generator_needs_feature_dim():
    with pytest.raises(ConfigError, match="feature_dim is not set"):
        GanNatGenerator(GanNatConfig(text=TextEncoderConfig(vocab=["<pad>", "<unk>", "a"])))
    with pytest.raises(ConfigError, match="unknown GanNatConfig keys: hidden"):
        GanNatConfig.from_dict({"hidden": 3})


def test_config_round_trip():
    cfg = tiny_generator().cfg
    again = GanNatConfig.from_dict(cfg.to_dict())
    assert again == cfg and isinstance(again.text, TextEncoderConfig)


@pytest.mark.parametrize("conditional", [False, True])
def test_discriminator_masks_padding(conditional):
    torch.manual_seed(0)
    disc = TemporalDiscriminator(DiscriminatorConfig(channels=8, layers=3, conditional=conditional), 6, cond_dim=16)
    x = torch.randn(2, 12, 6)
    frame_mask = torch.ones(2, 12, dtype=torch.bool)
    frame_mask[0, 7:] = False
    cond = torch.randn(2, 16) if conditional else None
    scores = disc(x, frame_mask, cond)
    assert scores.shape == (2, 12) and torch.all(scores[0, 7:] == 0)
    noisy = x.clone()
    noisy[0, 7:] = 1000.0
    assert torch.allclose(disc(noisy, frame_mask, cond)[0, :7], scores[0, :7], atol=1e-5)
    # Padding the batch further leaves real-frame scores unchanged.
    longer = torch.cat([x, torch.zeros(2, 5, 6)], dim=1)
    longer_mask = torch.cat([frame_mask, torch.zeros(2, 5, dtype=torch.bool)], dim=1)
    assert torch.allclose(disc(longer, longer_mask, cond)[:, :12], scores, atol=1e-5)


def test_discriminator_receptive_field_and_condition():
    torch.manual_seed(0)
    disc = TemporalDiscriminator(DiscriminatorConfig(channels=8, layers=2, kernel_size=3, use_velocity=False), 6, 16)
    x = torch.randn(1, 30, 6)
    mask = torch.ones(1, 30, dtype=torch.bool)
    cond = torch.randn(1, 16)
    base = disc(x, mask, cond)
    x2 = x.clone()
    x2[0, 15] += 5.0
    changed = (disc(x2, mask, cond) - base).abs()[0] > 1e-6
    # kernel 3, dilations 1 and 2: receptive field 1 + 2 * (1 + 2) = 7 frames, i.e. frames 12..18.
    assert changed.nonzero().flatten().tolist() == list(range(12, 19))
    with pytest.raises(ValueError, match="pass text_cond"):
        disc(x, mask)
    with pytest.raises(ConfigError, match="must be odd"):
        DiscriminatorConfig(kernel_size=4)


def test_uniform_alignment_gives_each_frame_its_token():
    gen = tiny_generator(alignment="uniform")
    ctx = torch.arange(3, dtype=torch.float32)[None, :, None].expand(2, 3, 16)  # token i holds the value i
    text_mask = torch.tensor([[True, True, True], [True, True, False]])
    with torch.no_grad():
        gen.within_proj.weight.zero_()
        gen.within_proj.bias.zero_()
    aligned = gen.aligned_tokens(ctx, text_mask, torch.tensor([6, 4]), num_frames=6)[..., 0]
    assert aligned[0].tolist() == [0, 0, 1, 1, 2, 2]  # 3 tokens over 6 frames: two frames each
    assert aligned[1, :4].tolist() == [0, 0, 1, 1]  # 2 real tokens over 4 real frames; padding never read
    assert aligned[1].max() <= 1


def test_duration_alignment_follows_given_or_predicted_durations():
    gen = tiny_generator(alignment="durations")
    ctx = torch.arange(3, dtype=torch.float32)[None, :, None].expand(1, 3, 16).contiguous()
    with torch.no_grad():
        gen.within_proj.weight.zero_()
        gen.within_proj.bias.zero_()
        gen.duration_head[-1].weight.zero_()
        gen.duration_head[-1].bias.zero_()  # every token predicts exp(0) = 1 frame: equal shares
    given = gen.aligned_tokens(ctx, None, torch.tensor([8]), 8, durations=torch.tensor([[1, 5, 2]]))[0, :, 0]
    assert given.tolist() == [0, 1, 1, 1, 1, 1, 2, 2]
    predicted = gen.aligned_tokens(ctx, None, torch.tensor([9]), 9)[0, :, 0]
    assert predicted.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert gen.prior_means(torch.zeros(2, 3, 16)).shape == (2, 3 * gen.cfg.prior_states, 6)


def test_durations_change_the_output_only_through_the_alignment():
    gen = tiny_generator(alignment="durations")
    states, mask = gen.encode(["abc"], ["ase"])
    noise = torch.zeros(1, 9, 4)
    with torch.no_grad():
        a = gen(states, mask, torch.tensor([9]), noise, durations=torch.tensor([[3, 3, 3]]))
        b = gen(states, mask, torch.tensor([9]), noise, durations=torch.tensor([[1, 1, 7]]))
    # Frame 4 is the middle of "b" under equal runs and part of "c" under the second: it differs.
    assert not torch.allclose(a[0, 4], b[0, 4], atol=1e-4)
    with pytest.raises(ConfigError, match="alignment must be one of"):
        tiny_generator(alignment="ctc")
    with pytest.raises(ConfigError, match="predicts no durations"):
        tiny_generator(alignment="uniform").log_durations(torch.zeros(1, 3, 16))
