import itertools

import pytest
import torch

from text2sign.models.alignment import duration_ends, durations_from_ends, frame_token_index, monotonic_alignment


def test_duration_ends_scale_to_the_frames_and_skip_padded_tokens():
    ends = duration_ends(torch.tensor([[1.0, 1.0, 2.0], [3.0, 1.0, 9.0]]), torch.tensor([[1, 1, 1], [1, 1, 0]]).bool(),
                         torch.tensor([8, 6]))  # fmt: skip
    assert ends.tolist() == [[2, 4, 8], [4, 6, 6]]  # 8 * (1/4, 2/4, 4/4); 6 * (3/4, 4/4), padding adds none
    assert durations_from_ends(ends).tolist() == [[2, 2, 4], [4, 2, 0]]


def test_duration_ends_without_durations_share_frames_equally():
    ends = duration_ends(torch.zeros(1, 3), None, torch.tensor([9]))
    assert ends.tolist() == [[3, 6, 9]]


def test_frame_token_index_and_progress_within_a_token():
    index, within = frame_token_index(torch.tensor([[3, 4, 8]]), num_frames=9)
    assert index.tolist() == [[0, 0, 0, 1, 2, 2, 2, 2, 2]]  # the 9th frame is padding: last token
    assert within[0, :8].tolist() == pytest.approx([0, 1 / 3, 2 / 3, 0, 0, 0.25, 0.5, 0.75])


def test_frame_token_index_skips_tokens_without_frames():
    index, _ = frame_token_index(torch.tensor([[2, 2, 5]]), num_frames=5)
    assert index.tolist() == [[0, 0, 2, 2, 2]]


def brute_force_best_durations(ll: torch.Tensor) -> list[int]:
    """Every split of T frames into L non-empty runs, scored by summing ll along it."""
    frames, tokens = ll.shape
    best, best_durations = None, None
    for cuts in itertools.combinations(range(1, frames), tokens - 1):
        bounds = [0, *cuts, frames]
        total = sum(ll[t, k].item() for k in range(tokens) for t in range(bounds[k], bounds[k + 1]))
        if best is None or total > best:
            best, best_durations = total, [bounds[k + 1] - bounds[k] for k in range(tokens)]
    return best_durations


def test_monotonic_alignment_finds_the_best_path():
    torch.manual_seed(0)
    for frames, tokens in [(7, 3), (6, 1), (5, 5), (9, 4)]:
        ll = torch.randn(1, frames, tokens)
        durations = monotonic_alignment(ll, torch.tensor([frames]), torch.tensor([tokens]))
        assert durations[0].tolist() == brute_force_best_durations(ll[0])


def test_monotonic_alignment_recovers_planted_runs_and_ignores_padding():
    truth = [[3, 1, 4], [2, 3, 0]]
    ll = torch.full((2, 8, 3), -5.0)
    for b, durations in enumerate(truth):
        start = 0
        for k, d in enumerate(durations):
            ll[b, start : start + d, k] = 0.0
            start += d
    ll[1, 5:] = 100.0  # padded frames and the padded token must not pull the path
    ll[1, :, 2] = 100.0
    found = monotonic_alignment(ll, torch.tensor([8, 5]), torch.tensor([3, 2]))
    assert found.tolist() == truth


def test_monotonic_alignment_with_fewer_frames_than_tokens_shares_frames():
    durations = monotonic_alignment(torch.zeros(1, 4, 3), torch.tensor([2]), torch.tensor([3]))
    assert durations.sum().item() == 2 and durations.tolist() == [[1, 0, 1]]
