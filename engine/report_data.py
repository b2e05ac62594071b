"""Everything a report shows, gathered from a Session as plain data.

The report follows the backprop report's story: the initial x, A, B and C; the loss; the three
hand-derived gradients; their verification (central finite differences, and PyTorch's autograd
when it is installed) side by side; the training settings; the curves; the loss at x before and
after training; the weights after training; and the run's facts.

Qt-free and standard library only. :mod:`engine.report_html` writes the HTML from it;
``gui/report.py`` turns that into report.html (with the plot embedded as a data: URI) and a PDF.
"""

from __future__ import annotations

import datetime as _dt
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from backprop_lab.engine.formatting import format_number
from backprop_lab.engine.model import Model, forward, model_loss_and_grads

Matrix = list[list[float]]

#: Largest K whose gradients are verified while the report is built. A full central-difference
#: check costs 6·K² forward passes of O(K²) each (K = 16: ~1,500 passes, well under a second);
#: beyond it the report says how to run the check instead of stalling the export.
CHECK_MAX_K = 16

#: Curves the report plots, keyed by History column name, with their legend labels.
CURVE_LABELS: dict[str, str] = {
    "loss": "batch loss",
    "loss_at_x": "loss at x",
    "grad_norm_A": "‖∂L/∂A‖",
    "grad_norm_B": "‖∂L/∂B‖",
    "grad_norm_C": "‖∂L/∂C‖",
}


# --------------------------------------------------------------------------- the data


#: What a report is called, and the heading of one made from an unnamed session.
REPORT_TITLE = "Backprop Lab report"


@dataclass(frozen=True)
class Verification:
    """One verification method's result, or why it was not run (``report`` is then None)."""

    method: str
    report: Any | None  # engine.gradcheck.CheckReport
    note: str = ""


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows, as plain data (no Qt, no formatting decisions but names)."""

    title: str
    name: str
    notes: str
    initial: Model
    initial_values: dict[str, list[float]]  # forward pass at the initial model: a, y, u, z, w
    initial_loss: float | None
    initial_grads: dict[str, Matrix] | None  # {"A": ∂L/∂A, "B": ..., "C": ...}
    loss_note: str
    verifications: tuple[Verification, ...]
    settings: tuple[tuple[str, str], ...]
    steps: int  # steps in the history (all runs)
    epochs: int
    planned_steps: int  # steps the latest run's settings ask for
    curves: dict[str, list[float]]
    loss_before: float | None
    loss_after: float | None
    final: Model | None
    divergence: str | None
    facts: tuple[tuple[str, str], ...]

    @property
    def trained(self) -> bool:
        return self.steps > 0

    @property
    def document_title(self) -> str:
        """The report's name for a browser tab, the PDF's title and its page footer: "<session> —
        Backprop Lab report", or "Backprop Lab report" alone for an unnamed session (whose
        ``title`` already is that)."""
        return f"{self.name} — {REPORT_TITLE}" if self.name else REPORT_TITLE


def _loss(m: Model) -> float | None:
    try:
        return model_loss_and_grads(m)[0]
    except ValueError:  # NumericalOverflowError included: the report says so instead of failing
        return None


def _run_checks(
    m: Model, *, torch: bool, progress: Callable[[int, int], None] | None = None
) -> tuple[Verification, ...]:
    from backprop_lab.engine.gradcheck import finite_difference_check

    checks: list[Verification] = []
    if m.K > CHECK_MAX_K:
        note = (
            f"Not run while exporting: K = {m.K} > {CHECK_MAX_K} makes a full check slow; "
            "run “backprop-lab check” on the session file."
        )
        checks.append(Verification("finite differences", None, note))
        if torch:
            checks.append(Verification("PyTorch", None, note))
        return tuple(checks)
    try:
        fd = finite_difference_check(m, progress=progress)
        checks.append(Verification(fd.method, fd))
    except ValueError as exc:
        checks.append(Verification("finite differences", None, f"Could not run: {exc}"))
    if torch:
        from backprop_lab.engine.torch_check import torch_available, torch_check

        if torch_available():
            try:
                tc = torch_check(m)
                checks.append(Verification(tc.method, tc))
            except ValueError as exc:
                checks.append(Verification("PyTorch", None, f"Could not run: {exc}"))
        else:
            checks.append(
                Verification(
                    "PyTorch",
                    None,
                    "PyTorch is not installed; install the optional extra: pip install 'backprop-lab[torch]'",
                )
            )
    return tuple(checks)


def gather_report_data(
    session: Any,
    *,
    verifications: Sequence[Any] | None = None,
    torch: bool = True,
    now: _dt.datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ReportData:
    """Collect what the report shows from an ``engine.session.Session``.

    ``verifications``: CheckReports already computed (e.g. by the window's verification panel) to
    show instead of running the checks again; by default the finite-difference check (and the
    PyTorch check when ``torch`` is true and PyTorch is installed) run on the initial model.
    ``now``: the report's timestamp (UTC), for reproducible tests. ``progress(done, total)`` is
    called per checked entry; it may raise to abandon the export (the window's cancel does).
    """
    # Copies: the report is built on a worker thread while the window may go on editing.
    initial: Model = session.initial.copy()
    final: Model = session.model.copy()
    loss, grads, initial_values, loss_note = _initial_numbers(initial)

    if verifications is not None:
        checks = tuple(Verification(r.method, r) for r in verifications)
    elif grads is None:
        checks = ()
    else:
        checks = _run_checks(initial, torch=torch, progress=progress)

    history = session.history
    steps = len(history)
    curves = {name: [float(v) for v in history.column(name)] for name in CURVE_LABELS} if steps else {}
    epochs = int(history.last_epoch) if steps else 0

    t = session.training
    # While the history is empty the session keeps initial == model: nothing "after training".
    trained = steps > 0
    divergence = getattr(session, "divergence", None)
    when = (now or _dt.datetime.now(_dt.UTC)).astimezone(_dt.UTC).replace(microsecond=0)
    return ReportData(
        title=session.name or REPORT_TITLE,
        name=session.name,
        notes=session.notes,
        initial=initial,
        initial_values=initial_values,
        initial_loss=loss,
        initial_grads=grads,
        loss_note=loss_note,
        verifications=checks,
        settings=_settings(t),
        steps=steps,
        epochs=epochs,
        planned_steps=t.total_steps,
        curves=curves,
        loss_before=_loss(initial),
        loss_after=_loss(final) if trained else None,
        final=final if trained else None,
        divergence=divergence.reason if divergence is not None else None,  # a full sentence already
        facts=_facts(session, initial, steps, epochs, when, checks),
    )


def _initial_numbers(
    initial: Model,
) -> tuple[float | None, dict[str, Matrix] | None, dict[str, list[float]], str]:
    """The loss, its gradients and the forward pass's vectors at ``initial``, or a note why not."""
    try:
        loss, grads = model_loss_and_grads(initial)
        values = forward(initial.x, initial.A, initial.B, initial.C, initial.variant)
    except ValueError as exc:
        return None, None, {}, f"The loss cannot be computed at the initial model: {exc}"
    return loss, grads, {k: list(v) for k, v in values.items() if isinstance(v, list)}, ""


def _settings(t: Any) -> tuple[tuple[str, str], ...]:
    """The training settings table, in the report's order."""
    return (
        ("learning rate λ", repr(float(t.learning_rate))),
        ("batch size", format_number(t.batch_size, "count")),
        ("training samples N", format_number(t.n_samples, "count")),
        ("epochs", format_number(t.epochs, "count")),
        ("seed", str(t.seed)),
        ("steps per epoch", format_number(t.steps_per_epoch, "count")),
        ("total steps", format_number(t.total_steps, "count")),
    )


def _facts(
    session: Any,
    initial: Model,
    steps: int,
    epochs: int,
    when: _dt.datetime,
    checks: Sequence[Verification],
) -> tuple[tuple[str, str], ...]:
    """The reproducibility facts: versions, sizes, dates, and PyTorch's version if it was used."""
    from backprop_lab.engine import __version__ as exporter_version

    t = session.training
    facts: list[tuple[str, str]] = [
        ("session", session.name or "(unnamed)"),
        ("app version (session)", str(session.app_version)),
        ("app version (report)", exporter_version),
        ("K", str(initial.K)),
        ("variant", initial.variant.describe()),
        ("seed", str(t.seed)),
        ("steps trained", format_number(steps, "count")),
        ("epochs trained", format_number(epochs, "count")),
        ("session created", str(session.created)),
        ("session modified", str(session.modified)),
        ("report generated", when.isoformat().replace("+00:00", "Z")),
        ("Python", platform.python_version()),
    ]
    if any(v.report is not None and "torch" in v.method.lower() for v in checks):
        from backprop_lab.engine.torch_check import TorchUnavailable, torch_version

        try:
            facts.append(("PyTorch", torch_version()))
        except TorchUnavailable:  # pragma: no cover - the check ran, so torch imports
            pass
    return tuple(facts)
