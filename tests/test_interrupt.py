"""interrupt.handling(): the caller's handlers come back after a run no signal stopped; after one a
signal stopped, later signals are ignored while the process exits (a second Ctrl+C just after the
save must not turn exit 130 into death by SIGTERM: tests/cli/test_signals.py sends it 0–50 ms
later)."""

from __future__ import annotations

import signal

import pytest

from backprop_lab import interrupt


@pytest.fixture
def own_handlers():
    """SIGINT and SIGTERM handlers of this test's own, put back as they were afterwards."""
    before = {s: signal.getsignal(s) for s in interrupt.SIGNALS}

    def mine(signum, frame):  # pragma: no cover - never called: handling() replaces it
        raise AssertionError("the caller's handler ran inside handling()")

    for s in interrupt.SIGNALS:
        signal.signal(s, mine)
    yield mine
    for s, handler in before.items():
        signal.signal(s, handler)


def test_after_a_run_no_signal_stopped_the_callers_handlers_return(own_handlers):
    with interrupt.handling():
        assert signal.getsignal(signal.SIGINT) is not own_handlers
    assert all(signal.getsignal(s) is own_handlers for s in interrupt.SIGNALS)


@pytest.mark.parametrize("signum", interrupt.SIGNALS)
def test_after_a_run_a_signal_stopped_later_signals_are_ignored(own_handlers, signum):
    with pytest.raises(interrupt.Interrupted) as info, interrupt.handling():
        signal.raise_signal(signum)  # its Python handler runs before raise_signal returns
    assert info.value.signum == signum
    assert all(signal.getsignal(s) is signal.SIG_IGN for s in interrupt.SIGNALS)
    signal.raise_signal(signal.SIGTERM)  # ignored: the test goes on
