"""loss_and_grads' generated code for one sample: the same bits as forward() and backward()."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from backprop_lab.engine import kernels
from backprop_lab.engine.model import Model, NumericalOverflowError, loss_and_grads, model_loss_and_grads
from backprop_lab.engine.variant import ACTIVATIONS, CONVENTIONS, Variant

MEMBERS = list(itertools.product(ACTIVATIONS, CONVENTIONS, (False, True)))


def _entry(rng: random.Random, scale: float) -> float:
    # Zeros of both signs and softplus's threshold on both sides: where bits could differ.
    return rng.choice([0.0, -0.0, 20.0, -20.5, rng.uniform(-scale, scale), rng.uniform(-scale, scale)])


def _model(rng: random.Random, k: int, member: tuple[str, str, bool]) -> Model:
    scale = rng.choice([1.0, 30.0, 900.0])
    act, conv, has_target = member
    target = tuple(_entry(rng, scale) for _ in range(k)) if has_target else None
    x = [_entry(rng, scale) for _ in range(k)]
    A, B, C = ([[_entry(rng, scale) for _ in range(k)] for _ in range(k)] for _ in range(3))
    return Model(x, A, B, C, Variant(act, conv, target))


def _bits(result: tuple[float, dict[str, list[list[float]]]]) -> list[str]:
    loss, grads = result
    return [float.hex(loss)] + [float.hex(v) for name in "ABC" for row in grads[name] for v in row]


@pytest.mark.parametrize("member", MEMBERS, ids=lambda m: f"{m[0]}-{m[1]}-{'target' if m[2] else 'none'}")
@pytest.mark.parametrize("k", [1, 2, 5, 16])
def test_loss_and_grads_gives_the_hand_derived_bits(member, k):
    rng = random.Random(f"{member}/{k}")
    for _ in range(6):
        m = _model(rng, k, member)
        v = m.variant
        try:
            expected = model_loss_and_grads(m)
        except NumericalOverflowError as exc:
            with pytest.raises(NumericalOverflowError) as err:
                loss_and_grads(
                    m.x, m.A, m.B, m.C, activation=v.activation, convention=v.convention, target=v.target
                )
            assert str(err.value) == str(exc)
            continue
        got = loss_and_grads(
            m.x, m.A, m.B, m.C, activation=v.activation, convention=v.convention, target=v.target
        )
        assert _bits(got) == _bits(expected)  # float.hex: the sign of a zero counts too


def test_the_generated_code_is_used_up_to_k32_and_not_above():
    assert kernels.sample_function(32) is not None
    assert kernels.sample_function(33) is None
    assert kernels.sample_function(3, Variant("relu", "column", (1.0, 2.0, 3.0))) is not None


@pytest.mark.parametrize(
    ("x", "words"),
    [([True, 1.0], "x[0] is not a number"), ([1.0, math.nan], "x[1] is not finite"), ([1.0, "2"], "x[1]")],
)
def test_what_the_plain_path_does_not_vouch_for_is_refused_by_name(x, words):
    one = [[1.0, 0.0], [0.0, 1.0]]
    with pytest.raises(ValueError, match=words.replace("[", r"\[").replace("]", r"\]")):
        loss_and_grads(x, one, one, one)


def test_tuples_and_ints_are_read_like_lists_of_floats():
    lists = loss_and_grads(
        [1.0, 2.0], [[1.0, 0.5], [0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]], [[1.0, 2.0], [3.0, 4.0]]
    )
    tuples = loss_and_grads(
        (1.0, 2), ((1, 0.5), (0.0, 1.0)), [(0.0, 1.0), [1, 0.0]], ((1.0, 2.0), (3.0, 4.0))
    )
    assert _bits(tuples) == _bits(lists)
