"""Sweeps: one ordinary training run per combination of settings, run in parallel, each file
written exactly as ``backprop-lab train`` writes it.

::

    grid = make_grid(session.training, {"learning_rate": [0.001, 0.01, 0.1], "batch_size": [1, 10, 100]})
    results = run_sweep(session, grid, "out")      # out/lr0.001_bs1.bpl.json, …: a process per core
    write_summary(results, {"summary.svg": summary_svg(results).encode()})   # out/summary.csv, .svg

Every point is :func:`engine.training.train_session` (the train command's loop) on a copy of the
same session, from the same starting model, saved by :func:`engine.session.save_session` to
``DIR/<name>.bpl.json``: byte for byte the file ``backprop-lab train SESSION --lr … -o X`` writes
(when both are given the same clock, ``SOURCE_DATE_EPOCH``; otherwise they differ in ``modified``).

The executor is any :class:`concurrent.futures.Executor`. By default a process pool with one
worker per usable core (the work is CPU-bound pure Python: threads would share one interpreter
lock), its processes started by ``forkserver`` where there is one (a fork of a process that runs
Qt or other threads can deadlock). The worker function :func:`train_point` is module-level, takes
and returns picklable data and writes nothing: the calling process writes every file, so an
executor whose workers are other machines (Dask's ``Client.get_executor()``, Ray's) runs the same
sweep without a change.

A run that diverges is written as train writes it (the last finite weights and the divergence) and
recorded as diverged; a run that raises is recorded as failed with a one-line error and no file; the
other runs go on. ``should_stop()`` is asked between results: once it answers true the runs not yet
started are cancelled, the default pool's running runs stop between two steps and are dropped
(neither written nor recorded), and the finished ones stay, written. Standard library only.
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from backprop_lab.engine.atomic_folder import prepare_folder, write_folder
from backprop_lab.engine.model import forward
from backprop_lab.engine.session import MAX_HISTORY_STEPS, Session, SessionError, save_session
from backprop_lab.engine.training import TrainingSettings, train_session

__all__ = [
    "AXES",
    "MAX_RUNS",
    "SUFFIX",
    "Grid",
    "Point",
    "RunResult",
    "SweepResults",
    "Trained",
    "default_jobs",
    "make_grid",
    "run_sweep",
    "summary_csv",
    "train_point",
    "write_summary",
]

#: The settings a sweep can vary, in the grid's order (the first varies slowest), with their
#: words and the short names the runs' file names use.
AXES: dict[str, tuple[str, str]] = {
    "learning_rate": ("learning rate", "lr"),
    "batch_size": ("batch size", "bs"),
    "seed": ("seed", "seed"),
    "epochs": ("epochs", "epochs"),
}
#: A sweep of more runs than this is refused (a typo such as 1,10,100,… pasted three times).
MAX_RUNS = 10_000
#: Every run's file name ends so.
SUFFIX = ".bpl.json"
#: How often a worker of the default pool asks whether the sweep was stopped (in steps; the check
#: costs a lock, 256 steps cost 2–300 ms at the most).
_STOP_EVERY = 256

Value = float | int
Status = Literal["finished", "diverged", "failed"]


@dataclass(frozen=True)
class Point:
    """One run of a sweep: its name (the file's, without :data:`SUFFIX`) and its settings."""

    name: str
    settings: TrainingSettings


@dataclass(frozen=True)
class Grid:
    """The combinations of a sweep: ``axes`` the settings given (field name and its values, in
    :data:`AXES` order), ``points`` one per combination, the last axis varying fastest."""

    axes: tuple[tuple[str, tuple[Value, ...]], ...]
    points: tuple[Point, ...]

    @property
    def swept(self) -> tuple[tuple[str, tuple[Value, ...]], ...]:
        """The axes with more than one value: what the summary chart is drawn over."""
        return tuple((name, values) for name, values in self.axes if len(values) > 1)


def _value_text(name: str, value: Value) -> str:
    # repr keeps every digit (two learning rates never share a name) and stays short (0.001, 1e-05).
    return repr(float(value)) if name == "learning_rate" else str(value)


def _point_name(values: Mapping[str, Value]) -> str:
    return "_".join(AXES[name][1] + _value_text(name, v) for name, v in values.items()) or "run"


def make_grid(
    base: TrainingSettings,
    axes: Mapping[str, Sequence[Value]],
    *,
    k: int | None = None,
    steps_before: int = 0,
) -> Grid:
    """Every combination of ``axes`` (setting name → values) on top of ``base``; each checked as
    train checks its settings (:meth:`TrainingSettings.validate` with the model's ``k``), and its
    history after ``steps_before`` steps against :data:`MAX_HISTORY_STEPS`. Raises ValueError (one
    line, naming the setting or the run) for an unknown setting, an empty or repeated value, an
    invalid combination or more than :data:`MAX_RUNS` runs."""
    unknown = [name for name in axes if name not in AXES]
    if unknown:
        raise ValueError(f"cannot sweep {unknown[0]!r}: a sweep varies {', '.join(AXES)}")
    ordered: list[tuple[str, tuple[Value, ...]]] = []
    for name in AXES:
        if name not in axes:
            continue
        values = tuple(axes[name])
        if not values:
            raise ValueError(f"{name} has no values")
        seen: set[str] = set()
        for v in values:
            text = _value_text(name, v)
            if text in seen:
                raise ValueError(f"{name} lists {text} twice")
            seen.add(text)
        ordered.append((name, values))
    count = math.prod(len(values) for _, values in ordered)
    if count > MAX_RUNS:
        raise ValueError(f"the sweep has {count:,} runs; at most {MAX_RUNS:,} are allowed")
    points = []
    for combination in itertools.product(*(values for _, values in ordered)):
        chosen: dict[str, Any] = dict(zip((name for name, _ in ordered), combination, strict=True))
        name = _point_name(chosen)
        settings = replace(base, **chosen)
        try:
            settings.validate(k)
        except ValueError as exc:
            raise ValueError(f"run {name}: {exc}") from None
        if steps_before + settings.total_steps > MAX_HISTORY_STEPS:
            raise ValueError(
                f"run {name}: the session has {steps_before:,} steps and this run would add "
                f"{settings.total_steps:,}; a session file holds at most {MAX_HISTORY_STEPS:,}"
            )
        points.append(Point(name, settings))
    return Grid(tuple(ordered), tuple(points))


@dataclass(frozen=True)
class RunResult:
    """How one run of a sweep ended. ``steps`` taken by this run; ``final_batch_loss`` its last
    step's (None without a step); ``final_loss_at_x`` the loss at x of the weights written;
    ``diverged_at`` the step that overflowed; ``seconds`` of training in the worker; ``file`` the
    absolute path written (None for a failed run); ``error`` one line, for a failed run."""

    point: Point
    status: Status
    steps: int = 0
    final_batch_loss: float | None = None
    final_loss_at_x: float | None = None
    diverged_at: int | None = None
    seconds: float = 0.0
    file: str | None = None
    error: str | None = None


@dataclass
class SweepResults:
    """A sweep's outcome: ``runs`` in the order they ended (only those that ended: a stopped sweep
    leaves the rest out), ``stopped`` whether ``should_stop`` ended it early."""

    grid: Grid
    folder: str
    runs: list[RunResult] = field(default_factory=list)
    stopped: bool = False

    def in_grid_order(self) -> list[RunResult]:
        order = {p.name: i for i, p in enumerate(self.grid.points)}
        return sorted(self.runs, key=lambda r: order[r.point.name])

    def count(self, status: Status) -> int:
        return sum(r.status == status for r in self.runs)


# --------------------------------------------------------------------------- the worker's side


@dataclass(frozen=True)
class Trained:
    """What :func:`train_point` sends back: the trained session (None when the sweep was
    stopped during the run), the steps this run took and its seconds of training."""

    session: Session | None
    steps: int
    seconds: float


_stop_event: Any = None  # the default pool's stop flag, handed to each worker by _start_worker


def _start_worker(stop_event: Any) -> None:
    global _stop_event
    # Ctrl+C at a terminal reaches the whole process group; the sweep's own process decides what
    # stops (it sets stop_event), and a worker that died of it would break the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _stop_event = stop_event


def _stop_check() -> Callable[[], object] | None:
    if _stop_event is None:
        return None
    counter = itertools.count(1)
    is_set = _stop_event.is_set
    return lambda: not next(counter) % _STOP_EVERY and is_set()


def train_point(session: Session, settings: TrainingSettings) -> Trained:
    """Train a copy of ``session`` with ``settings`` (the train command's loop) and return it:
    the function every executor runs, module-level so that it pickles by name."""
    own = session.copy()  # an executor of threads hands every run the same object
    started = time.perf_counter()
    trainer = train_session(own, settings, should_stop=_stop_check())
    seconds = time.perf_counter() - started
    stopped = trainer.divergence is None and trainer.steps_done < trainer.total_steps
    return Trained(None if stopped else own, trainer.steps_done, seconds)


# --------------------------------------------------------------------------- the sweep's side


def default_jobs() -> int:
    """The cores this process may run on (its CPU affinity where the system says, else all)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def run_sweep(
    session: Session,
    grid: Grid,
    out_dir: str | os.PathLike[str],
    *,
    executor: Executor | None = None,
    jobs: int | None = None,
    on_result: Callable[[RunResult], object] | None = None,
    should_stop: Callable[[], object] | None = None,
    poll: float = 0.05,
) -> SweepResults:
    """Train every point of ``grid`` from ``session`` (left unchanged) through ``executor``, each
    run's file written into ``out_dir`` (made if needed) as it ends. Without an executor, a
    process pool of ``jobs`` workers (default :func:`default_jobs`, never more than the runs) is
    made and shut down here; a given executor is left running. ``on_result(result)`` is called in
    this thread after each run (its file written). ``should_stop()`` is asked every ``poll``
    seconds while runs are going (see the module docstring). Raises FolderError/OSError when
    ``out_dir`` cannot be made; problems with single runs are results, never exceptions."""
    folder = prepare_folder(out_dir)
    folder.mkdir(exist_ok=True)
    results = SweepResults(grid, str(folder))
    own = executor is None
    stop_event = None
    if executor is None:
        context = _context()
        stop_event = context.Event()
        workers = max(1, min(jobs or default_jobs(), len(grid.points)))
        executor = ProcessPoolExecutor(
            workers, mp_context=context, initializer=_start_worker, initargs=(stop_event,)
        )
    futures: dict[Future[Trained], Point] = {}
    try:
        for point in grid.points:
            futures[executor.submit(train_point, session, point.settings)] = point
        _collect(futures, folder, results, on_result, should_stop, poll)
    finally:
        left = [f for f in futures if not f.done()]
        for f in left:
            f.cancel()
        if stop_event is not None and left:
            stop_event.set()
        if own:
            executor.shutdown(wait=True, cancel_futures=True)
    return results


def _collect(
    futures: dict[Future[Trained], Point],
    folder: Path,
    results: SweepResults,
    on_result: Callable[[RunResult], object] | None,
    should_stop: Callable[[], object] | None,
    poll: float,
) -> None:
    """Wait for the runs and record each as it ends, until all have or ``should_stop`` says so."""
    order = {f: i for i, f in enumerate(futures)}
    waiting = set(futures)
    while waiting:
        if should_stop is not None and should_stop():
            results.stopped = True
            return
        done, waiting = wait(waiting, timeout=poll, return_when=FIRST_COMPLETED)
        stopping = bool(should_stop is not None and should_stop())
        for future in sorted(done, key=order.__getitem__):
            result = _record(future, futures[future], folder, stopping)
            if result is not None:
                results.runs.append(result)
                if on_result is not None:
                    on_result(result)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _record(future: Future[Trained], point: Point, folder: Path, stopping: bool) -> RunResult | None:
    """The result of a run that ended (None for one cut short by a stop: it is not kept)."""
    if future.cancelled():
        return None
    exc = future.exception()
    if exc is not None:
        # A worker killed by the stop's signal breaks the pool: that is the stop, not a failure.
        return None if stopping else RunResult(point, "failed", error=_one_line(exc))
    trained = future.result()
    session = trained.session
    if session is None:
        return None
    path = folder / (point.name + SUFFIX)
    try:
        save_session(session, path)
    except (SessionError, OSError) as err:
        return RunResult(point, "failed", steps=trained.steps, seconds=trained.seconds, error=_one_line(err))
    m = session.model
    loss_x = forward(m.x, m.A, m.B, m.C, m.variant)["loss"]
    assert isinstance(loss_x, float)
    divergence = session.divergence
    return RunResult(
        point,
        "diverged" if divergence is not None else "finished",
        steps=trained.steps,
        final_batch_loss=session.history[-1].batch_loss if trained.steps else None,
        final_loss_at_x=loss_x,
        diverged_at=divergence.step if divergence is not None else None,
        seconds=trained.seconds,
        file=str(path),
    )


# --------------------------------------------------------------------------- the summary

#: summary.csv's columns: the settings, then how the run ended.
CSV_COLUMNS = (
    "name",
    "learning_rate",
    "batch_size",
    "n_samples",
    "epochs",
    "seed",
    "status",
    "steps",
    "final_batch_loss",
    "final_loss_at_x",
    "diverged_at",
    "seconds",
    "file",
    "error",
)


def _csv_field(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # the shortest text that reads back as the same float
    text = str(value)
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def summary_csv(results: SweepResults) -> str:
    """summary.csv: a header line and one row per run that ended, in the grid's order; numbers
    in shortest round-trip form, empty fields for what a run has not (no divergence, no file)."""
    rows = [",".join(CSV_COLUMNS)]
    for r in results.in_grid_order():
        s = r.point.settings
        file = os.path.basename(r.file) if r.file else None
        fields: Iterable[object] = (
            r.point.name,
            float(s.learning_rate),
            s.batch_size,
            s.n_samples,
            s.epochs,
            s.seed,
            r.status,
            r.steps,
            r.final_batch_loss,
            r.final_loss_at_x,
            r.diverged_at,
            round(r.seconds, 6),
            file,
            r.error,
        )
        rows.append(",".join(_csv_field(v) for v in fields))
    return "\n".join(rows) + "\n"


def write_summary(results: SweepResults, charts: Mapping[str, bytes]) -> list[Path]:
    """Write summary.csv and ``charts`` (name → bytes: summary.svg from
    :func:`engine.sweep_chart.summary_svg`, the command's summary.png) into the sweep's folder,
    all or nothing; returns their paths."""
    files = {"summary.csv": summary_csv(results).encode("utf-8"), **charts}
    folder = write_folder(results.folder, files)
    return [folder / name for name in files]
