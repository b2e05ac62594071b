"""What a report shows (engine.report_data): the report's numbers, escaping, large K, no network."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys

import pytest

import backprop_lab.engine.gradcheck as gradcheck
from backprop_lab.engine.model import Model, loss_and_grads
from backprop_lab.engine.report_data import CHECK_MAX_K, gather_report_data
from backprop_lab.engine.report_html import SHOW_COLS, SHOW_ROWS, render_html
from backprop_lab.engine.session import Session
from backprop_lab.engine.torch_check import torch_available
from backprop_lab.engine.training import Divergence, TrainingSettings

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
HOSTILE = "<script>alert(1)</script>"


def _trained(session: Session, settings: TrainingSettings | None = None) -> Session:
    trainer = session.make_trainer(settings)
    session.history.extend(trainer.steps())
    session.finish_run(trainer)
    return session


@pytest.fixture(scope="module")
def example_trained() -> Session:
    return _trained(Session.report_example())


@pytest.fixture(scope="module")
def example_data(example_trained):
    return gather_report_data(example_trained, now=NOW)


@pytest.fixture(scope="module")
def example_html(example_data) -> str:
    return render_html(example_data, plot_src="data:image/png;base64,AAAA")


def test_initial_numbers_are_the_reports(example_data, report_example):
    expected = report_example["expected"]
    assert example_data.initial_loss == pytest.approx(expected["loss"], rel=1e-14)
    for name in "ABC":
        for row, want in zip(example_data.initial_grads[name], expected[f"grad_{name}"], strict=True):
            assert row == pytest.approx(want, rel=1e-13)
    assert example_data.initial.x == report_example["model"]["x"]


def test_html_holds_the_reports_loss_gradient_and_settings(example_data, example_html):
    # Full precision (repr), as the report prints them.
    assert repr(example_data.initial_loss) in example_html
    assert "44.0612131403435" in example_html
    assert repr(example_data.initial_grads["A"][0][0]) in example_html
    assert "2.164841106297983" in example_html
    for label, value in example_data.settings:
        assert f"<td>{value}</td>" in example_html, label
    assert "learning rate λ" in example_html and "<td>0.01</td>" in example_html
    assert "<td>1,000</td>" in example_html  # N


def test_training_section_has_loss_before_after_and_final_weights(
    example_trained, example_data, example_html
):
    m = example_trained.model
    after = loss_and_grads(m.x, m.A, m.B, m.C)[0]
    assert example_data.trained and example_data.steps == 100 and example_data.epochs == 1
    assert example_data.loss_before == example_data.initial_loss
    assert example_data.loss_after == after < example_data.loss_before
    assert repr(after) in example_html
    assert repr(m.C[2][2]) in example_html
    assert len(example_data.curves["loss_at_x"]) == 100
    assert example_data.curves["loss_at_x"][-1] == example_trained.history.column("loss_at_x")[-1]
    assert "Figure 1." in example_html


def test_verification_side_by_side(example_data, example_html):
    methods = [v.method for v in example_data.verifications]
    assert methods[0].startswith("finite differences")
    ran = [v for v in example_data.verifications if v.report is not None]
    assert ran and all(v.report.passed for v in ran)
    assert len(ran) == (2 if torch_available() else 1)  # PyTorch's row says it is not installed
    # 27 entry rows for K = 3, each with the hand-derived value and every method's reference.
    assert len(re.findall(r"<td(?: class=\"last\")?>[ABC]\[\d\]\[\d\]</td>", example_html)) == 27
    if torch_available():
        assert any("PyTorch" in m for m in methods)
        assert "<th>PyTorch</th>" in example_html
    else:
        assert "PyTorch is not installed" in example_html


def test_facts(example_data, example_html):
    facts = dict(example_data.facts)
    assert facts["seed"] == "0" and facts["steps trained"] == "100"
    assert facts["report generated"] == "2026-11-26T12:00:00Z"
    assert facts["app version (report)"] and facts["app version (session)"]
    assert "2026-11-26T12:00:00Z" in example_html


@pytest.mark.parametrize("flavour", ["web", "qt"])
def test_user_strings_are_escaped(flavour):
    s = Session.report_example()
    s.name = HOSTILE
    s.notes = f"{HOSTILE}\n<img src=x onerror=alert(2)> & \"quotes\" 'too'"
    s.divergence = Divergence(step=3, epoch=1, reason=f"{HOSTILE} diverged")
    _trained(s)
    s.divergence = Divergence(step=3, epoch=1, reason=f"{HOSTILE} diverged")
    text = render_html(gather_report_data(s, torch=False), flavour=flavour)
    assert "<script" not in text.lower()
    assert "<img src=x" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&amp; &quot;quotes&quot; &#x27;too&#x27;" in text


def test_web_page_fetches_nothing(example_html):
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)""", example_html, flags=re.I)
    assert refs and all(r.startswith("data:") for r in refs)
    assert "@import" not in example_html and "url(" not in example_html
    assert "default-src 'none'" in example_html  # CSP: even a tampered copy cannot reach out


def test_untrained_session_says_so():
    data = gather_report_data(Session.report_example(), torch=False)
    assert not data.trained and data.final is None and data.loss_after is None
    text = render_html(data, plot_src="data:image/png;base64,AAAA")
    assert "No training run is recorded" in text
    assert "Figure 1." not in text


def test_large_K_truncates_matrices_and_skips_the_slow_check(monkeypatch):
    def boom(*args, **kwargs):  # pragma: no cover - the point is that it is not called
        raise AssertionError("the O(K⁴) check ran while exporting")

    monkeypatch.setattr(gradcheck, "finite_difference_check", boom)
    k = CHECK_MAX_K + 4
    s = Session.random(k, seed=5)
    data = gather_report_data(s)
    assert all(v.report is None and "Not run" in v.note for v in data.verifications)
    text = render_html(data)
    assert "⋯" in text and "⋮" in text
    assert f"A is {k}×{k}" in text
    # Only the shown block: the first rows and columns and the last of each, not all K².
    assert repr(s.model.A[0][0]) in text and repr(s.model.A[0][k - 1]) in text
    assert repr(s.model.A[0][SHOW_COLS - 1]) not in text
    assert repr(s.model.A[SHOW_ROWS - 2][0]) in text
    assert repr(s.model.A[SHOW_ROWS - 1][0]) not in text
    assert repr(s.model.A[k - 1][k - 1]) in text


def test_medium_K_lists_the_worst_entries():
    s = Session.random(6, seed=2)
    text = render_html(gather_report_data(s, torch=False))
    rows = re.findall(r"<td(?: class=\"last\")?>[ABC]\[\d\]\[\d\]</td>", text)
    assert 0 < len(rows) <= 8
    assert "disagree most" in text


def test_precomputed_verifications_are_used_as_given(example_trained, monkeypatch):
    x, A, B, C = (getattr(example_trained.initial, n) for n in ("x", "A", "B", "C"))
    report = gradcheck.finite_difference_check(Model(x, A, B, C))
    monkeypatch.setattr(gradcheck, "finite_difference_check", lambda *a, **k: pytest.fail("recomputed"))
    data = gather_report_data(example_trained, verifications=[report])
    assert [v.report for v in data.verifications] == [report]


def test_overflowing_model_is_reported_not_raised():
    s = Session.report_example()
    s.model.C[0][0] = 1e300
    s.initial = s.model.copy()
    data = gather_report_data(s, torch=False)
    assert data.initial_loss is None and data.verifications == ()
    assert "cannot be computed" in render_html(data)


def test_engine_module_imports_no_qt():
    code = "import sys, engine.report_data; print(sorted(m for m in sys.modules if m.split('.')[0] in "
    code += "{'PySide6', 'shiboken6', 'pyqtgraph', 'numpy', 'gui'}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_continued_run_says_whose_settings_are_shown():
    s = _trained(Session.report_example())
    _trained(s, TrainingSettings(learning_rate=0.02, batch_size=50, n_samples=100, epochs=1, seed=7))
    data = gather_report_data(s, torch=False)
    assert data.steps == 102 and data.planned_steps == 2
    text = render_html(data)
    assert "The history holds 102 steps and these settings plan 2" in text
    assert "<td>0.02</td>" in text
    single = render_html(gather_report_data(_trained(Session.report_example()), torch=False))
    assert "The history holds" not in single


def test_progress_reports_every_checked_entry_and_may_abandon_the_checks():
    calls: list[tuple[int, int]] = []
    gather_report_data(Session.report_example(), torch=False, progress=lambda d, t: calls.append((d, t)))
    assert calls and calls[-1] == (27, 27)  # 3 matrices × K² entries for K = 3

    class Stop(Exception):
        pass

    def stop(_done: int, _total: int) -> None:
        raise Stop

    with pytest.raises(Stop):  # the window's cancel: not swallowed as a "could not run" note
        gather_report_data(Session.report_example(), torch=False, progress=stop)
