"""What every benchmark prints first: the machine its figures come from; and the GUI-thread gap probe."""

from __future__ import annotations

import os
import platform
import subprocess


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
