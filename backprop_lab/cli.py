"""The ``backprop-lab`` command: one parser for the window and the command-line tools.

::

    backprop-lab [SESSION]                         the window (the default command)
    backprop-lab check|train|report|compare ...    the tools; none of them needs a display

A first argument that is a command's name runs that command; one that names an existing file
opens it in the window; anything else is a usage error: ``did you mean …?`` when it is close
to a command's name (difflib), else "does not exist". Usage errors are one line on standard
error ending with a pointer to ``--help``, and exit with status 2.

``check``, ``train``, ``report`` and ``compare`` share the options that choose the member of the
assignment's family (``--activation``, ``--convention``, ``--target``; backprop_lab.variant_options),
which override the session's. ``check``, ``train`` and ``compare`` run the engine alone and never
import Qt; ``report`` renders with Qt's offscreen platform. In these tools, SIGINT and SIGTERM end the
command with one line on standard error and the status 130 or 143 (backprop_lab.interrupt), never half a file.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from backprop_lab import __version__
from backprop_lab.variant_options import add_variant_arguments, glue_option_values

PROG = "backprop-lab"
EXIT_USAGE = 2

#: The commands, with the one-line description ``--help`` lists (the README's command table).
COMMANDS = {
    "window": "open the window on SESSION, or on the report example (the default command)",
    "check": "print the loss and the gradients at full precision and verify them",
    "train": "train by mini-batch gradient descent and write the session to a file",
    "sweep": "train once per combination of learning rates, batch sizes, seeds, epochs, in parallel",
    "report": "write a session's report (HTML, PDF, PNG, SVG) into a folder, without a display",
    "export": "write a session's numbers to CSV (history), JSON (model, gradients) or NPZ (arrays)",
    "compare": "compare a student's printed loss and gradients with the true ones; name the mistake",
    "grade": "run a class's gradients(x, A, B, C) programs in sandboxes and write a gradebook",
}
#: The commands besides the window, as a usage error lists them.
_TOOLS = ", ".join(name for name in COMMANDS if name != "window")
#: The commands that run without a display (named in the "no display" message).
HEADLESS_COMMANDS = ("check", "train", "sweep", "report", "compare", "grade")


class UsageError(Exception):
    """A usage error; ``str()`` is the one line to print."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors: ``PROG: error: MESSAGE (see PROG --help)``."""

    def error(self, message: str) -> NoReturn:
        line = " ".join(message.split())
        raise UsageError(f"{self.prog}: error: {line} (see {self.prog} --help)")


def _window_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "session",
        nargs="?",
        metavar="SESSION",
        help="a session file to open (default: the report example)",
    )


def _top_level_parser() -> Parser:
    """The program's parser with its own options: --version and the desktop entry."""
    parser = Parser(
        prog=PROG,
        usage=f"{PROG} [-h] [--version] [--install-desktop-entry | --uninstall-desktop-entry] "
        "[SESSION | COMMAND ...]",
        description="Backprop Lab: derive, verify and train the gradients of L = ||C(σ(Ax) + Bx)||². "
        f"Without a command it opens the window ({PROG} [SESSION]); "
        f"'{PROG} COMMAND --help' describes each command.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    desktop = parser.add_mutually_exclusive_group()
    desktop.add_argument(
        "--install-desktop-entry",
        action="store_true",
        help="add Backprop Lab to this user's application menu (a .desktop entry and its icon "
        "under $XDG_DATA_HOME, default ~/.local/share) and exit",
    )
    desktop.add_argument(
        "--uninstall-desktop-entry",
        action="store_true",
        help="remove the two files --install-desktop-entry wrote and exit",
    )
    return parser


def build_parser(command: str | None = None) -> Parser:
    """The command line: top-level options and one sub-parser per command, complete with its
    options for ``command`` (the one being run) only. The other commands' modules are not imported:
    the top-level ``--help`` lists them from :data:`COMMANDS`, and the window starts without
    loading what the grader, the sweep or the comparison need."""
    parser = _top_level_parser()
    commands = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND", prog=PROG)
    for name, summary in COMMANDS.items():
        if name != command:
            commands.add_parser(name, help=summary)
            continue
        if name == "window":
            description = (
                "Open the window on SESSION (a session file) or on the report example. "
                f"The same as '{PROG} [SESSION]'."
            )
            add, run = _window_arguments, _run_window
        else:
            module = importlib.import_module(f"backprop_lab.{name}")  # none imports Qt at module level
            description, add, run = module.DESCRIPTION, module.add_arguments, module.run
        sub = commands.add_parser(name, help=summary, description=description)
        add(sub)
        if name in HEADLESS_COMMANDS:
            add_variant_arguments(sub)
        sub.set_defaults(handler=run, command_parser=sub)
    return parser


def _route(args: list[str], window: bool) -> list[str]:
    """The argument list with the command made explicit, or a UsageError for a bad first word."""
    if not args:
        if window:
            return ["window"]
        raise UsageError(f"{PROG}: error: a command is required: {_TOOLS} (see {PROG} --help)")
    first = args[0]
    if first == "--" and window:
        return ["window", *args[1:]]
    if first.startswith("-") or first in COMMANDS:
        return args
    if os.path.isdir(first):
        raise UsageError(f"{PROG}: {first} is a folder, not a session file (see {PROG} --help)")
    if os.path.exists(first) and window:
        return ["window", *args]
    # A name with a dot or a slash is a file name (no command has either), however close it is.
    looks_like_a_file = "." in first or os.sep in first or (os.altsep is not None and os.altsep in first)
    close = [] if looks_like_a_file else difflib.get_close_matches(first, list(COMMANDS), n=1)
    if close:
        raise UsageError(f"{PROG}: {first!r} is not a command or a file; did you mean {close[0]!r}?")
    raise UsageError(f"{PROG}: {first} does not exist, and is not a command (see {PROG} --help)")


def _parse(parser: Parser, args: list[str]) -> argparse.Namespace:
    ns, extra = parser.parse_known_args(glue_option_values(args))
    if extra:
        # argparse would blame the top-level parser; the sub-command's own --help is the useful pointer.
        owner = getattr(ns, "command_parser", parser)
        owner.error(f"unrecognized arguments: {' '.join(extra)}")
    return ns


def _run_window(args: argparse.Namespace) -> int:
    from backprop_lab.window import run_app

    return int(run_app([args.session] if args.session is not None else []))


def _desktop(args: argparse.Namespace) -> int:
    from backprop_lab import desktop, interrupt

    if args.command is not None:
        raise UsageError(
            f"{PROG}: error: --install-desktop-entry and --uninstall-desktop-entry take no command "
            f"(see {PROG} --help)"
        )
    if args.install_desktop_entry:
        try:
            with interrupt.deferred():  # two small files: finish them rather than leave a temporary one
                written = desktop.install()
        except OSError as exc:
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        for path in written:
            print(f"Wrote {path}")
        return 0
    removed, absent = desktop.uninstall()
    for path in removed:
        print(f"Removed {path}")
    for path in absent:
        print(f"Nothing to remove: {path} does not exist")
    return 0


def main(argv: Sequence[str] | None = None, *, window: bool = True) -> int:
    """Run ``backprop-lab`` with ``argv`` (default: sys.argv[1:]); returns the exit status.

    ``window=False`` refuses to open the window (for callers that run the tools only).
    """
    from backprop_lab import interrupt

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _route(args, window)
        if args[0] == "window":  # Qt runs the window's event loop; its signals are its own
            ns = _parse(build_parser("window"), args)
            return int(ns.handler(ns))
        where = f"{PROG} {args[0]}" if args[0] in COMMANDS else PROG
        with interrupt.handling():
            try:
                ns = _parse(build_parser(next((a for a in args if a in COMMANDS), None)), args)
                if ns.install_desktop_entry or ns.uninstall_desktop_entry:
                    return _desktop(ns)
                if ns.command is None:
                    if not window:
                        build_parser().error(f"a command is required: {_TOOLS}")
                    return _run_window(argparse.Namespace(session=None))
                status = int(ns.handler(ns))
                sys.stdout.flush()
            except interrupt.Interrupted as exc:
                print(f"{where}: interrupted by {exc.name}; nothing was written", file=sys.stderr)
                return exc.exit_status
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # --help and --version print and exit 0
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as command-line tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
