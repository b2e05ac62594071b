"""Run a student's ``gradients(x, A, B, C)`` in a process of its own, never in the grader's.

``run_submission(path, models, *, timeout, memory) -> Outcome`` starts ``python -m
backprop_lab.grade_child`` in an empty temporary working directory, standard input closed, a
stripped environment, its own session (its process group is killed at the end, forks included),
a memory limit (``resource.setrlimit``) and a wall-clock limit per model; its output is captured
and capped (:data:`OUTPUT_KEPT` bytes kept). The child reports each model's returned value
(converted with ``.tolist()`` where it has one, as JSON) through a pipe of its own, so what the
submission prints never mixes with its answers.

These limits protect the grader from mistakes, not from malice: untrusted code belongs in a
container or a throwaway account.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["OUTPUT_KEPT", "Outcome", "run_submission"]

OUTPUT_KEPT = 1_000_000
DEFAULT_TIMEOUT = 10.0
DEFAULT_MEMORY = 1 << 30


@dataclass(frozen=True)
class Outcome:
    """How a run ended. ``status``: "ok" (every model answered), "error" (it raised: ``detail`` is
    the exception's last line), "timeout", "out-of-memory", "crashed" (exit or signal: ``detail``
    says which), "unloadable" (no ``gradients`` function, or the file does not import: ``detail``).
    ``returned``: one JSON value per model answered, in order (a prefix when it stopped early).
    ``output``: its standard output and error, at most OUTPUT_KEPT bytes kept. ``seconds``: wall time."""

    status: str
    returned: tuple[object, ...] = ()
    detail: str = ""
    output: str = ""
    seconds: float = 0.0
    failed_model: int | None = field(default=None)
