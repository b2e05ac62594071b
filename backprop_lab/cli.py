"""The ``backprop-lab`` command: the window, or one of the command-line tools.

``check`` and ``train`` run the engine alone and never import Qt; ``report`` renders with Qt's
offscreen platform; anything else opens the window (optionally on a session file).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

ENGINE_COMMANDS = {"check", "train"}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ENGINE_COMMANDS:
        from backprop_lab.check import main as engine_main

        return engine_main(args)
    if args and args[0] == "report":
        from backprop_lab.report import main as report_main

        return report_main(args[1:])
    from backprop_lab.gui.app import run_app

    return run_app(args)


if __name__ == "__main__":
    sys.exit(main())
