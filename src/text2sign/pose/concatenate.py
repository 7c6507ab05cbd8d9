"""Coarticulated concatenation: isolated sign clips -> one continuous signing sequence.

Isolated clips (a fingerspelled letter, a dictionary sign) each start with the hands rising
from rest and end with them falling back. Played back to back they look like a robot resetting
between every sign. The procedure, used both by the lookup baseline and by the FS-Words
builder (with different timing), is:

1. **Align** every clip to the first one by its shoulders (centre and width), so a change of
   recording session does not make the signer jump.
2. **Trim the holds**: keep each clip's *core*, the frames where the active hand is at its
   signing location (within ``CORE_RADIUS`` shoulder widths of its median position there).
3. **Retime** each core to a chosen number of frames (linear interpolation in time).
4. **Blend** consecutive cores with a short smoothstep transition from the last frame of one to
   the first frame of the next; joints seen on only one side stay unseen in the transition.
5. Keep the first clip's approach from rest and the last clip's return to rest, so the
   sequence starts and ends naturally.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from text2sign.errors import InvalidPoseError
from text2sign.pose.normalize import shoulder_normalization
from text2sign.pose.sequence import PoseSequence, interpolate_frames, time_positions

# Frames of movement from the end of one word to the start of the next (every pipeline that joins words).
WORD_PAUSE_FRAMES = 6
CORE_RADIUS = 0.15  # shoulder widths: holds stay within ~0.05, an approaching hand is far outside


@dataclass(frozen=True)
class PreparedClip:
    """A clip with what concatenation needs precomputed, so composing is only array slicing."""

    seq: PoseSequence
    core_start: int
    core_end: int  # exclusive
    center: np.ndarray  # (D,) shoulder midpoint
    scale: float  # shoulder width

    @property
    def core_length(self) -> int:
        return self.core_end - self.core_start


def core_span(seq: PoseSequence, radius: float = CORE_RADIUS) -> tuple[int, int]:
    """[start, end) frames where the more visible hand is at its signing location."""
    hands = [seq.layout.kind_indices(kind) for kind in ("right_hand", "left_hand")]
    hands = [h for h in hands if h.size]
    if not hands or seq.num_frames < 3:
        return 0, seq.num_frames
    hand = max(hands, key=lambda h: seq.mask[:, h].sum())
    seen = seq.mask[:, hand].mean(axis=1) > 0.5  # (T,)
    if seen.sum() < 2:
        return 0, seq.num_frames
    weights = seq.mask[:, hand, None].astype(np.float32)  # (T, H, 1)
    position = (seq.data[:, hand, :2] * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1)  # (T, 2)
    seen_idx = np.flatnonzero(seen)
    middle = seen_idx[len(seen_idx) // 4 : max(len(seen_idx) * 3 // 4, len(seen_idx) // 4 + 1)]
    home = np.median(position[middle], axis=0)
    try:
        scale = shoulder_normalization(seq).scale
    except InvalidPoseError:
        scale = float(np.ptp(position[seen], axis=0).max()) or 1.0
    near = seen & (np.linalg.norm(position - home, axis=-1) < radius * scale)
    if not near.any():
        return 0, seq.num_frames
    idx = np.flatnonzero(near)
    return int(idx[0]), int(idx[-1]) + 1


def prepare_clip(seq: PoseSequence) -> PreparedClip:
    start, end = core_span(seq)
    norm = shoulder_normalization(seq)
    return PreparedClip(seq, start, end, norm.center, norm.scale)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    return x * x * (3.0 - 2.0 * x)


def compose(
    clips: list[PreparedClip],
    core_frames: list[int] | None = None,
    transition_frames: list[int] | int = 4,
    hold_after: list[int] | None = None,
    keep_approach: bool = True,
) -> PoseSequence:
    """Join prepared clips into one sequence (see the module docstring for the procedure).

    core_frames[i]: frames given to clip i's core (default: its own length).
    transition_frames[i]: frames of blending between clip i and i + 1.
    hold_after[i]: frames clip i's last pose is held before the transition (pauses between words).
    """
    if not clips:
        raise ValueError("nothing to compose")
    n = len(clips)
    first = clips[0].seq
    layout, fps = first.layout, first.fps
    for c in clips:
        if not c.seq.layout.same_joints(layout) or abs(c.seq.fps - fps) > 1e-6:
            raise InvalidPoseError("clips to compose must share layout and fps")
    if isinstance(transition_frames, int):
        transition_frames = [transition_frames] * (n - 1)
    core_frames = core_frames or [c.core_length for c in clips]
    hold_after = hold_after or [0] * n
    if len(core_frames) != n or len(transition_frames) != n - 1 or len(hold_after) != n:
        raise ValueError("core_frames and hold_after need one entry per clip, transition_frames one per gap")

    anchor_center, anchor_scale = clips[0].center, clips[0].scale
    data_parts: list[np.ndarray] = []
    mask_parts: list[np.ndarray] = []
    previous_last: tuple[np.ndarray, np.ndarray] | None = None

    for i, clip in enumerate(clips):
        seq = clip.seq
        aligned = (seq.data - clip.center) * (anchor_scale / clip.scale) + anchor_center  # (T, J, D)
        positions = clip.core_start + time_positions(clip.core_length, max(1, core_frames[i]))
        core, core_mask = interpolate_frames(aligned, seq.mask, positions)  # (t_i, J, D)

        if previous_last is None:
            if keep_approach:
                data_parts.append(aligned[: clip.core_start])
                mask_parts.append(seq.mask[: clip.core_start])
        else:
            last, last_mask = previous_last
            k = transition_frames[i - 1]
            if k > 0:
                w = _smoothstep(np.arange(1, k + 1, dtype=np.float32) / (k + 1))[:, None, None]  # (k, 1, 1)
                data_parts.append(last[None] * (1 - w) + core[0][None] * w)
                mask_parts.append(np.repeat((last_mask & core_mask[0])[None], k, axis=0))

        data_parts.append(core)
        mask_parts.append(core_mask)
        if hold_after[i] > 0:
            data_parts.append(np.repeat(core[-1:], hold_after[i], axis=0))
            mask_parts.append(np.repeat(core_mask[-1:], hold_after[i], axis=0))
        previous_last = (core[-1], core_mask[-1])

        if i == n - 1 and keep_approach:
            data_parts.append(aligned[clip.core_end :])
            mask_parts.append(seq.mask[clip.core_end :])

    data = np.concatenate(data_parts).astype(np.float32)
    mask = np.concatenate(mask_parts)
    return PoseSequence(np.where(mask[..., None], data, 0.0), mask, fps, layout)


def join_words(words: list[PoseSequence], pause_frames: int = WORD_PAUSE_FRAMES) -> PoseSequence:
    """Words one after another, each pair bridged by `pause_frames` frames moving linearly from
    the last frame of one word to the first frame of the next."""
    parts = [words[0]]
    for previous, following in itertools.pairwise(words):
        if pause_frames > 0:
            ends_data = np.stack([previous.data[-1], following.data[0]])  # (2, J, D)
            ends_mask = np.stack([previous.mask[-1], following.mask[0]])
            positions = np.linspace(0, 1, pause_frames + 2)[1:-1]
            data, mask = interpolate_frames(ends_data, ends_mask & ends_mask.all(axis=0), positions)
            parts.append(PoseSequence(data, mask, previous.fps, previous.layout))
        parts.append(following)
    return PoseSequence.concatenate(parts)
