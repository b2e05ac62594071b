"""Suite-wide configuration: headless Qt, isolated preferences, no leftovers."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile

import pytest

# Before anything imports Qt: run headless and keep preferences out of the user's home.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The compiled kernels' disk cache (engine/kernel_cache.py) goes to a folder of this run, never the
# user's ~/.cache; child processes (the command-line tests) inherit it. Removed at the end, even
# after a failed collection.
_KERNEL_CACHE = tempfile.mkdtemp(prefix="backprop-lab-test-kernels-")
os.environ["BACKPROP_LAB_KERNEL_CACHE"] = _KERNEL_CACHE


def pytest_unconfigure(config):
    shutil.rmtree(_KERNEL_CACHE, ignore_errors=True)


@pytest.fixture(autouse=True)
def _signal_dispositions_restored():
    """Each test gets SIGINT and SIGTERM as the run started with. A command run in-process that
    was interrupted leaves them ignored on purpose (backprop_lab.interrupt), and every process a
    later test starts would inherit that: a Python child then never sees its Ctrl+C."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for s, handler in saved.items():
        if handler is not None and signal.getsignal(s) is not handler:
            signal.signal(s, handler)


# --------------------------------------------------------------------------- fault injection


class _FailingFile:
    """The temporary file object, failing at one method with one errno (after a partial write)."""

    def __init__(self, fh, stage: str, err: OSError) -> None:
        self._fh, self._stage, self._err = fh, stage, err

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._fh.close()
        if self._stage == "close" and exc[0] is None:
            raise self._err

    def fileno(self) -> int:
        return self._fh.fileno()

    def write(self, data) -> int:
        if self._stage == "write":
            self._fh.write(data[: len(data) // 2])
            raise self._err
        return self._fh.write(data)

    def flush(self) -> None:
        if self._stage == "flush":
            raise self._err
        self._fh.flush()


def _inject_save_fault(monkeypatch, stage: str, err: BaseException) -> None:
    """Make the next atomic save fail at ``stage`` with ``err``."""
    if stage == "mkstemp":
        monkeypatch.setattr(tempfile, "mkstemp", lambda *a, **k: (_ for _ in ()).throw(err))
    elif stage == "open":
        monkeypatch.setattr(os, "fdopen", lambda *a, **k: (_ for _ in ()).throw(err))
    elif stage in ("write", "flush", "close"):
        real = os.fdopen
        monkeypatch.setattr(os, "fdopen", lambda fd, mode: _FailingFile(real(fd, mode), stage, err))
    elif stage == "fsync":
        monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(err))
    elif stage == "rename":
        monkeypatch.setattr(os, "replace", lambda a, b: (_ for _ in ()).throw(err))
    else:  # pragma: no cover
        raise AssertionError(stage)


@pytest.fixture
def save_fault():
    """``save_fault(monkeypatch, stage, err)``: the next atomic save fails at ``stage`` with ``err``.

    Stages: mkstemp, open, write (after half the bytes), flush, close, fsync, rename.
    """
    return _inject_save_fault
