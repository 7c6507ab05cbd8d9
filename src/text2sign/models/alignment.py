"""Hard monotonic alignment of frames to text tokens: durations, frame -> token maps, and MAS.

A text of ``L`` tokens signed in ``T`` frames is aligned when every token owns a contiguous run
of frames, in token order: the alignment is the tokens' durations ``(B, L)``. Two sources:

* at inference, predicted durations, scaled so the real tokens fill the chosen number of
  frames (:func:`duration_ends`);
* in training, the durations that best explain the real frames under a per-token mean pose:
  monotonic alignment search (MAS, Glow-TTS, Kim et al. 2020), a Viterbi pass over the
  ``(T, L)`` grid where a path moves from token to token and never back
  (:func:`monotonic_alignment`).

Masks are True on real tokens / frames. Tensors only; no learned weights here.
"""

from __future__ import annotations

import torch


def duration_ends(durations: torch.Tensor, text_mask: torch.Tensor | None, lengths: torch.Tensor) -> torch.Tensor:
    """Frame (exclusive) where each token's run ends, ``(B, L)`` int64.

    `durations` (``(B, L)``, >= 0, any scale) are rescaled so that the real tokens fill exactly
    ``lengths[b]`` frames; padded tokens get none. Rounding cumulative sums (not each duration)
    keeps the total exact; a token may get zero frames when there are fewer frames than tokens.
    """
    d = durations.float().clamp(min=0)
    if text_mask is not None:
        d = d * text_mask.to(d.dtype)
    total = d.sum(dim=1, keepdim=True)
    # Tokens that were all given zero duration share the frames equally instead.
    real = torch.ones_like(d) if text_mask is None else text_mask.to(d.dtype)
    d = torch.where(total > 0, d, real)
    cumulative = d.cumsum(dim=1) / d.sum(dim=1, keepdim=True).clamp(min=1e-8)
    return torch.round(cumulative * lengths[:, None].float()).long()


def frame_token_index(ends: torch.Tensor, num_frames: int) -> tuple[torch.Tensor, torch.Tensor]:
    """For every frame, the token that owns it and how far through that token's run it is.

    ``ends`` from :func:`duration_ends` -> ``index (B, T)`` int64 and ``within (B, T)`` in
    ``[0, 1)``: ``(t - start) / duration``. Frames past the last end (padding) get the last token
    that has frames, so a padded token is never read.
    """
    batch, _ = ends.shape
    t = torch.arange(num_frames, device=ends.device)
    last = (ends < ends[:, -1:]).sum(dim=1, keepdim=True)  # (B, 1): the first token to reach the final end
    index = torch.searchsorted(ends.contiguous(), t.expand(batch, -1).contiguous(), right=True)
    index = torch.minimum(index, last)
    starts = torch.cat([torch.zeros_like(ends[:, :1]), ends[:, :-1]], dim=1)
    start, end = starts.gather(1, index), ends.gather(1, index)
    within = (t[None, :] - start).float() / (end - start).clamp(min=1).float()
    return index, within.clamp(0, 1)


def durations_from_ends(ends: torch.Tensor) -> torch.Tensor:
    """``(B, L)`` frames per token from :func:`duration_ends`'s run ends."""
    return torch.diff(ends, dim=1, prepend=torch.zeros_like(ends[:, :1]))


def equal_durations(token_mask: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``(B, L)`` frames per token when the real tokens share ``lengths[b]`` frames equally."""
    return durations_from_ends(duration_ends(token_mask.float(), token_mask, lengths))


def per_frame(token_states: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``(B, L, C)`` token states read out at ``index (B, T)`` from :func:`frame_token_index`: ``(B, T, C)``."""
    return torch.gather(token_states, 1, index[..., None].expand(-1, -1, token_states.shape[-1]))


def monotonic_alignment(
    log_likelihood: torch.Tensor, frame_lengths: torch.Tensor, token_counts: torch.Tensor
) -> torch.Tensor:
    """The monotonic path through ``log_likelihood (B, T, L)`` with the highest total: durations ``(B, L)``.

    Frame 0 belongs to token 0, frame ``frame_lengths[b] - 1`` to token ``token_counts[b] - 1``,
    and each next frame stays on its token or moves to the next one, so every real token gets at
    least one frame. Needs ``frame_lengths >= token_counts``; a text with more tokens than frames
    gets equal durations instead (some tokens then get none). Padded frames and tokens are never
    on a path. Runs without gradient: the result is a target, not a differentiable function.
    """
    with torch.no_grad():
        ll = log_likelihood.float()
        batch, num_frames, count = ll.shape
        neg_inf = torch.finfo(ll.dtype).min / 4
        token_index = torch.arange(count, device=ll.device)
        # best[:, t, l]: highest total over paths that reach token l at frame t.
        best = torch.full_like(ll, neg_inf)
        best[:, 0, 0] = ll[:, 0, 0]
        for t in range(1, num_frames):
            previous = best[:, t - 1]
            moved = torch.cat([torch.full_like(previous[:, :1], neg_inf), previous[:, :-1]], dim=1)
            reachable = token_index[None, :] <= t  # a path reaches token l no sooner than frame l
            best[:, t] = torch.where(reachable, torch.maximum(previous, moved) + ll[:, t], neg_inf)
        # Walk back from the last real frame and token.
        current = (token_counts - 1).clamp(min=0)
        rows = torch.arange(batch, device=ll.device)
        path = torch.zeros(batch, num_frames, dtype=torch.long, device=ll.device)
        for t in range(num_frames - 1, -1, -1):
            active = t < frame_lengths
            path[:, t] = torch.where(active, current, path[:, t])
            if t == 0:
                break
            stay = best[rows, t - 1, current]
            move = best[rows, t - 1, (current - 1).clamp(min=0)]
            step_back = (current > 0) & ((current == t) | (move > stay))
            current = torch.where(active & step_back, current - 1, current)
        frames = torch.arange(num_frames, device=ll.device)[None, :] < frame_lengths[:, None]
        durations = torch.zeros(batch, count, dtype=torch.long, device=ll.device)
        durations.scatter_add_(1, path, frames.long())
        too_short = frame_lengths < token_counts
        if bool(too_short.any()):
            equal = equal_durations(token_index[None, :] < token_counts[:, None], frame_lengths)
            durations = torch.where(too_short[:, None], equal, durations)
        return durations
