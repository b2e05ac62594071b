"""``backprop-lab train``: train a session from the command line and write the result.

::

    backprop-lab train [SESSION] [--lr F] [--batch-size N] [--n-samples N] [--epochs N] [--seed N] -o OUT

Without SESSION it trains the built-in report example with the report's settings (lr 0.01,
1000 samples, batch size 10, one epoch). Options override the session's settings, and the
settings used are stored in OUT. The run continues the session's history (steps and epochs are
numbered after it), so ``-o`` equal to SESSION extends that file in place.

Exit codes (as ``check``): 0 trained; 1 the run diverged — OUT is still written, with the last
finite weights, the steps taken and the divergence recorded; 2 bad input (unreadable session,
invalid settings, OUT not writable) — nothing is written; 130 interrupted by Ctrl-C — OUT is
written with the steps taken so far.

Progress (a bar with rate and ETA) goes to stderr when stderr is a terminal; the summary goes
to stdout. Engine only: no Qt is imported.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from backprop_lab.engine.model import forward
from backprop_lab.engine.session import MAX_HISTORY_STEPS, Session, SessionError, load_session, save_session

PROG = "backprop-lab train"

EXIT_OK = 0
EXIT_DIVERGED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

#: Option destination → TrainingSettings field.
_OVERRIDES = {
    "learning_rate": "learning_rate",
    "batch_size": "batch_size",
    "n_samples": "n_samples",
    "epochs": "epochs",
    "seed": "seed",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add train's arguments to ``parser`` (backprop_lab.check builds the sub-command with this)."""
    parser.add_argument(
        "session",
        nargs="?",
        metavar="SESSION",
        help="session file to train (default: the built-in report example)",
    )
    parser.add_argument("--lr", dest="learning_rate", type=float, metavar="F", help="learning rate (> 0)")
    parser.add_argument("--batch-size", type=int, metavar="N", help="mini-batch size (1 … n-samples)")
    parser.add_argument("--n-samples", type=int, metavar="N", help="number of generated training inputs")
    parser.add_argument("--epochs", type=int, metavar="N", help="passes over the training inputs")
    parser.add_argument(
        "--seed", type=int, metavar="N", help="seed of the training inputs and shuffles (≥ 0)"
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="session file to write (atomically; may be SESSION itself)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Train a session by mini-batch gradient descent and write the result.",
        epilog="Exit status: 0 trained, 1 diverged (OUT still written), 2 bad input (nothing written).",
    )
    add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``train`` with ``argv`` = the arguments after the word ``train``."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # argparse has printed usage and the error
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    return run(args)


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
    loss = forward(m.x, m.A, m.B, m.C)["loss"]
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
        disable=not _is_terminal(stream),
    )


def _is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def run(args: argparse.Namespace) -> int:
    """Train as ``args`` (from :func:`add_arguments`) says; returns the exit code."""
    if args.session is None:
        session = Session.report_example()
        source = "the report example"
    else:
        try:
            session = load_session(args.session)
        except SessionError as exc:
            return _error(str(exc))
        source = args.session
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

    loss_before = _loss_at_x(session)
    first_step = session.history.last_step + 1
    trainer = session.make_trainer(settings)
    append = session.history.append
    interrupted = False
    started = time.perf_counter()
    bar = _progress_bar(trainer.total_steps, sys.stderr)
    try:
        with bar:
            for record in trainer.steps():
                append(record)
                bar.update(1)  # cheap: tqdm redraws at most every mininterval
                if not record.step % 1000:
                    bar.set_postfix(loss=f"{record.batch_loss:.4g}", refresh=False)
    except KeyboardInterrupt:
        interrupted = True
    elapsed = time.perf_counter() - started
    session.finish_run(trainer)

    try:
        save_session(session, args.output)
    except (SessionError, OSError) as exc:
        return _error(str(exc))

    taken = session.history.last_step - first_step + 1
    rate = f", {taken / elapsed:,.0f} steps/s" if elapsed > 0 and taken else ""
    count = f"{taken:,}" if taken == trainer.total_steps else f"{taken:,} of {trainer.total_steps:,}"
    numbers = f" ({first_step:,}–{session.history.last_step:,})" if taken else ""
    print(
        f"Trained {source}: {count} steps{numbers} in {elapsed:.2f} s{rate}; "
        f"lr {settings.learning_rate:g}, batch size {settings.batch_size}, {settings.n_samples} samples, "
        f"{settings.epochs} epoch{'s' if settings.epochs != 1 else ''}, seed {settings.seed}"
    )
    print(f"Loss at x: {loss_before!r} before, {_loss_at_x(session)!r} after")
    print(f"Wrote {args.output} (history: {len(session.history):,} steps)")
    if session.divergence is not None:
        print(session.divergence.reason)
        return EXIT_DIVERGED
    if interrupted:
        print(f"Interrupted after {taken:,} steps; the steps taken were saved.")
        return EXIT_INTERRUPTED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
