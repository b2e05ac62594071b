"""What the benchmarks share: the machine their figures come from, the GUI-thread gap probe, and
running a case in a child process."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name as ``lscpu`` reports it (``/proc/cpuinfo`` where lscpu is missing)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine(qt_platform: str | None = None) -> str:
    """One line: CPU, cores, Python and OS, and the Qt platform for the GUI benchmarks."""
    line = (
        f"{cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.system()}"
    )
    return f"{line}, Qt platform {qt_platform}" if qt_platform else line


class GapProbe:
    """A 5 ms QTimer on the GUI thread; ``gaps`` are the milliseconds between its ticks, that is
    how long a click or a repaint would have waited. Qt is imported only by the benchmarks that
    make one (this module is otherwise standard library only)."""

    def __init__(self, interval_ms: int = 5) -> None:
        from PySide6.QtCore import QElapsedTimer, QTimer

        self.gaps: list[float] = []
        self._clock = QElapsedTimer()
        self._last = 0
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = self._clock.nsecsElapsed()
        self.gaps.append((now - self._last) / 1e6)
        self._last = now

    def start(self) -> None:
        self._clock.start()
        self._last = 0
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()


def run_child(script: str, args: list[str], cwd: Path, env: dict[str, str], what: str) -> dict[str, object]:
    """Run ``script --child ARGS`` in a fresh Python and return the JSON line it prints."""
    out = subprocess.run(
        [sys.executable, script, "--child", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("{")), None)
    if out.returncode or line is None:
        raise RuntimeError(f"{what} failed:\n{out.stderr[-3000:]}")
    result: dict[str, object] = json.loads(line)
    return result


def settle(ms: int) -> None:
    """Let the GUI thread's event loop run for ``ms`` (blocked in Qt between events, as in use)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()
