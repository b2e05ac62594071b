"""``backprop-lab train``: train a session from the command line and write the result.

::

    backprop-lab train [SESSION] [--lr F] [--batch-size N] [--n-samples N] [--epochs N] [--seed N]
                       [--activation A] [--convention C] [--target T1,T2,…] -o OUT

Without SESSION it trains the built-in report example with the report's settings (lr 0.01,
1000 samples, batch size 10, one epoch). Options override the session's settings, and the
settings used are stored in OUT. The run continues the session's history (steps and epochs are
numbered after it), so ``-o`` equal to SESSION extends that file in place.

``--activation``, ``--convention`` and ``--target`` override the session's member of the family
and OUT carries it. A history belongs to one member, so a change starts a new one from the
session's current weights, as in the window; since that would drop SESSION's history, ``-o``
must then name another file.

Exit codes (as ``check``): 0 trained; 1 the run diverged — OUT is still written, with the last
finite weights, the steps taken and the divergence recorded; 2 bad input (unreadable session,
invalid settings, OUT not writable) — nothing is written; 130 (SIGINT, Ctrl-C) or 143 (SIGTERM)
interrupted — OUT is written with the steps taken so far (a signal while loading writes nothing;
one while saving lets the save finish).

Progress (a bar with rate and ETA) goes to stderr when stderr is a terminal; the summary goes
to stdout. Engine only: no Qt is imported.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from backprop_lab.engine.formatting import format_count
from backprop_lab.engine.model import forward
from backprop_lab.engine.session import MAX_HISTORY_STEPS, Session, SessionError, load_session, save_session
from backprop_lab.engine.training import StepRecord, TrainingSettings, train_session
from backprop_lab.engine.variant import Variant
from backprop_lab.interrupt import Interrupted, deferred, pending
from backprop_lab.variant_options import apply_variant_options

PROG = "backprop-lab train"

#: The command's description in ``backprop-lab train --help``.
DESCRIPTION = (
    "Train a session by mini-batch gradient descent and write the result to OUT. Options override "
    "the session's settings; without SESSION the report example is trained with the report's settings. "
    "Exit status: 0 trained, 1 diverged (OUT still written), 2 unusable input (nothing written), "
    "130/143 interrupted by SIGINT/SIGTERM (OUT written with the steps taken)."
)

EXIT_OK = 0
EXIT_DIVERGED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # SIGINT (Ctrl-C); SIGTERM gives 143: 128 + the signal's number

#: Option destination → TrainingSettings field.
_OVERRIDES = {
    "learning_rate": "learning_rate",
    "batch_size": "batch_size",
    "n_samples": "n_samples",
    "epochs": "epochs",
    "seed": "seed",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add train's arguments to ``parser`` (backprop_lab.cli builds the sub-command with this)."""
    d = TrainingSettings()  # the report's settings, which the report example carries
    session_default = "default: the session's; for the report example"
    parser.add_argument(
        "session",
        nargs="?",
        metavar="SESSION",
        help="session file to train (default: the built-in report example)",
    )
    parser.add_argument(
        "--lr",
        dest="learning_rate",
        type=float,
        metavar="F",
        help=f"learning rate (> 0; {session_default} {d.learning_rate:g})",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        metavar="N",
        help=f"mini-batch size (1 … n-samples; {session_default} {d.batch_size})",
    )
    parser.add_argument(
        "--n-samples",
        type=int,
        metavar="N",
        help=f"number of generated training inputs ({session_default} {d.n_samples})",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        metavar="N",
        help=f"passes over the training inputs ({session_default} {d.epochs})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        metavar="N",
        help=f"seed of the training inputs and shuffles (≥ 0; {session_default} {d.seed})",
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="session file to write (required; atomically; may be SESSION itself)",
    )


def _error(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _check_output(path: str) -> str | None:
    """Why OUT cannot be written, found before spending time on training (None if it looks fine)."""
    if os.path.isdir(path):
        return f"cannot write {path}: it is a folder"
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        return f"cannot write {path}: the folder {folder} does not exist"
    if not os.access(folder, os.W_OK):
        return f"cannot write {path}: no permission to write in {folder}"
    return None


def _loss_at_x(session: Session) -> float:
    m = session.model
    loss = forward(m.x, m.A, m.B, m.C, m.variant)["loss"]
    assert isinstance(loss, float)
    return loss


def _progress_bar(total: int, stream: TextIO) -> Any:
    from tqdm import tqdm  # imported here: only the train command needs it

    return tqdm(
        total=total,
        file=stream,
        unit="step",
        dynamic_ncols=True,
        mininterval=0.2,
        disable=not is_terminal(stream),
    )


def is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def run(args: argparse.Namespace) -> int:
    """Train as ``args`` (from :func:`add_arguments`) says; returns the exit code."""
    loaded = _load(args)
    if isinstance(loaded, int):
        return loaded
    session, source, settings, previous = loaded
    outcome = _train_and_save(session, source, settings, args.output, previous)
    return _exit(outcome, session, args.output)


@dataclasses.dataclass
class _Outcome:
    """How a run ended: the steps it was to take, and what stopped it or its save."""

    first_step: int
    total_steps: int
    stopped_by: int | None = None  # the signal that ended the run early
    late: int | None = None  # a signal that came while saving
    failure: str | None = None  # why the save failed


def _load(args: argparse.Namespace) -> tuple[Session, str, TrainingSettings, Variant | None] | int:
    """The session, its name for messages, the settings to train with and the session's own variant
    when the options changed it (else None); or the exit code of bad input."""
    opened = open_session(args, _error)
    if isinstance(opened, int):
        return opened
    session, source, previous = opened
    overrides = {
        field: getattr(args, dest)
        for dest, field in _OVERRIDES.items()
        if getattr(args, dest, None) is not None
    }
    settings = dataclasses.replace(session.training, **overrides)
    try:
        settings.validate(session.model.K)
    except ValueError as exc:
        return _error(f"invalid training settings: {exc}")
    if len(session.history) + settings.total_steps > MAX_HISTORY_STEPS:
        return _error(
            f"{source} has {len(session.history):,} steps and this run would add {settings.total_steps:,}; "
            f"a session file holds at most {MAX_HISTORY_STEPS:,}"
        )
    problem = _check_output(args.output)
    if problem is not None:
        return _error(problem)
    return session, source, settings, previous


def open_session(
    args: argparse.Namespace, error: Callable[[str], int]
) -> tuple[Session, str, Variant | None] | int:
    """``args.session`` (the report example when None) under the variant options, as train and sweep
    start from it: the session, its name for messages and its own variant when the options changed it
    (else None); or ``error(message)``'s exit code for an unreadable session or a refused variant."""
    if args.session is None:
        session = Session.report_example()
        source = "the report example"
    else:
        try:
            session = load_session(args.session)
        except SessionError as exc:
            return error(str(exc))
        source = args.session
    previous = _change_variant(args, session, source, error)
    if isinstance(previous, int):
        return previous
    return session, source, previous


def _change_variant(
    args: argparse.Namespace, session: Session, source: str, error: Callable[[str], int]
) -> Variant | int | None:
    """Put the session under the options' variant, starting a new history if it changed; returns
    the session's own variant then (None when unchanged), or the exit code of a refusal."""
    try:
        model = apply_variant_options(args, session.model)
    except ValueError as exc:
        return error(str(exc))
    previous = session.model.variant
    if model.variant == previous:
        return None
    if session.history and args.session is not None and _same_file(args.session, args.output):
        return error(
            f"{source} holds {len(session.history):,} steps trained as {previous.describe()}; another "
            "variant starts a new history, which would replace them: write it to another file with -o"
        )
    session.model = model
    session.reset_history()
    return previous


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # OUT does not exist yet
        return os.path.abspath(a) == os.path.abspath(b)


def _train_and_save(
    session: Session, source: str, settings: TrainingSettings, output: str, previous: Variant | None
) -> _Outcome:
    """Run the steps (until done or a signal), then save to ``output`` and print the summary.
    ``previous``: the session's own variant when the options replaced it."""
    loss_before = _loss_at_x(session)
    outcome = _Outcome(session.history.last_step + 1, settings.total_steps)
    started = time.perf_counter()
    bar = _progress_bar(settings.total_steps, sys.stderr)
    try:
        # From the first step to the end of the save a signal is only noted (backprop_lab.interrupt):
        # the run stops between two steps, never inside one (raised in the middle of History.append
        # it would leave columns of different lengths, a file that cannot be loaded), and a save that
        # has started is finished.
        with deferred():
            outcome.stopped_by = _steps(session, settings, bar)
            elapsed = time.perf_counter() - started
            try:
                save_session(session, output)
            except (SessionError, OSError) as exc:
                outcome.failure = str(exc)
            else:
                _summary(
                    session, source, settings, outcome.total_steps, outcome.first_step, elapsed, loss_before
                )
                _say_variant(session.model.variant, previous)
                print(f"Wrote {output} (history: {len(session.history):,} steps)")
    except Interrupted as exc:  # the signal noted, raised once the save was done
        if outcome.stopped_by is None:
            outcome.late = exc.signum
    return outcome


def _steps(session: Session, settings: TrainingSettings, bar: Any) -> int | None:
    """Train ``session`` (engine.training.train_session: the sweep's loop too), ``bar`` counting;
    the signal that stopped the run, if any."""
    stopped_by: list[int] = []

    def on_step(record: StepRecord) -> None:
        bar.update(1)  # cheap: tqdm redraws at most every mininterval
        if not record.step % 1000:
            bar.set_postfix(loss=f"{record.batch_loss:.4g}", refresh=False)

    def should_stop() -> bool:
        signum = pending()
        if signum is not None:
            stopped_by.append(signum)
        return signum is not None

    try:
        with bar:
            train_session(session, settings, should_stop=should_stop, on_step=on_step)
    except KeyboardInterrupt:  # a Ctrl+C where no handler is installed (an in-process caller)
        return signal.SIGINT
    return stopped_by[0] if stopped_by else None


def _exit(outcome: _Outcome, session: Session, output: str) -> int:
    """Say how the run ended (when it did not simply finish) and return the exit code."""
    if outcome.failure is not None:
        return _error(outcome.failure)
    # Past this point a signal is only noted if one came before; the rest is a few short lines.
    taken = session.history.last_step - outcome.first_step + 1
    if outcome.stopped_by is not None:
        print(f"Interrupted after {taken:,} steps; the steps taken were saved.")
        print(
            f"{PROG}: interrupted by {signal.Signals(outcome.stopped_by).name} after {taken:,} of "
            f"{outcome.total_steps:,} steps; the steps taken were saved to {output}",
            file=sys.stderr,
        )
        return 128 + outcome.stopped_by
    if outcome.late is not None:
        print(
            f"{PROG}: interrupted by {signal.Signals(outcome.late).name} while saving; the save was finished "
            f"first: {output} holds the whole run",
            file=sys.stderr,
        )
        return 128 + outcome.late
    if session.divergence is not None:
        print(session.divergence.reason)
        return EXIT_DIVERGED
    return EXIT_OK


def _say_variant(variant: Variant, previous: Variant | None) -> None:
    line = f"Variant: {variant.describe()}"
    if previous is not None:
        line += f" (the session's was {previous.describe()}; a new history started)"
    print(line)


def _summary(
    session: Session,
    source: str,
    settings: TrainingSettings,
    total: int,
    first_step: int,
    elapsed: float,
    loss_before: float,
) -> None:
    """What the run did: its steps, its speed, its settings and the loss before and after."""
    taken = session.history.last_step - first_step + 1
    rate = f", {taken / elapsed:,.0f} steps/s" if elapsed > 0 and taken else ""
    count = f"{taken:,}" if taken == total else f"{taken:,} of {total:,}"
    numbers = f" ({first_step:,}–{session.history.last_step:,})" if taken else ""
    print(
        f"Trained {source}: {count} steps{numbers} in {elapsed:.2f} s{rate}; "
        f"lr {settings.learning_rate:g}, batch size {settings.batch_size:,}, "
        f"{format_count(settings.n_samples, 'sample')}, "
        f"{format_count(settings.epochs, 'epoch')}, seed {settings.seed}"
    )
    print(f"Loss at x: {loss_before!r} before, {_loss_at_x(session)!r} after")
