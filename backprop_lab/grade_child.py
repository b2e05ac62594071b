"""The process a submission runs in: load it, call ``gradients(x, A, B, C)`` per model, report.

Started by :func:`backprop_lab.sandbox.run_submission` as ``python -P -u grade_child.py MODELS_FD
ANSWERS_FD``, by its file path rather than ``-m backprop_lab.grade_child``: it needs nothing but
the standard library, so it runs the same from a checkout and from an installed package, and the
submission's interpreter gets no ``PYTHONPATH`` that would put this project's modules beside its
own. ``-P`` keeps this file's folder off ``sys.path`` for the same reason.

The job (the submission's file, its limits and the models as plain lists) arrives as one JSON
document on MODELS_FD. Events leave on ANSWERS_FD as JSON lines, so that whatever the submission
prints never mixes with its answers:

- ``{"event": "loaded"}`` after the file imported and defines a callable ``gradients``;
- ``{"event": "begin", "model": i}`` before each call;
- ``{"event": "returned", "model": i, "value": …}``: the returned value as plain JSON (``.tolist()``
  applied where an object has one; NaN and infinities kept, for the grader to call non-finite);
- one final event, after which the process ends at once (no ``atexit`` of the submission's runs):
  ``done``, ``raised`` (``detail``: the exception's last line), ``exit`` (it called ``sys.exit``),
  ``out-of-memory``, ``unloadable`` or ``bad-output`` (a value that is not numbers), each with a
  ``detail`` and, during a call, the ``model``.

Limits are set here, in the child, rather than with ``preexec_fn`` in the parent: the grader runs
several sandboxes from threads, and ``preexec_fn`` is not safe with threads.
"""

from __future__ import annotations

import faulthandler
import importlib.util
import json
import numbers
import os
import resource
import signal
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

#: A returned value's JSON larger than this is not a gradient of a grading model (K is small).
ANSWER_LIMIT = 4_000_000
#: ``.tolist()`` results and containers nested deeper than this are not numbers.
DEPTH_LIMIT = 8
#: An array of more numbers than this is not a gradient of a grading model either.
SIZE_LIMIT = 100_000
#: An exception's last line, as reported, is cut to this many characters.
DETAIL_LIMIT = 300

PR_SET_PDEATHSIG = 1


class _BadOutput(Exception):
    """The returned value cannot be carried as plain JSON; the message says why."""


class _Unloadable(Exception):
    """The file imported but offers no usable ``gradients``; the message says why."""


class _Reporter:
    """Writes the events, one JSON line each, on the answers pipe."""

    def __init__(self, fd: int) -> None:
        os.set_inheritable(fd, False)  # a program the submission starts does not get it
        self._fd = fd
        self._owner = os.getpid()

    def send(self, event: str, **fields: object) -> None:
        self.write(json.dumps({"event": event, **fields}, allow_nan=True))

    def write(self, line: str) -> None:
        if os.getpid() != self._owner:
            os._exit(0)  # a fork of the submission came back here: only the original answers
        data = (line + "\n").encode("utf-8")
        while data:
            data = data[os.write(self._fd, data) :]

    def finish(self, event: str, **fields: object) -> NoReturn:
        """Send the final event and end now: the submission's threads and ``atexit`` never run."""
        try:
            self.send(event, **fields)
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:
                    pass
            os._exit(0)


def _set_limit(kind: int, soft: int, hard: int) -> None:
    """Lower a limit; never above the hard limit the grader itself runs under (that would fail)."""
    _, ceiling = resource.getrlimit(kind)
    if ceiling != resource.RLIM_INFINITY:
        soft, hard = min(soft, ceiling), min(hard, ceiling)
    resource.setrlimit(kind, (soft, hard))


def _limit(memory: int, cpu_seconds: int, parent: int) -> None:
    """Memory (address space) and CPU time, no core files; die with the grader where Linux can."""
    _set_limit(resource.RLIMIT_AS, memory, memory)
    _set_limit(resource.RLIMIT_CORE, 0, 0)
    # A backstop only: the grader's wall-clock limit per model normally ends the run long before.
    _set_limit(resource.RLIMIT_CPU, cpu_seconds, cpu_seconds + 5)
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: the grader still kills the process group at the end of every run
    if os.getppid() != parent:
        os._exit(0)  # the grader has already gone


def _exit_text(exc: SystemExit) -> str:
    if exc.code is None:
        return "called sys.exit()"
    return _cut(f"called sys.exit({exc.code!r})")


def _cut(text: str) -> str:
    return text if len(text) <= DETAIL_LIMIT else text[: DETAIL_LIMIT - 1] + "…"


def _last_line(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        where = f" (line {exc.lineno})" if exc.lineno else ""
        return f"{type(exc).__name__}: {exc.msg}{where}"
    lines = traceback.format_exception_only(type(exc), exc)
    return _cut((lines[-1].strip() if lines else "") or type(exc).__name__)


def _looks_out_of_memory(exc: BaseException) -> bool:
    """MemoryError, or a library's own words for a failed allocation (PyTorch raises RuntimeError)."""
    if isinstance(exc, MemoryError):
        return True
    try:
        text = str(exc).lower()
    except Exception:
        return False
    return "allocate memory" in text or "out of memory" in text or "bad_alloc" in text


#: Freed when the submission raises, so that reporting has memory even after it used up the limit.
_cushion: list[bytearray] = []


def _release(exc: BaseException) -> None:
    """Free what the failed call held: the cushion, and the locals its traceback keeps alive (a
    hoard of small allocations leaves no room otherwise to print the traceback or send the event)."""
    _cushion.clear()
    traceback.clear_frames(exc.__traceback__)


def _print_traceback(exc: BaseException) -> None:
    """The student's traceback goes into the captured output, without this file's own frame."""
    _release(exc)
    tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
    # A MemoryError raised with no memory left has no traceback, and its handling raises more of
    # them: a chain of bare "MemoryError" lines says nothing that one does not.
    chain = not isinstance(exc, MemoryError)
    try:
        traceback.print_exception(type(exc), exc, tb, file=sys.stderr, chain=chain)
    except Exception:
        pass


def _load(file: Path, folder: Path | None) -> Callable[..., Any]:
    """Import the file as module ``submission`` (not ``__main__``: its own test code stays idle)."""
    if folder is not None:
        sys.path.insert(0, str(folder))  # a folder's helper modules import as its author meant
    sys.argv = [str(file)]
    spec = importlib.util.spec_from_file_location("submission", file)
    if spec is None or spec.loader is None:
        raise _Unloadable(f"cannot load {file.name} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules["submission"] = module
    spec.loader.exec_module(module)
    function = getattr(module, "gradients", None)
    if function is None:
        raise _Unloadable(f"{file.name} defines no function gradients(x, A, B, C)")
    if not callable(function):
        raise _Unloadable(f"gradients in {file.name} is a {type(function).__name__}, not a function")
    return function  # type: ignore[no-any-return]


def _plain(value: object, depth: int = 0) -> object:
    """The value as JSON-able lists, dicts and numbers; ``.tolist()`` where an object has one."""
    if depth > DEPTH_LIMIT:
        raise _BadOutput(f"returned values nested more than {DEPTH_LIMIT} deep")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_plain(item, depth + 1) for item in value]
    if isinstance(value, dict):
        plain: dict[str, object] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _BadOutput(f"returned a dict with the key {key!r}; the keys must be text")
            plain[key] = _plain(item, depth + 1)
        return plain
    if isinstance(value, numbers.Real):
        return float(value)  # a Fraction, say: a number, just not a float
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        _check_size(value)
        try:
            listed = tolist()
        except Exception as exc:
            raise _BadOutput(f"{type(value).__name__}.tolist() failed: {_last_line(exc)}") from None
        return _plain(listed, depth + 1)
    if isinstance(value, complex):
        raise _BadOutput(f"returned the complex number {value!r}")
    raise _BadOutput(f"returned a {type(value).__name__}, which is not numbers")


def _check_size(array: object) -> None:
    """Refuse a huge array before ``.tolist()`` turns it into millions of Python floats."""
    size = getattr(array, "size", None)  # NumPy: an int; PyTorch: a method, and numel() counts
    if not isinstance(size, int):
        numel = getattr(array, "numel", None)
        size = numel() if callable(numel) else None
    if isinstance(size, int) and size > SIZE_LIMIT:
        raise _BadOutput(f"returned an array of {size:,} numbers, far more than the model's gradients")


def _encode(value: object) -> str:
    text = json.dumps(_plain(value), allow_nan=True)
    if len(text) > ANSWER_LIMIT:
        raise _BadOutput(f"returned {len(text):,} characters of numbers, far more than the model's gradients")
    return text


def _run_models(report: _Reporter, function: Callable[..., Any], models: list[list[object]]) -> None:
    for index, model in enumerate(models):
        report.send("begin", model=index)
        try:
            text = _encode(function(*model))
        except SystemExit as exc:
            report.finish("exit", model=index, detail=_exit_text(exc))
        except _BadOutput as exc:
            report.finish("bad-output", model=index, detail=str(exc))
        except BaseException as exc:
            _print_traceback(exc)
            event = "out-of-memory" if _looks_out_of_memory(exc) else "raised"
            report.finish(event, model=index, detail=_last_line(exc))
        # The value is already JSON text: splice it in rather than decode and encode it again.
        report.write(f'{{"event": "returned", "model": {index}, "value": {text}}}')


def main(argv: list[str]) -> NoReturn:
    """Run the job read from ``argv[1]``'s descriptor; events go to ``argv[2]``'s."""
    with os.fdopen(int(argv[1]), "rb") as source:
        job = json.loads(source.read())
    report = _Reporter(int(argv[2]))
    _limit(int(job["memory"]), int(job["cpu"]), int(job["parent"]))
    faulthandler.enable()  # a segfault prints the Python lines it happened on into the output
    _cushion.append(bytearray(1 << 20))
    folder = Path(job["folder"]) if job.get("folder") else None
    try:
        function = _load(Path(job["file"]), folder)
    except _Unloadable as exc:
        report.finish("unloadable", detail=str(exc))
    except SystemExit as exc:
        report.finish("exit", detail=_exit_text(exc))
    except BaseException as exc:
        _print_traceback(exc)
        event = "out-of-memory" if _looks_out_of_memory(exc) else "unloadable"
        report.finish(event, detail=_last_line(exc))
    report.send("loaded")
    _run_models(report, function, job["models"])
    report.finish("done")


if __name__ == "__main__":
    main(sys.argv)
