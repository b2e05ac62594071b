"""``backprop-lab grade``: run a class's ``gradients(x, A, B, C)`` programs and write a gradebook.

``grade SUBMISSION… -o OUT [--models N] [--seed S] [--timeout S] [--memory MIB] [--jobs J]
[--activation A] [--convention C]`` runs each submission (a ``.py`` file, or a folder holding one)
in a process of its own (:func:`backprop_lab.sandbox.run_submission`) on the same models (the
report example and N seeded random ones, :func:`engine.grading.grading_models`), judges what it
returned (:func:`engine.grading.grade_run`) and writes OUT, all or nothing
(:func:`engine.atomic_folder.write_folder`): grades.csv, grades.html and a feedback text per
submission (:mod:`engine.gradebook`).

Submissions run ``--jobs`` at a time (default: the number of cores) on a thread pool: each thread
only waits on its submission's process. Progress goes to standard error: a bar on a terminal, a
line per submission otherwise. SIGINT or SIGTERM stop the grading (the runs in progress are
cancelled: their processes killed) and nothing is written.

Process isolation and resource limits protect the grader from mistakes, not from malice: run
untrusted code in a container or a throwaway account.

Exit status: 0 OUT written (whatever the verdicts), 2 unusable input or OUT not writable, 130/143
interrupted (nothing written).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from backprop_lab.engine.atomic_folder import write_folder
from backprop_lab.engine.formatting import format_count
from backprop_lab.engine.gradebook import Setup, gradebook_files, submission_names
from backprop_lab.engine.grading import (
    DEFAULT_MODELS,
    DEFAULT_SEED,
    VERDICTS,
    Grade,
    grade_run,
    grading_models,
)
from backprop_lab.engine.variant import Variant
from backprop_lab.interrupt import Interrupted, deferred
from backprop_lab.variant_options import VARIANT_OPTIONS

if TYPE_CHECKING:
    from backprop_lab.sandbox import Outcome

PROG = "backprop-lab grade"

#: The command's description in ``backprop-lab grade --help``.
DESCRIPTION = (
    "Run each SUBMISSION's gradients(x, A, B, C) in a process of its own on the report example and "
    "N seeded random models, and write grades.csv, grades.html and a feedback text per submission "
    "into OUT. Isolation and limits guard against mistakes, not malice. "
    "Exit status: 0 written, 2 unusable input or not writable, 130/143 interrupted (nothing written)."
)


def _error(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add grade's arguments to ``parser`` (backprop_lab.cli builds the sub-command with this)."""
    from backprop_lab.sandbox import DEFAULT_MEMORY, DEFAULT_TIMEOUT

    parser.add_argument(
        "submissions",
        nargs="+",
        metavar="SUBMISSION",
        help="a .py file defining gradients(x, A, B, C), or a folder holding one",
    )
    parser.add_argument(
        "-o", "--output", required=True, metavar="OUT", help="the folder to write the gradebook into"
    )
    parser.add_argument(
        "--models",
        type=int,
        default=DEFAULT_MODELS,
        metavar="N",
        help=f"random models besides the report example (default: {DEFAULT_MODELS}; the first has K = 1)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        metavar="S",
        help=f"the random models' seed: the same seed, the same models (default: {DEFAULT_SEED})",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="S",
        help=f"wall-clock seconds allowed per model (default: {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--memory",
        type=int,
        default=DEFAULT_MEMORY >> 20,
        metavar="MIB",
        help=f"memory limit of each submission's process in MiB (default: {DEFAULT_MEMORY >> 20})",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="J",
        help="submissions graded at a time (default: the cores this process may use)",
    )


def _settings(args: argparse.Namespace) -> tuple[Setup, int]:
    """The models and limits the options ask for, and the jobs; ValueError (one line) if unusable."""
    # The variant options come from cli's HEADLESS_COMMANDS list (grade must be in it for them).
    activation, convention, target = (getattr(args, name, None) for name in VARIANT_OPTIONS)
    if target is not None and target.strip().lower() != "none":
        raise ValueError("--target is not available: gradients(x, A, B, C) is not given a target")
    if args.models < 0:
        raise ValueError(f"--models must be 0 or more, not {args.models}")
    if not args.timeout > 0 or args.timeout == float("inf"):
        raise ValueError(f"--timeout must be a positive number of seconds, not {args.timeout:g}")
    if args.memory < 16:
        raise ValueError(f"--memory must be at least 16 (MiB), not {args.memory}")
    jobs = cores() if args.jobs is None else args.jobs
    if jobs < 1:
        raise ValueError(f"--jobs must be 1 or more, not {jobs}")
    variant = Variant(activation or "sigmoid", convention or "row")
    models = grading_models(args.models, variant, args.seed)
    return Setup(models, args.seed, args.timeout, args.memory << 20), jobs


def cores() -> int:
    """The cores this process may run on (fewer than the machine's under taskset or a container's
    CPU set): --jobs' default."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def _check_submissions(paths: Sequence[str]) -> list[str]:
    """The submissions' names; ValueError for a path that does not exist or is given twice. (What
    a path holds is the submission's own business: a folder without a .py file, say, is graded
    as an error in the gradebook, not a reason to grade nobody.)"""
    for path in paths:
        if not os.path.exists(path):
            raise ValueError(f"{path} does not exist")
    return submission_names(paths)


class Progress:
    """How many submissions are graded, on standard error: a bar redrawn in place on a terminal,
    one line per submission otherwise (a log stays readable)."""

    WIDTH = 30

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total, self.done, self.stream = total, 0, stream
        self.bar = stream.isatty()
        if self.bar:
            self._draw("")

    def _draw(self, last: str) -> None:
        filled = self.WIDTH * self.done // max(self.total, 1)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(f"\rgrading [{bar}] {self.done}/{self.total} {last[:30]:<30}")
        self.stream.flush()

    def advance(self, grade: Grade) -> None:
        self.done += 1
        if self.bar:
            self._draw(grade.name)
            if self.done == self.total:
                self.stream.write("\n")
        else:
            print(f"graded {self.done} of {self.total}: {grade.name}: {grade.verdict}", file=self.stream)
        self.stream.flush()

    def stop(self) -> None:
        if self.bar and self.done < self.total:
            self.stream.write("\n")
            self.stream.flush()


def grade_all(
    paths: Sequence[str],
    names: Sequence[str],
    setup: Setup,
    jobs: int,
    on_done: Callable[[Grade], None] = lambda grade: None,
) -> list[Grade]:
    """Every submission's grade, in the order given, ``jobs`` running at a time. An exception here
    (KeyboardInterrupt included) cancels every run, stopping the ones in progress at once."""
    from backprop_lab.sandbox import run_submission

    models = setup.models
    arguments = [(m.x, m.A, m.B, m.C) for m in models]
    cancel = threading.Event()

    def run_one(path: str) -> Outcome:
        return run_submission(path, arguments, timeout=setup.timeout, memory=setup.memory, cancel=cancel)

    grades: dict[int, Grade] = {}
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="grade")
    try:
        futures = {pool.submit(run_one, path): i for i, path in enumerate(paths)}
        for future in concurrent.futures.as_completed(futures):
            i = futures[future]
            grades[i] = grade_run(names[i], models, future.result())
            on_done(grades[i])
    except BaseException:
        cancel.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return [grades[i] for i in range(len(paths))]


def run(args: argparse.Namespace) -> int:
    """``backprop-lab grade``: 0 written, 2 unusable input or OUT not writable."""
    out = os.path.abspath(os.path.expanduser(args.output))
    if os.path.exists(out) and not os.path.isdir(out):
        return _error(f"{args.output} exists and is not a folder")
    try:
        setup, jobs = _settings(args)
        names = _check_submissions(args.submissions)
    except ValueError as exc:
        return _error(str(exc))
    progress = Progress(len(names), sys.stderr)
    try:
        grades = grade_all(args.submissions, names, setup, jobs, progress.advance)
    except Interrupted:
        progress.stop()
        raise
    except OSError as exc:  # the grader's own trouble (no processes or files left), not a student's
        progress.stop()
        return _error(f"could not run the submissions: {exc}; nothing was written")
    files = gradebook_files(grades, setup)
    late: Interrupted | None = None
    try:
        try:
            with deferred():  # a signal now waits for the folder to be complete
                folder = write_folder(out, files)
        except Interrupted as exc:
            late, folder = exc, Path(out)
    except OSError as exc:
        return _error(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    counts = [f"{n} {v}" for v in VERDICTS if (n := sum(g.verdict == v for g in grades))]
    print(
        f"Graded {format_count(len(grades), 'submission')} on {format_count(len(setup.models), 'model')}: "
        f"{', '.join(counts)}. Wrote {folder}: grades.csv, grades.html, "
        f"{format_count(len(grades), 'feedback text')}"
    )
    if late is not None:
        print(
            f"{PROG}: interrupted by {late.name} while writing; it was finished first: {folder}",
            file=sys.stderr,
        )
        return late.exit_status
    return 0
