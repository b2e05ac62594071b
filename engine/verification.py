"""The window's verification of one model: finite differences, PyTorch (or why not) and the eps sweep.

Qt-free, so the window's verification panel runs it on a worker thread and the tests run it
directly. The numbers come from :mod:`engine.gradcheck` and :mod:`engine.torch_check`; PyTorch is
imported only when ``with_torch`` is asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from backprop_lab.engine import gradcheck, torch_check
from backprop_lab.engine.gradcheck import SWEEP_EPS, CheckReport
from backprop_lab.engine.model import Model

#: ``progress(done, total)``; it may raise to stop the run between two entries.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class CheckResults:
    """One verification of one model: finite differences, PyTorch (or why not), the eps sweep."""

    model: Model
    fd: CheckReport
    torch: CheckReport | None = None
    torch_note: str = ""  # why there is no PyTorch column ("" when it was not asked for)
    sweep: tuple[tuple[float, float], ...] = ()

    @property
    def passed(self) -> bool:
        return self.fd.passed and (self.torch is None or self.torch.passed)


def run_checks(
    model: Model, *, with_torch: bool, with_sweep: bool, progress: Progress | None = None
) -> CheckResults:
    """Run the checks on ``model``.

    ``progress(done, total)`` counts weight entries: 3K² for the finite differences, 3K² per eps of
    the sweep, 3K² for PyTorch. It may raise (the window's ``Cancelled``) to stop between two entries.
    """
    k = model.K
    n = 3 * k * k
    total = n * (1 + (len(SWEEP_EPS) if with_sweep else 0) + (1 if with_torch else 0))

    def report(d: int, base: int) -> None:
        if progress is not None:
            progress(base + d, total)

    fd = gradcheck.finite_difference_check(model, progress=lambda d, _t: report(d, 0))
    done = n
    torch_report, note = None, ""
    if with_torch:
        try:
            torch_report = torch_check.torch_check(model)
        except torch_check.TorchUnavailable as exc:
            note = str(exc)
        done += n
        report(0, done)
    sweep: list[tuple[float, float]] = []
    if with_sweep:
        for e in SWEEP_EPS:  # one eps at a time, so that a cancel acts between two of them
            sweep += gradcheck.eps_sweep(model, eps_values=[e])
            done += n
            report(0, done)
    return CheckResults(model, fd, torch_report, note, tuple(sweep))
