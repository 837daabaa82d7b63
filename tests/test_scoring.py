"""Tests for arcnb.scoring: exact match and pixel accuracy, hand-computed."""

import json

import numpy as np
import pytest

from arcnb.errors import InputError
from arcnb.scoring import ExampleScore, as_grid, score_example, score_examples

EXPECTED = [[1, 2], [3, 4]]


def test_exact_match_is_correct_with_full_pixel_accuracy():
    assert score_example([[1, 2], [3, 4]], EXPECTED) == ExampleScore(True, 1.0, 4, 4)


def test_partial_match_counts_matching_cells():
    score = score_example([[1, 2], [3, 0]], EXPECTED)
    assert score == ExampleScore(False, 0.75, 3, 4)


@pytest.mark.parametrize(
    "predicted",
    [
        None,  # execution failed
        [[1, 2, 0], [3, 4, 0]],  # wrong shape: wider
        [[1, 2]],  # wrong shape: fewer rows, though its cells match
        [[1, 2], [3]],  # ragged
        [],  # empty
        [[]],  # empty row
        "[[1, 2], [3, 4]]",  # a string, not a grid
        [["1", "2"], ["3", "4"]],  # string cells
        [[True, False], [True, False]],  # a boolean mask is not a grid of colours
        [[1.5, 2], [3, 4]],  # non-integral float
        [1, 2, 3, 4],  # flat list
        42,
    ],
)
def test_failed_or_malformed_prediction_scores_zero_of_expected_pixels(predicted):
    assert score_example(predicted, EXPECTED) == ExampleScore(False, 0.0, 0, 4)


def test_numpy_predictions_are_grids():
    assert score_example(np.array([[1, 2], [3, 4]]), EXPECTED).correct
    # np.zeros is float64 by default; integral floats are the same colours.
    assert score_example(np.array([[1.0, 2.0], [3.0, 9.0]]), EXPECTED).pixels_correct == 3


def test_as_grid_copies_and_converts_tuples():
    source = ((1, 2), (3, 4))
    assert as_grid(source) == [[1, 2], [3, 4]]
    assert as_grid(np.zeros((1, 2), dtype=np.int64)) == [[0, 0]]
    assert as_grid(np.array([1, 2])) is None


def test_malformed_expected_grid_is_input_error():
    with pytest.raises(InputError):
        score_example([[1]], [[1], [2, 3]])


def test_score_examples_aggregates_over_examples():
    expected = [EXPECTED, [[5, 5]], [[0, 1, 2], [3, 4, 5], [6, 7, 8]]]
    predictions = [
        EXPECTED,  # 4/4, exact
        None,  # 0/2, failed but still in the denominator
        [[0, 1, 2], [3, 4, 5], [9, 9, 9]],  # 6/9
    ]
    result = score_examples(predictions, expected)
    assert [s.pixels_correct for s in result.per_example] == [4, 0, 6]
    assert result.n_scored == 3
    assert result.n_correct == 1
    assert result.all_correct is False
    assert result.accuracy == pytest.approx(1 / 3)
    assert result.pixel_accuracy == pytest.approx(10 / 15)


def test_unknown_expected_outputs_are_unscored():
    result = score_examples([EXPECTED, [[9]]], [EXPECTED, None])
    assert result.per_example[1] is None
    assert (result.n_scored, result.n_correct, result.all_correct) == (1, 1, True)
    assert result.accuracy == 1.0
    assert result.pixel_accuracy == 1.0


def test_nothing_scored_is_not_all_correct():
    result = score_examples([None], [None])
    assert (result.n_scored, result.all_correct, result.accuracy, result.pixel_accuracy) == (
        0,
        False,
        0.0,
        0.0,
    )


def test_missing_predictions_count_as_failures():
    result = score_examples([EXPECTED], [EXPECTED, EXPECTED])
    assert result.n_correct == 1
    assert result.accuracy == 0.5
    assert result.pixel_accuracy == 0.5


def test_extra_predictions_are_input_error():
    with pytest.raises(InputError):
        score_examples([EXPECTED, EXPECTED], [EXPECTED])


def test_to_dict_is_json_serialisable():
    result = score_examples([EXPECTED, None], [EXPECTED, None])
    assert json.loads(json.dumps(result.to_dict()))["per_example"][1] is None
