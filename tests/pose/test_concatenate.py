import numpy as np
import pytest

from text2sign.errors import InvalidPoseError
from text2sign.pose.concatenate import compose, core_span, prepare_clip
from text2sign.testing import fake_pose


def sign_clip(seed: int, approach: int = 5, hold: int = 10, offset=(0.0, 0.0)):
    """A clip whose hands come from rest (far below), hold still, and go back down."""
    seq = fake_pose(approach + hold + approach, seed=seed, hands_moving=False)
    hands = seq.layout.kind_indices("left_hand", "right_hand")
    drop = np.concatenate([np.linspace(300, 0, approach), np.zeros(hold), np.linspace(0, 300, approach)])
    seq.data[:, hands, 1] += drop[:, None].astype(np.float32)
    seq.data[:, :, 0] += offset[0]
    seq.data[:, :, 1] += offset[1]
    return seq


def test_core_span_trims_approach_and_return():
    clip = sign_clip(0, approach=5, hold=10)
    start, end = core_span(clip)
    # frames 4 and 15 are within 0.15 shoulder widths (140 px * 0.15 = 21 px) of the hold only
    # once the drop is below 21 px: linspace(300, 0, 5)[4] = 0, so the core is exactly the hold.
    assert (start, end) == (4, 16)


def test_compose_lengths_add_up():
    clips = [prepare_clip(sign_clip(s)) for s in range(3)]
    out = compose(clips, core_frames=[6, 7, 8], transition_frames=[3, 4], hold_after=[0, 2, 0])
    approach, leave = clips[0].core_start, clips[2].seq.num_frames - clips[2].core_end
    assert out.num_frames == approach + 6 + 3 + 7 + 2 + 4 + 8 + leave


def test_compose_is_continuous_at_the_joins():
    clips = [prepare_clip(sign_clip(s)) for s in range(4)]
    out = compose(clips, core_frames=[6] * 4, transition_frames=4)
    hands = out.layout.kind_indices("left_hand", "right_hand")
    step = np.linalg.norm(np.diff(out.data[:, hands], axis=0), axis=-1).max(axis=1)  # (T-1,)
    core = slice(clips[0].core_start, out.num_frames - (clips[-1].seq.num_frames - clips[-1].core_end))
    naive = np.linalg.norm(
        clips[1].seq.data[clips[1].core_start, hands] - clips[0].seq.data[clips[0].core_end - 1, hands], axis=-1
    ).max()
    # Jumping straight from one clip to the next moves a hand joint by `naive`; blended over
    # 4 frames no frame-to-frame step inside the signing may exceed about half of that.
    assert step[core].max() < 0.6 * naive


def test_compose_aligns_signers_by_shoulders():
    a = prepare_clip(sign_clip(0))
    b = prepare_clip(sign_clip(0, offset=(80.0, -40.0)))  # same signer, camera moved
    out = compose([a, b], core_frames=[5, 5], transition_frames=2)
    left, right = out.layout.shoulders
    assert np.ptp(out.data[:, left, 0]) < 2.0 and np.ptp(out.data[:, right, 1]) < 2.0


def test_compose_checks_arguments():
    clips = [prepare_clip(sign_clip(0)), prepare_clip(sign_clip(1))]
    with pytest.raises(ValueError, match="one entry per clip"):
        compose(clips, core_frames=[5])
    with pytest.raises(InvalidPoseError, match="share layout"):
        compose([clips[0], prepare_clip(fake_pose(10, "phoenix-50"))])
