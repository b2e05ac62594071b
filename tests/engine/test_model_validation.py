"""Validation's bulk path for plain floats accepts, copies and refuses exactly what the entry-by-entry
path does; loss_and_grads' bulk finiteness checks still name the entry that overflows."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import pytest

from backprop_lab.engine import model as model_module
from backprop_lab.engine.model import (
    NumericalOverflowError,
    backward,
    forward,
    loss_and_grads,
    validate_matrix,
    validate_model,
    validate_vector,
)


class _Float(float):
    """A float subclass, as numpy's float64 is."""


def _outcome(fn, *args):
    try:
        result = fn(*args)
    except (ValueError, TypeError, OverflowError) as exc:
        return ("error", type(exc).__name__, str(exc))
    return ("ok", result, [type(v) for v in _flat(result)])


def _flat(value):
    if isinstance(value, (list, tuple)):
        for v in value:
            yield from _flat(v)
    else:
        yield value


def _slow(monkeypatch):
    monkeypatch.setattr(model_module, "_plain_vector", lambda v, k: None)
    monkeypatch.setattr(model_module, "_plain_matrix", lambda m, k: None)


M2 = [[0.5, -1.5], [2.0, 0.25]]
MATRICES = [
    M2,
    tuple(tuple(row) for row in M2),
    [[0.5, -0.0], [5e-324, 1e308]],
    [[1e308, 1e308], [1e308, 1e308]],  # the bulk sum overflows though every entry is finite
    [[-1e308, 1e308], [1e308, -1e308]],
    [[0.5, 1], [2.0, 0.25]],
    [[0.5, True], [2.0, 0.25]],
    [[0.5, _Float(1.5)], [2.0, 0.25]],
    [[0.5, Fraction(1, 3)], [2.0, 0.25]],
    [[0.5, math.nan], [2.0, 0.25]],
    [[0.5, 1.0], [math.inf, 0.25]],
    [[0.5, 1.0], [2.0, -math.inf]],
    [[0.5, "1.0"], [2.0, 0.25]],
    [[0.5, None], [2.0, 0.25]],
    [[0.5, 1.0], [2.0]],
    [[0.5, 1.0, 3.0], [2.0, 0.25]],
    [[0.5, 1.0]],
    [[0.5, 1.0], [2.0, 0.25], [1.0, 1.0]],
    [[0.5, 1.0], "ab"],
    [[0.5, 1.0], {2.0: 1, 0.25: 2}],
    [[0.5, 1.0], [[2.0], 0.25]],
    [[0.5, 1.0], 2.0],
    "abcd",
    None,
    {0: [1.0, 2.0], 1: [3.0, 4.0]},
    [[10**400, 1.0], [2.0, 0.25]],
]
VECTORS = [
    [0.5, -1.5],
    (0.5, -1.5),
    [0.5],
    [],
    [0.5, True],
    [0.5, 2],
    [_Float(0.5), 1.0],
    [0.5, math.nan],
    [0.5, "x"],
    [1e308, 1e308],
    [0.0] * 1025,
    "ab",
    [[0.5], [1.0]],
    None,
]


@pytest.mark.parametrize("m", MATRICES, ids=lambda m: repr(m)[:40])
def test_a_matrix_is_validated_the_same_either_way(m, monkeypatch):
    fast = _outcome(validate_matrix, "A", m, 2)
    _slow(monkeypatch)
    slow = _outcome(validate_matrix, "A", m, 2)
    assert fast == slow
    if fast[0] == "ok":
        assert all(t is float for t in fast[2])  # plain floats, whatever came in
        assert fast[1] is not m and all(row is not orig for row, orig in zip(fast[1], m, strict=True))


@pytest.mark.parametrize("v", VECTORS, ids=lambda v: repr(v)[:40])
@pytest.mark.parametrize("k", [None, 2])
def test_a_vector_is_validated_the_same_either_way(v, k, monkeypatch):
    fast = _outcome(validate_vector, "x", v, k)
    _slow(monkeypatch)
    slow = _outcome(validate_vector, "x", v, k)
    assert fast == slow
    if fast[0] == "ok":
        assert all(t is float for t in fast[2]) and fast[1] is not v


def test_signed_zeros_and_subnormals_are_copied_bit_for_bit():
    x, A, _, _ = validate_model([-0.0, 5e-324], [[-0.0, 1.0], [2.0, -5e-324]], M2, M2)
    assert [math.copysign(1.0, v) for v in x] == [-1.0, 1.0] and x[1] == 5e-324
    assert math.copysign(1.0, A[0][0]) == -1.0 and A[1][1] == -5e-324


def test_random_models_are_validated_the_same_either_way(monkeypatch):
    r = random.Random(8)
    choices = [lambda: r.uniform(-9, 9), lambda: 3, lambda: math.nan, lambda: True, lambda: -0.0]
    cases = []
    for _ in range(200):
        k = r.randint(1, 5)

        def entry():
            return r.choice(choices)() if r.random() < 0.02 else r.uniform(-9, 9)

        cases.append(
            ([entry() for _ in range(k)], *([[entry() for _ in range(k)] for _ in range(k)] for _ in "ABC"))
        )
    fast = [_outcome(validate_model, *case) for case in cases]
    _slow(monkeypatch)
    assert fast == [_outcome(validate_model, *case) for case in cases]
    assert {o[0] for o in fast} == {"ok", "error"}  # both kinds were exercised


# --------------------------------------------------------------------------- loss_and_grads


def test_loss_and_grads_equals_forward_and_backward_bit_for_bit():
    r = random.Random(3)
    for k in (1, 2, 3, 7, 16):
        x = [r.uniform(-2, 2) for _ in range(k)]
        A, B, C = ([[r.uniform(-2, 2) for _ in range(k)] for _ in range(k)] for _ in range(3))
        loss, grads = loss_and_grads(x, A, B, C)
        values = forward(x, A, B, C)
        g = backward(x, C, values)
        assert loss == values["loss"] and [grads[n] for n in "ABC"] == [g["dA"], g["dB"], g["dC"]]


def test_an_overflowing_gradient_is_named_by_its_entry():
    # Finite loss, an infinite ∂L/∂C: z_0 is huge, C_00 tiny, so w is moderate but z_0·∂L/∂w_0 is not.
    with pytest.raises(NumericalOverflowError, match=r"^∂L/∂C\[0\]\[0\] overflows a float64$"):
        loss_and_grads([1.0], [[0.0]], [[1e200]], [[1e-60]])


def test_a_gradient_whose_sum_overflows_but_no_entry_does_is_returned():
    # z_0 = 1e154 and w_j = 5e153: L = 5e307 and ∂L/∂C_0j = z_0 · 2w_j = 1e308, finite, but the
    # bulk check's sum of ∂L/∂C is 2e308 = inf: the scan then finds no entry to blame.
    x, A, B, C = [1.0, 0.0], [[0.0, 0.0], [0.0, 0.0]], [[1e154, 0.0], [0.0, 0.0]], [[0.5, 0.5], [0.0, 0.0]]
    loss, grads = loss_and_grads(x, A, B, C)
    assert loss == 5e307 and grads["C"][0] == [1e308, 1e308]
    assert sum(map(sum, grads["C"])) == math.inf  # the case the scan is there for
    g = backward(x, C, forward(x, A, B, C))
    assert [grads[n] for n in "ABC"] == [g["dA"], g["dB"], g["dC"]]


def test_plain_floats_take_the_bulk_path_and_anything_else_the_long_way():
    # What the equivalence tests above compare: the bulk path really is taken for plain floats.
    assert model_module._plain_matrix(M2, 2) == M2 and model_module._plain_vector((0.5, 1.0), 2) == [0.5, 1.0]
    assert model_module._plain_matrix([[0.5, _Float(1.5)], [2.0, 0.25]], 2) == [[0.5, 1.5], [2.0, 0.25]]
    for m in (
        [[1e308, 1e308], [1e308, 1e308]],
        [[0.5, 1], [2.0, 0.25]],
        [[0.5, True], [2.0, 0.25]],
        [[0.5, 1.0]],
    ):
        assert model_module._plain_matrix(m, 2) is None
