"""Tests for arcnb.voting: hand-computed votes for every method."""

import json
import random
from types import SimpleNamespace

import pytest

from arcnb.errors import InputError
from arcnb.scoring import as_grid
from arcnb.voting import METHODS, rank_candidates, vote_task

A, B, C, D = [[1]], [[2]], [[3]], [[4]]


def attempt(*outputs, acc=0.0, trans=False):
    return {"test_outputs": list(outputs), "train_accuracy": acc, "transductive": trans}


def top1(vote, method):
    return vote[method].top2[0][0]


def test_weighted_beats_frequency_when_train_accuracy_differs():
    attempts = [attempt(A), attempt(A), attempt(A), attempt(C), attempt(C), attempt(B, acc=0.5)]
    # Plain frequency would answer A then C.
    assert [c.grid for c in rank_candidates([a["test_outputs"][0] for a in attempts])] == [A, C, B]
    vote = vote_task(attempts, [B])
    ranked = vote.tally("weighted", 0)
    assert [(c.grid, c.score, c.count, c.attempts) for c in ranked] == [
        (B, 501.0, 1, (5,)),
        (A, 3.0, 3, (0, 1, 2)),
        (C, 2.0, 2, (3, 4)),
    ]
    assert vote["weighted"].top2 == [[B, A]]
    assert vote["weighted"].per_test_correct == [True]
    assert vote.score("weighted") == 1.0


def test_train_majority_votes_among_the_best_attempts_only():
    attempts = [
        attempt(A, acc=1.0),
        attempt(B, acc=1.0),
        attempt(B, acc=1.0),
        *[attempt(C, acc=0.5) for _ in range(4)],
    ]
    vote = vote_task(attempts, [A])
    # Only the three 1.0 attempts vote: B twice, A once.
    assert vote["train_majority"].top2 == [[B, A]]
    assert vote["train_majority"].score == 1.0
    # Weighted: C = 4 x 501 = 2004 > B = 2 x 1001 = 2002 > A = 1001, so A is third.
    assert [(c.grid, c.score) for c in vote.tally("weighted", 0)] == [
        (C, 2004.0),
        (B, 2002.0),
        (A, 1001.0),
    ]
    assert vote["weighted"].top2 == [[C, B]]
    assert vote["weighted"].score == 0.0
    # The oracle sees A.
    assert vote["oracle"].top2 == [[A]]
    assert vote["oracle"].score == 1.0


def test_train_majority_best_is_among_attempts_that_produced_a_grid():
    # A perfect-train attempt that crashed on this test input does not set the bar.
    attempts = [attempt(None, acc=1.0), attempt(A, acc=0.5), attempt(A, acc=0.5), attempt(B)]
    vote = vote_task(attempts, [A])
    assert vote["train_majority"].top2 == [[A, B]]
    assert [(c.grid, c.count) for c in vote.tally("train_majority", 0)] == [(A, 2), (B, 1)]


def test_train_majority_fills_the_second_slot_from_a_lower_train_accuracy():
    # The case: the best-train group (2 of 3 train pairs right) agrees on A, and
    # an attempt with fewer train pairs right (1 of 3) produced B, the true answer.
    attempts = [attempt(A, acc=2 / 3), attempt(A, acc=2 / 3), attempt(B, acc=1 / 3), attempt(C)]
    vote = vote_task(attempts, [B])
    assert vote["train_majority"].top2 == [[A, B]]
    assert vote["train_majority"].per_test_correct == [True]
    assert vote.score("train_majority") == 1.0  # pass@2: before the fix slot 2 was empty, 0.0
    assert vote.score("train_majority_excl_trans") == 1.0
    assert [(c.grid, c.score, c.count, c.attempts) for c in vote.tally("train_majority", 0)] == [
        (A, 2.0, 2, (0, 1)),
        (B, 1.0, 1, (2,)),
        (C, 1.0, 1, (3,)),
    ]


def test_train_majority_ranks_each_lower_accuracy_by_its_own_votes():
    attempts = [
        attempt(A, acc=1.0),
        attempt(A, acc=0.5),  # A is already ranked: this vote counts nowhere
        attempt(C, acc=0.5),
        attempt(B, acc=0.5),
        attempt(B, acc=0.5),
        *[attempt(D) for _ in range(5)],  # more votes, but a lower train accuracy
    ]
    vote = vote_task(attempts, [B])
    ranked = vote.tally("train_majority", 0)
    assert [(c.grid, c.count, c.attempts) for c in ranked] == [
        (A, 1, (0,)),
        (B, 2, (3, 4)),
        (C, 1, (2,)),
        (D, 5, (5, 6, 7, 8, 9)),
    ]
    assert vote["train_majority"].top2 == [[A, B]]
    assert vote.score("train_majority") == 1.0


def test_one_distinct_grid_leaves_the_second_slot_empty():
    attempts = [attempt(A, acc=1.0), attempt(A, acc=0.5), attempt(A), attempt(None, acc=1.0)]
    vote = vote_task(attempts, [B])
    for method in (
        "weighted",
        "weighted_excl_trans",
        "train_majority",
        "train_majority_excl_trans",
    ):
        assert vote[method].top2 == [[A]]
        assert vote[method].score == 0.0


def test_both_slots_filled_with_distinct_grids_whenever_two_exist():
    for seed in range(300):
        _check_slots(random.Random(seed), seed)


def _check_slots(rng, seed):
    grids = [A, B, C, D, [[1, 1]], ((2,),)]  # ((2,),) equals B as a grid
    attempts = [
        attempt(
            *[rng.choice([*grids, None]) for _ in range(2)],
            acc=rng.choice([0.0, 1 / 3, 0.5, 2 / 3, 1.0, None]),
            trans=rng.random() < 0.3,
        )
        for _ in range(rng.randint(0, 8))
    ]
    vote = vote_task(attempts, [B, A])
    for t in range(2):
        for pool, suffix in (
            (attempts, ""),
            ([a for a in attempts if not a["transductive"]], "_excl_trans"),
        ):
            distinct = {json.dumps(as_grid(a["test_outputs"][t])) for a in pool} - {"null"}
            for base in ("weighted", "train_majority"):
                answers = vote[base + suffix].top2[t]
                assert len(answers) == min(2, len(distinct)), (seed, base + suffix, t)
                assert len({json.dumps(g) for g in answers}) == len(answers)
                tally = [json.dumps(c.grid) for c in vote.tally(base + suffix, t)]
                assert sorted(tally) == sorted(distinct)  # every grid ranked exactly once


def test_excluding_transductive_attempts_changes_the_answer():
    attempts = [attempt(D, acc=1.0, trans=True), attempt(A), attempt(B), attempt(B)]
    vote = vote_task(attempts, [A])
    assert vote["weighted"].top2 == [[D, B]]  # D: 1001, B: 2, A: 1
    assert vote["weighted_excl_trans"].top2 == [[B, A]]
    assert vote["train_majority"].top2 == [[D, B]]  # D alone at 1.0, then B leads at 0.0
    assert vote["train_majority_excl_trans"].top2 == [[B, A]]
    assert {m: vote.score(m) for m in METHODS} == {
        "weighted": 0.0,
        "weighted_excl_trans": 1.0,
        "train_majority": 0.0,
        "train_majority_excl_trans": 1.0,
        "oracle": 1.0,
        "oracle_excl_trans": 1.0,
    }
    # Excluded attempts keep their indices in the tallies.
    assert vote.tally("weighted_excl_trans", 0)[0].attempts == (2, 3)
    # When the transductive attempt held the answer, the inductive oracle misses it.
    assert vote_task(attempts, [D])["oracle_excl_trans"].score == 0.0


def test_ties_break_by_score_then_count_then_first_attempt():
    # Equal score and count: the grid first produced by the lowest attempt index wins.
    tied = [attempt(C, acc=0.5), attempt(A, acc=0.5), attempt(B, acc=0.5)]
    assert vote_task(tied, [A])["weighted"].top2 == [[C, A]]
    assert vote_task(list(reversed(tied)), [A])["weighted"].top2 == [[B, A]]
    # Equal score (1 + 1000 x 0.002 = 3 = 3 x 1, up to float rounding): more votes win.
    by_count = [attempt(A, acc=0.002), attempt(B), attempt(B), attempt(B)]
    assert vote_task(by_count, [A])["weighted"].top2 == [[B, A]]
    # 1/6 + 2/3 = 0 + 5/6, but the float sums differ in the last bit (835.3333333333333
    # against 835.3333333333334); scores compare rounded, so the earlier grid B wins.
    float_tie = [
        attempt(B, acc=1 / 6),
        attempt(B, acc=2 / 3),
        attempt(A, acc=0.0),
        attempt(A, acc=5 / 6),
    ]
    assert vote_task(float_tie, [A])["weighted"].top2 == [[B, A]]


def test_multi_test_task_scores_the_fraction_solved():
    attempts = [attempt(A, C, acc=1.0), attempt(B, D)]
    vote = vote_task(attempts, [A, B])
    # Test 0: A (1001) beats B (1); test 1: C (1001) then D (1), but the answer is B.
    assert vote["weighted"].top2 == [[A, B], [C, D]]
    assert vote["weighted"].per_test_correct == [True, False]
    assert vote["weighted"].score == 0.5
    assert vote["weighted"].all_correct is False
    assert vote["oracle"].per_test_correct == [True, False]


@pytest.mark.parametrize("attempts", [[], [attempt(None, None), attempt(), {"test_outputs": None}]])
def test_no_answers_score_zero_everywhere(attempts):
    vote = vote_task(attempts, [A, B])
    assert vote.n_test == 2
    for method in METHODS:
        assert vote[method].top2 == [[], []]
        assert vote[method].per_test_correct == [False, False]
        assert vote[method].score == 0.0
        assert vote[method].all_correct is False
        assert vote.tally(method, 1) == []


def test_oracle_finds_an_answer_no_vote_ranks():
    attempts = [attempt(A, acc=1.0), attempt(B, acc=1.0), attempt(C)]
    vote = vote_task(attempts, [C])
    assert vote["weighted"].score == 0.0
    assert vote["train_majority"].score == 0.0
    assert vote["oracle"].top2 == [[C]]
    assert vote["oracle"].all_correct is True


def test_unknown_expected_output_is_not_correct():
    vote = vote_task([attempt(A, acc=1.0)], [None])
    assert vote["weighted"].top2 == [[A]]
    assert vote["weighted"].per_test_correct == [False]
    assert vote["oracle"].top2 == [[]]


def test_attempts_may_be_objects_and_predictions_junk():
    attempts = [
        SimpleNamespace(test_outputs=[[[1], [2, 3]]], train_accuracy=1.0, transductive=False),
        SimpleNamespace(test_outputs=[((2,),)], train_accuracy=0.0, transductive=False),
    ]
    vote = vote_task(attempts, [B])
    # The ragged grid is no answer, so the tuple grid wins.
    assert vote["weighted"].top2 == [[B]]
    assert vote["train_majority"].top2 == [[B]]


def test_to_dict_is_json_serialisable():
    vote = vote_task([attempt(A, acc=0.5), attempt(B, trans=True)], [A])
    data = json.loads(json.dumps(vote.to_dict()))
    assert list(data["methods"]) == list(METHODS)
    assert data["methods"]["weighted"]["top2"] == [[A, B]]
    assert data["tallies"]["weighted"][0][0] == {
        "grid": A,
        "score": 501.0,
        "count": 1,
        "attempts": [0],
    }


def test_bad_input_is_input_error():
    with pytest.raises(InputError):
        vote_task([attempt(A, acc=1.5)], [A])
    with pytest.raises(InputError):
        vote_task([attempt(A)], [[[1], [2, 3]]])
    vote = vote_task([attempt(A)], [A])
    with pytest.raises(InputError):
        vote.tally("plurality", 0)
    with pytest.raises(InputError):
        vote.tally("weighted", 1)
