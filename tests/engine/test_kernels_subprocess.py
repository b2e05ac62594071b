"""engine.kernels.compile_in_subprocess: the generated code compiled in a child process is the
code compiled here, and any failure leaves compiling on first use as before."""

from __future__ import annotations

import math
import random
import sys

from backprop_lab.engine import kernels


def _batch(k: int, seed: int):
    rng = random.Random(seed)
    m = [[rng.uniform(-0.5, 0.5) for _ in range(k)] for _ in range(k)]
    X = [[rng.random() for _ in range(k)] for _ in range(5)]
    return X, m, [r[:] for r in m], [r[::-1] for r in m], [0.5] * k


def test_a_step_compiled_in_a_child_process_equals_one_compiled_here(monkeypatch):
    k = 13
    monkeypatch.setattr(kernels, "_PRECOMPILED", {})
    monkeypatch.setattr(kernels, "_COMPILED", set())
    kernels._unrolled_step.cache_clear()
    try:
        assert kernels.compile_in_subprocess(k, names=("step",))
        assert ("step", k, "") in kernels._PRECOMPILED
        child = kernels.step_function(k)
        assert ("step", k, "") not in kernels._PRECOMPILED and ("step", k, "") in kernels._COMPILED
        namespace = {"exp": math.exp, "hypot": math.hypot, "isfinite": math.isfinite, "nan": math.nan}
        exec(compile(kernels.step_source(k), "<here>", "exec"), namespace)
        here = namespace["step"]
        X, A, B, C, x = _batch(k, 1)
        assert child(X, A, B, C, x, 0.01) == here(X, A, B, C, x, 0.01)
        assert kernels.compile_in_subprocess(k, names=("step",))  # already compiled: nothing to do
    finally:
        kernels._unrolled_step.cache_clear()


def test_without_a_python_to_start_it_compiles_on_first_use(monkeypatch):
    monkeypatch.setattr(kernels, "_PRECOMPILED", {})
    monkeypatch.setattr(kernels, "_COMPILED", set())
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    assert not kernels.compile_in_subprocess(14, names=("loss",))
    assert kernels._PRECOMPILED == {}
    assert not kernels.compile_in_subprocess(kernels.UNROLL_MAX_K + 1)  # no generated code there
    assert not kernels.compile_in_subprocess(3)  # small K: compiled here on first use, in milliseconds
    assert kernels._PRECOMPILED == {}
