"""``backprop-lab sweep``: one train run per combination of settings, in parallel, and a summary.

::

    backprop-lab sweep [SESSION] [--lr F,F,…] [--batch-size N,N,…] [--seed N,N,…] [--epochs N,N,…]
                       [--n-samples N] [--jobs J] [--activation A] [--convention C] [--target T,…] -o DIR

Every combination of the listed values is one ordinary run of ``backprop-lab train`` from the same
session (engine.sweep: the very same loop and writer), written to ``DIR/<name>.bpl.json`` as it
finishes, where the name holds the settings given (``lr0.01_bs10_seed0``). Then ``DIR/summary.csv``
(one row per run) and the chart of the final loss at x over the grid, ``DIR/summary.svg`` and
``DIR/summary.png`` (drawn from the SVG by Qt on its offscreen platform; without PySide6 the PNG is
left out, with a note).

Runs go to a process pool of J workers (default: one per usable core). A run that diverges is
written (as train writes it) and reported; one that fails is reported and has no file; the others go
on. A progress bar across runs goes to stderr when it is a terminal; one line per run and the totals
go to stdout.

Exit status: 0 every run trained; 1 a run diverged or failed (the others are written); 2 bad input
(nothing is written); 130/143 interrupted by SIGINT/SIGTERM — the runs that finished are kept and
the summary of them written, the running ones are stopped and dropped.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from backprop_lab.engine.atomic_folder import FolderError, prepare_folder
from backprop_lab.engine.formatting import format_count
from backprop_lab.engine.sweep import (
    AXES,
    Grid,
    RunResult,
    SweepResults,
    default_jobs,
    make_grid,
    run_sweep,
    write_summary,
)
from backprop_lab.engine.sweep_chart import number_text, summary_svg
from backprop_lab.interrupt import Interrupted, deferred, pending
from backprop_lab.train import is_terminal, open_session

PROG = "backprop-lab sweep"

#: The command's description in ``backprop-lab sweep --help``.
DESCRIPTION = (
    "Train SESSION once per combination of the listed settings (from the same starting model, each "
    "run exactly as 'backprop-lab train' would write it) in parallel processes, into DIR/<name>.bpl.json, "
    "with DIR/summary.csv, summary.svg and summary.png. "
    "Exit status: 0 every run trained, 1 a run diverged or failed (the rest written), 2 unusable input "
    "(nothing written), 130/143 interrupted (the finished runs and their summary written)."
)

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_BAD_INPUT = 2


def _list_of(kind: Callable[[str], Any], what: str) -> Callable[[str], list[Any]]:
    def parse(text: str) -> list[Any]:
        items = [item.strip() for item in text.split(",")]
        if not text.strip() or any(not item for item in items):
            raise argparse.ArgumentTypeError(f"expected {what}s separated by commas, got {text!r}")
        try:
            return [kind(item) for item in items]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}s separated by commas, got {text!r}") from None

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add sweep's arguments to ``parser`` (backprop_lab.cli builds the sub-command with this)."""
    parser.add_argument(
        "session",
        nargs="?",
        metavar="SESSION",
        help="session file to train (default: the built-in report example)",
    )
    lists = {
        "learning_rate": ("--lr", float, "number", "F,F,…", "learning rates"),
        "batch_size": ("--batch-size", int, "whole number", "N,N,…", "mini-batch sizes"),
        "seed": ("--seed", int, "whole number", "N,N,…", "seeds of the training inputs and shuffles"),
        "epochs": ("--epochs", int, "whole number", "N,N,…", "numbers of epochs"),
    }
    for dest, (flag, kind, what, metavar, words) in lists.items():
        parser.add_argument(
            flag,
            dest=dest,
            type=_list_of(kind, what),
            metavar=metavar,
            help=f"{words} to sweep, separated by commas (default: the session's one)",
        )
    parser.add_argument(
        "--n-samples",
        type=int,
        metavar="N",
        help="number of generated training inputs (default: the session's)",
    )
    parser.add_argument(
        "--jobs",
        "-j",
        type=int,
        metavar="J",
        help=f"runs at once, each in its own process (default: one per core, here {default_jobs()})",
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="DIR",
        help="folder for the runs and the summary (made if needed; other files in it are left alone)",
    )


def _error(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _grid(args: argparse.Namespace) -> tuple[Any, str, Grid] | int:
    """The session, its name and the grid to sweep; or the exit code of bad input."""
    if args.jobs is not None and args.jobs < 1:
        return _error(f"--jobs must be ≥ 1 (got {args.jobs})")
    opened = open_session(args, _error)
    if isinstance(opened, int):
        return opened
    session, source, _previous = opened
    base = session.training
    if args.n_samples is not None:
        base = dataclasses.replace(base, n_samples=args.n_samples)
    axes = {name: getattr(args, name) for name in AXES if getattr(args, name) is not None}
    if not axes:
        return _error("nothing to sweep: give --lr, --batch-size, --seed or --epochs a list of values")
    try:
        grid = make_grid(base, axes, k=session.model.K, steps_before=len(session.history))
    except ValueError as exc:
        return _error(f"invalid training settings: {exc}")
    return session, source, grid


def run(args: argparse.Namespace) -> int:
    """Sweep as ``args`` (from :func:`add_arguments`) says; returns the exit code."""
    prepared = _grid(args)
    if isinstance(prepared, int):
        return prepared
    session, source, grid = prepared
    try:
        prepare_folder(args.output).mkdir(exist_ok=True)
    except (FolderError, OSError) as exc:
        return _error(f"cannot write {args.output}: {exc}")
    jobs = min(args.jobs or default_jobs(), len(grid.points))
    started = time.perf_counter()
    late: int | None = None
    results: SweepResults | None = None
    try:
        # A signal is only noted from here on: the sweep stops between results, the finished runs
        # are kept, and the summary of them (like any file being saved) is written whole.
        with deferred():
            results = _sweep(session, grid, args.output, jobs)
            written = _write_summary(results)
            _totals(results, source, jobs, time.perf_counter() - started, written)
    except Interrupted as exc:
        late = exc.signum
    except OSError as exc:
        return _error(f"cannot write the summary into {args.output}: {exc}")
    assert results is not None
    if results.stopped:
        signum = late if late is not None else signal.SIGINT  # the noted signal, raised after the summary
        print(
            f"{PROG}: interrupted by {signal.Signals(signum).name}: {len(results.runs):,} of "
            f"{len(grid.points):,} runs finished and were kept, with their summary, in {args.output}",
            file=sys.stderr,
        )
        return 128 + signum
    if late is not None:
        print(
            f"{PROG}: interrupted by {signal.Signals(late).name} while writing the summary; "
            "it was finished first",
            file=sys.stderr,
        )
        return 128 + late
    return EXIT_OK if len(results.runs) == results.count("finished") else EXIT_SOME_FAILED


def _sweep(session: Any, grid: Grid, output: str, jobs: int) -> SweepResults:
    bar = _progress_bar(len(grid.points))
    done = 0

    def on_result(result: RunResult) -> None:
        nonlocal done
        done += 1
        bar.write(_run_line(result, done, len(grid.points)), file=sys.stdout)
        bar.update(1)

    with bar:
        return run_sweep(
            session, grid, output, jobs=jobs, on_result=on_result, should_stop=lambda: pending() is not None
        )


def _progress_bar(total: int) -> Any:
    from tqdm import tqdm  # imported here: only the commands need it

    return tqdm(
        total=total,
        file=sys.stderr,
        unit="run",
        dynamic_ncols=True,
        mininterval=0.2,
        disable=not is_terminal(sys.stderr),
    )


def _run_line(r: RunResult, done: int, total: int) -> str:
    head = f"[{done}/{total}] {r.point.name}: "
    if r.status == "failed":
        return head + f"failed: {r.error}"
    loss = number_text(r.final_loss_at_x or 0.0)
    text = f"{format_count(r.steps, 'step')} in {r.seconds:.2f} s, loss at x {loss}"
    if r.diverged_at is not None:
        text += f", diverged at step {r.diverged_at:,}"
    return head + text


def _write_summary(results: SweepResults) -> list[str]:
    """summary.csv, .svg and .png (when Qt is there) into the folder; the names written."""
    svg = summary_svg(results)
    charts = {"summary.svg": svg.encode("utf-8")}
    try:
        charts["summary.png"] = svg_to_png(svg)
    except ImportError as exc:
        print(f"{PROG}: summary.png left out: PySide6 cannot be imported ({exc})", file=sys.stderr)
    return [path.name for path in write_summary(results, charts)]


def svg_to_png(svg: str, scale: float = 2.0) -> bytes:
    """The SVG drawn by Qt's QSvgRenderer at ``scale`` × its size, as PNG bytes (Qt's offscreen
    platform unless QT_QPA_PLATFORM says otherwise; a QApplication is made if there is none)."""
    if not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication

    from backprop_lab.gui.svg_image import svg_png

    _app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "backprop-lab"])
    return svg_png(svg, scale)


def _totals(results: SweepResults, source: str, jobs: int, elapsed: float, written: list[str]) -> None:
    counts = ", ".join(
        f"{results.count(status):,} {status}"
        for status in ("finished", "diverged", "failed")
        if results.count(status)
    )
    runs = format_count(len(results.runs), "run")
    processes = format_count(jobs, "process", "processes")
    print(f"Swept {source}: {runs} ({counts or 'none finished'}) in {elapsed:.2f} s, {processes}")
    files = format_count(sum(r.file is not None for r in results.runs), "run file")
    print(f"Wrote {results.folder}: {files}, {', '.join(written)}")
