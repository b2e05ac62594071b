"""History.append: the fast path for the trainer's plain floats stores and refuses exactly what the
checked path does, into the right columns, whichever way the history was made."""

from __future__ import annotations

import math
import random
from array import array
from fractions import Fraction

import pytest

from backprop_lab.engine.session import HISTORY_COLUMNS, History
from backprop_lab.engine.training import StepRecord

FIELDS = ("batch_loss", "loss_at_x", "grad_norm_A", "grad_norm_B", "grad_norm_C")


class _Float(float):
    """A float subclass (as numpy's float64 is): a number, but not a plain float."""


def _distinct(step: int, epoch: int = 1) -> StepRecord:
    # A different value in every field, so a value stored in the wrong column shows.
    return StepRecord(step, epoch, step + 0.1, step + 0.2, step + 0.3, step + 0.4, step + 0.5)


def _columns(h: History) -> list[list[float]]:
    return [h.column(name).tolist() for name in (*HISTORY_COLUMNS, "epoch")]


@pytest.mark.parametrize("made_by", ["new", "from_columns", "copy", "truncate", "clear", "extend_from"])
def test_each_value_lands_in_its_own_column_however_the_history_was_made(made_by):
    base = History()
    base.extend(_distinct(i) for i in range(1, 4))
    h = {
        "new": History,
        "from_columns": lambda: History.from_columns(
            {name: array("d", base.column(name)) for name in HISTORY_COLUMNS},
            array("q", base.column("epoch")),
        ),
        "copy": base.copy,
        "truncate": lambda: (base.truncate(3), base)[1],
        "clear": lambda: (base.clear(), base)[1],
        "extend_from": lambda: (History().extend_from(base), base)[1],
    }[made_by]()
    n = len(h)
    h.append(_distinct(n + 1))
    h.append(_distinct(n + 2, epoch=2))
    assert h[-2] == _distinct(n + 1) and h[-1] == _distinct(n + 2, epoch=2)
    assert len({len(h.column(name)) for name in (*HISTORY_COLUMNS, "epoch")}) == 1


def test_values_that_are_not_plain_floats_are_stored_as_floats_as_before():
    h = History()
    h.append(StepRecord(1, 1, 3, Fraction(1, 4), _Float(2.5), -0.0, 5e-324))
    assert h.column("loss").tolist() == [3.0] and h.column("loss_at_x").tolist() == [0.25]
    assert type(h[0].grad_norm_A) is float and h[0].grad_norm_A == 2.5
    assert math.copysign(1.0, h[0].grad_norm_B) == -1.0 and h[0].grad_norm_C == 5e-324


BAD_VALUES = [math.nan, math.inf, -math.inf, -1.0, -5e-324, _Float(math.nan), _Float(-1.0), "1.0", None, True]


@pytest.mark.parametrize("field", range(5))
@pytest.mark.parametrize("bad", BAD_VALUES, ids=repr)
def test_every_bad_value_in_every_field_is_refused_and_nothing_is_half_appended(field, bad):
    h = History()
    h.append(_distinct(1))
    values = [2.1, 2.2, 2.3, 2.4, 2.5]
    values[field] = bad
    before = _columns(h)
    # bool is a subclass of int, so True passes as the number 1 (as it always has); every other
    # value here is refused, naming the column.
    if bad is True:
        h.append(StepRecord(2, 1, *values))
        assert h[-1] == StepRecord(2, 1, *(1.0 if v is True else v for v in values))
        return
    with pytest.raises((ValueError, TypeError), match=f"{HISTORY_COLUMNS[field]} of step 2"):
        h.append(StepRecord(2, 1, *values))
    assert _columns(h) == before


@pytest.mark.parametrize(
    ("step", "epoch", "message"),
    [
        (3, 1, "step 3 cannot follow step 1"),
        (1, 1, "step 1 cannot follow step 1"),
        (2, 1, "epoch 1 of step 2 cannot follow epoch 2"),
        (2, True, "epoch True of step 2"),
        (2, 2.0, "epoch 2.0 of step 2"),
        (2, "2", "epoch '2' of step 2"),
    ],
)
def test_a_step_or_epoch_out_of_order_is_refused_by_both_paths(step, epoch, message):
    h = History()
    h.append(_distinct(1, epoch=2))
    before = _columns(h)
    with pytest.raises(ValueError, match=message):
        h.append(StepRecord(step, epoch, 1.0, 1.0, 1.0, 1.0, 1.0))
    assert _columns(h) == before


def test_appending_equals_building_from_whole_columns():
    r = random.Random(4)
    records = []
    epoch = 1
    for step in range(1, 2001):
        epoch += r.random() < 0.01
        records.append(
            StepRecord(step, epoch, *(r.choice([0.0, -0.0, 1e300, 5e-324, r.random()]) for _ in FIELDS))
        )
    h = History()
    h.extend(records)
    built = History.from_columns(
        {
            name: array("d", (getattr(rec, f) for rec in records))
            for name, f in zip(HISTORY_COLUMNS, FIELDS, strict=True)
        },
        array("q", (rec.epoch for rec in records)),
    )
    assert h == built  # compared as bytes: -0.0 stays -0.0
    assert list(h.records()) == records
