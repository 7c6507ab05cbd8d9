"""Pauses at punctuation, word spans and the page's JSON: pure functions, no web framework."""

import dataclasses
import itertools
import json

import numpy as np
import pytest

from text2sign.pose.concatenate import WORD_PAUSE_FRAMES
from text2sign.server.signing import (
    COMMA_PAUSE_S,
    SENTENCE_PAUSE_S,
    join_clauses,
    pose_json,
    split_clauses,
    word_spans,
)
from text2sign.testing import fake_pose


def test_punctuation_splits_clauses_with_their_pauses():
    clauses = split_clauses("Hello, world. How are you?")
    assert [c.words for c in clauses] == [("Hello",), ("world",), ("How", "are", "you")]
    assert [c.pause_s for c in clauses] == [COMMA_PAUSE_S, SENTENCE_PAUSE_S, 0.0]
    assert COMMA_PAUSE_S < SENTENCE_PAUSE_S


@pytest.mark.parametrize(
    "text, clauses", [("3.5 apples", 1), ("well-known", 1), ("www.example.org", 1), ("end. start", 2)]
)
def test_a_mark_cuts_only_where_no_letter_or_digit_follows(text, clauses):
    assert len(split_clauses(text)) == clauses


def test_runs_of_marks_keep_the_strongest_pause_and_blank_pieces_vanish():
    clauses = split_clauses("Wait... what?! no,. yes")
    assert [c.words for c in clauses] == [("Wait",), ("what",), ("no",), ("yes",)]
    assert [c.pause_s for c in clauses] == [SENTENCE_PAUSE_S, SENTENCE_PAUSE_S, SENTENCE_PAUSE_S, 0.0]


def test_full_width_marks_cut_without_a_space():
    clauses = split_clauses("你好。谢谢，再见")
    assert [c.words for c in clauses] == [("你好",), ("谢谢",), ("再见",)]
    assert [c.pause_s for c in clauses] == [SENTENCE_PAUSE_S, COMMA_PAUSE_S, 0.0]


def test_text_without_words_stays_one_clause_for_the_pipeline_to_refuse():
    assert [(c.text, c.words) for c in split_clauses("?!")] == [("?!", ())]


def test_word_spans_share_frames_by_letters_and_tile_the_range():
    spans = word_spans(("a", "abc"), 10, 50)
    assert [(s.label, s.start, s.end) for s in spans] == [("a", 10, 20), ("abc", 20, 50)]
    assert word_spans((), 0, 10) == []


def test_pauses_hold_still_and_a_sentence_end_is_longer_than_a_comma():
    clauses = split_clauses("one, two. three")
    parts = [fake_pose(20, seed=i) for i in range(3)]
    joined, words, pauses = join_clauses(clauses, parts)
    comma, stop = (round(p * 25) for p in (COMMA_PAUSE_S, SENTENCE_PAUSE_S))
    assert joined.num_frames == 60 + comma + stop + 2 * WORD_PAUSE_FRAMES
    assert [(p.label, p.end - p.start) for p in pauses] == [(",", comma), (".", stop)]
    for pause in pauses:
        held = joined.data[pause.start - 1 : pause.end]
        assert np.array_equal(held, np.repeat(held[:1], len(held), axis=0))
    assert [w.label for w in words] == ["one", "two", "three"]
    assert words[0].start == 0 and words[-1].end == joined.num_frames
    edges = [(w.start, w.end) for w in words]
    assert all(a < b for a, b in edges) and all(b1 <= a2 for (_, b1), (a2, _) in itertools.pairwise(edges))
    np.testing.assert_array_equal(joined.data[words[1].start : words[1].end], parts[1].data)


def test_joined_clauses_keep_the_canvas_they_share():
    parts = [dataclasses.replace(fake_pose(10, seed=i), canvas=(400, 560)) for i in range(2)]
    joined, _, _ = join_clauses(split_clauses("one. two"), parts)
    assert joined.canvas == (400, 560)


def test_pose_json_has_frames_skeleton_and_nulls_for_unseen_joints():
    seq = fake_pose(5, layout="holistic")
    seq.mask[2, 0] = False
    doc = json.loads(pose_json(seq, model="m", words=[]))
    kinds = {c["kind"] for c in doc["layout"]["components"]}
    assert "world" not in kinds and doc["model"] == "m" and doc["num_frames"] == 5
    joints = sum(c["count"] for c in doc["layout"]["components"])
    assert all(len(f) == 2 * joints for f in doc["frames"])
    assert doc["frames"][2][:2] == [None, None] and doc["frames"][1][0] == pytest.approx(seq.data[1, 0, 0], abs=0.05)
    assert max(max(b) for b in doc["layout"]["bones"]) < joints
