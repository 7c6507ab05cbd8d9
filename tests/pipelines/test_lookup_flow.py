"""The shipped plan-conditioned model: it keeps the plan's signing, re-times it, fills body and
face, keeps a hand the plan does not show hidden, and takes any pose file or model as its plan."""

import numpy as np
import pytest

from text2sign.errors import Text2SignError
from text2sign.pipelines import load_pipeline
from text2sign.testing import fake_pose


@pytest.fixture(scope="module")
def refine():
    return load_pipeline("fs-lookup-flow")


@pytest.fixture(scope="module")
def plan():
    return load_pipeline("concat")("hello", "en", "ase").outputs[0]


def test_the_lookups_plan_is_retimed_and_keeps_its_frame_and_hands(refine, plan):
    (first, second) = refine("hello", "en", "ase", num_samples=2, seed=0).samples[0]
    assert first.layout.name == plan.layout.name and first.fps == plan.fps
    assert 0.7 * plan.num_frames < first.num_frames < 1.5 * plan.num_frames
    assert not np.array_equal(first.data, second.data)  # two samples, two signings
    layout = first.layout
    body_face = layout.kind_indices("body", "face")
    assert first.mask[:, body_face].all()  # filled where the plan lost them
    left = layout.kind_indices("left_hand")
    assert not plan.mask[:, left].any() and not first.mask[:, left].any()  # a one-handed sign stays one-handed
    right = layout.kind_indices("right_hand")
    centre = first.data[:, right][first.mask[:, right]].mean(axis=0)
    assert np.allclose(centre[:2], plan.data[:, right][plan.mask[:, right]].mean(axis=0)[:2], atol=0.1 * plan.canvas[0])


def test_seeds_are_reproducible_and_differ(refine):
    def signing(seed):
        return refine("hello", "en", "ase", seed=seed).outputs[0].data

    assert np.array_equal(signing(3), signing(3))
    assert not np.array_equal(signing(3), signing(4))


def test_any_pose_file_or_model_can_be_the_plan(refine, plan):
    given = refine("anything", "en", "ase", plan=plan, seed=0).outputs[0]
    assert np.array_equal(given.data, refine("hello", "en", "ase", seed=0).outputs[0].data)
    full = refine("x", "en", "ase", plan=fake_pose(30, layout="holistic")).outputs[0]
    assert full.layout.name == "holistic-178" and full.num_frames > 10
    from_gan = load_pipeline("fs-lookup-flow", plan_model="fs-gan-nat")("hello", "en", "ase").outputs[0]
    assert from_gan.num_frames > 10


def test_a_plan_it_cannot_use_is_one_error(refine):
    with pytest.raises(Text2SignError, match="cannot be used by fs-lookup-flow"):
        refine("x", "en", "ase", plan=fake_pose(30, layout="openpose-137"))
    no_shoulders = fake_pose(20)
    no_shoulders.mask[:] = False
    no_shoulders.mask[:, 20] = True
    with pytest.raises(Text2SignError, match="cannot be used"):
        refine("x", "en", "ase", plan=no_shoulders)
    with pytest.raises(Text2SignError, match="plan_strength"):
        refine("hello", "en", "ase", plan_strength=1.5)
