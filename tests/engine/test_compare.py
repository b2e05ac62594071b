"""compare_answers: tolerances that follow the printed digits, a program's float32 numbers, the
worst entry, the loss, and the verdicts' shape."""

from __future__ import annotations

import math
import random

import pytest

from backprop_lab.engine.answers import Answers, PrintedMatrix, PrintedNumber
from backprop_lab.engine.compare import PRINTED_FLOOR, compare_answers, program_rtol, tolerances
from backprop_lab.engine.model import Model, model_loss_and_grads
from backprop_lab.engine.rounding import rounding_scales
from backprop_lab.engine.variant import ACTIVATIONS, Variant


def printed(text: str, line: int = 0) -> PrintedNumber:
    """A number as printed, one unit in its last digit (plain decimals only: the test's numbers)."""
    decimals = len(text.split(".")[1]) if "." in text else 0
    return PrintedNumber(float(text), 10.0**-decimals, line)


def matrix(name: str, rows: list[list[str]]) -> PrintedMatrix:
    return PrintedMatrix(name, tuple(tuple(printed(e) for e in row) for row in rows))


@pytest.fixture
def model(report_example: dict) -> Model:
    d = report_example["model"]
    return Model(d["x"], d["A"], d["B"], d["C"])


# The report's own two blocks (the seed report, lines 55–87): its full-precision numbers and what
# PyTorch printed, four decimals.
REPORT_FULL = {
    "A": [
        ["2.164841106297983", "2.6681140650967543", "1.2098228357464476"],
        ["2.1981558022807874", "2.7091736184596087", "1.2284407748869652"],
        ["2.1848830308131784", "2.69281525010984", "1.2210232780700203"],
    ],
    "B": [
        ["14.089372084700397", "13.535386460481702", "8.792896243733097"],
        ["14.306193146636476", "13.743682248855672", "8.928209946118045"],
        ["14.21981035611282", "13.660695977626299", "8.87430016860969"],
    ],
    "C": [
        ["14.65610661598256", "18.529402674179796", "18.78898960873385"],
        ["12.038309499435838", "15.219777671936383", "15.432998545805004"],
        ["11.676555948682925", "14.762420381467074", "14.969233926447846"],
    ],
}
REPORT_TORCH = {
    "A": [["2.1648", "2.6681", "1.2098"], ["2.1982", "2.7092", "1.2284"], ["2.1849", "2.6928", "1.2210"]],
    "B": [
        ["14.0894", "13.5354", "8.7929"],
        ["14.3062", "13.7437", "8.9282"],
        ["14.2198", "13.6607", "8.8743"],
    ],
    "C": [
        ["14.6561", "18.5294", "18.7890"],
        ["12.0383", "15.2198", "15.4330"],
        ["11.6766", "14.7624", "14.9692"],
    ],
}


@pytest.mark.parametrize(
    ("loss", "grads"), [("44.061213140343526", REPORT_FULL), ("44.0612", REPORT_TORCH)], ids=["full", "torch"]
)
def test_the_reports_own_numbers_agree(model: Model, loss: str, grads: dict) -> None:
    answers = Answers(printed(loss), {n: matrix(n, rows) for n, rows in grads.items()})
    comparison = compare_answers(model, answers)
    assert comparison.agree
    assert [v.name for v in comparison.verdicts] == ["loss", "A", "B", "C"]
    assert [v.entries for v in comparison.verdicts] == [1, 9, 9, 9]
    assert comparison.worst_cell is None
    assert all(v.diagnosis is None and v.disagreeing == () for v in comparison.verdicts)


# --------------------------------------------------------------------------- printed digits


def _one_entry(model: Model, text: str, i: int = 0, j: int = 0, name: str = "A"):
    """The comparison of the true ∂L/∂name (4 decimals) with entry [i][j] replaced by ``text``."""
    truth = model_loss_and_grads(model)[1][name]
    rows = [[f"{e:.4f}" for e in row] for row in truth]
    rows[i][j] = text
    return compare_answers(model, Answers(None, {name: matrix(name, rows)})).verdict(name)


@pytest.mark.parametrize(
    ("text", "agree"),
    [
        ("2.1648", True),  # rounded (2.164841…)
        ("2.1649", True),  # 0.6 units above: within one unit
        ("2.1647", False),  # 1.4 units below
        ("2.1650", False),  # 1.6 units away
        ("2.1646", False),
        ("2.16", True),  # two decimals: judged to two decimals
        ("2.17", True),
        ("2.15", False),
        ("2.18", False),
        ("2", True),  # a whole number is judged to 1: 2.1648 rounds to 2
        ("4", False),
    ],
)
def test_a_printed_number_is_judged_to_its_last_digit(model: Model, text: str, agree: bool) -> None:
    verdict = _one_entry(model, text)
    assert verdict.agree is agree
    assert verdict.disagreeing == (() if agree else ((0, 0),))


def test_full_precision_is_judged_no_finer_than_float32_can_compute(model: Model) -> None:
    truth = model_loss_and_grads(model)[1]["B"][0][0]
    near = repr(truth * (1 + 5e-8))  # float32's own rounding: agrees despite its 17 digits
    far = repr(truth * (1 + 1e-5))  # wrong in the 6th digit: disagrees
    assert _one_entry(model, near, name="B").agree
    assert not _one_entry(model, far, name="B").agree
    scale = rounding_scales(model).grads["B"][0][0]
    assert tolerances(model, Answers(None, {"B": matrix("B", [[near] * 3] * 3)}))[1]["B"][0][
        0
    ] == pytest.approx(PRINTED_FLOOR * scale)


def test_rtol_overrides_the_printed_digits(model: Model) -> None:
    truth = model_loss_and_grads(model)[1]["C"]
    off = {
        "C": PrintedMatrix("C", tuple(tuple(PrintedNumber(e * 1.005, 1e-4) for e in row) for row in truth))
    }
    assert not compare_answers(model, Answers(None, off)).agree
    assert compare_answers(model, Answers(None, off), rtol=1e-2).agree
    assert not compare_answers(model, Answers(None, off), rtol=1e-3).agree
    four = Answers(None, {n: matrix(n, rows) for n, rows in REPORT_TORCH.items()})
    assert compare_answers(model, four).agree
    assert not compare_answers(model, four, rtol=0).agree


@pytest.mark.parametrize("rtol", [-1e-3, math.nan, math.inf, True, "0.1"])
def test_a_bad_rtol_is_refused(model: Model, rtol: object) -> None:
    with pytest.raises(ValueError, match="rtol must be a finite number ≥ 0"):
        compare_answers(model, Answers(None, {}), rtol=rtol)  # type: ignore[arg-type]


def test_a_matrix_of_the_wrong_size_is_refused(model: Model) -> None:
    answers = Answers(None, {"B": matrix("B", [["1", "2", "3"], ["4", "5", "6"]])})
    with pytest.raises(ValueError, match=r"^∂L/∂B is 2×3; the model is 3×3$"):
        compare_answers(model, answers)


# --------------------------------------------------------------------------- the worst entry, the loss


def test_worst_is_furthest_outside_its_own_tolerance(model: Model) -> None:
    truth = model_loss_and_grads(model)[1]["A"]
    rows = [[f"{e:.4f}" for e in row] for row in truth]
    rows[0][1] = f"{truth[0][1] + 0.04:.1f}"  # off by 0.04 with one decimal: within its unit 0.1
    rows[2][0] = f"{truth[2][0] + 0.003:.4f}"  # off by 0.003: 30 of its units
    rows[1][2] = f"{truth[1][2] - 0.0008:.4f}"  # 8 units
    verdict = compare_answers(model, Answers(None, {"A": matrix("A", rows)})).verdict("A")
    assert not verdict.agree
    assert verdict.disagreeing == ((1, 2), (2, 0))
    worst = verdict.worst
    assert (worst.i, worst.j) == (2, 0)
    assert worst.student == float(rows[2][0]) and worst.truth == truth[2][0]
    largest = max(abs(v) for row in truth for v in row)  # relative to the matrix's largest entry
    assert worst.relative == pytest.approx(abs(worst.student - worst.truth) / largest)


def test_the_loss_gets_a_verdict_and_no_diagnosis(model: Model) -> None:
    loss = model_loss_and_grads(model)[0]
    assert compare_answers(model, Answers(printed("44.06"), {})).agree
    comparison = compare_answers(model, Answers(printed("88.1224"), {"A": matrix("A", REPORT_TORCH["A"])}))
    assert not comparison.agree
    verdict = comparison.verdict("loss")
    assert verdict is not None and not verdict.agree and verdict.diagnosis is None
    assert (verdict.entries, verdict.disagreeing) == (1, ((0, 0),))
    assert verdict.worst.truth == loss and verdict.worst.relative == pytest.approx(1.0, rel=1e-5)
    assert comparison.verdict("A").agree and comparison.verdict("B") is None
    assert comparison.worst_cell is None  # the loss has no cell


def test_worst_cell_is_the_first_disagreeing_matrix_worst_entry(model: Model) -> None:
    grads = {n: [row[:] for row in rows] for n, rows in REPORT_TORCH.items()}
    grads["B"][2][1] = "99.0000"
    grads["C"][0][0] = "0.0000"
    comparison = compare_answers(
        model, Answers(printed("44.0612"), {n: matrix(n, r) for n, r in grads.items()})
    )
    assert comparison.worst_cell == ("B", 2, 1)
    assert [v.agree for v in comparison.verdicts] == [True, True, False, False]


def test_a_zero_truth_agrees_with_zero_and_a_nan_never_agrees() -> None:
    # relu with a dead unit: ∂L/∂A's column for it is exactly 0, and a program's 0 (or −0) agrees.
    model = Model(
        [1.0, 0.5],
        [[0.3, -1.0], [0.2, -0.4]],
        [[0.1, 0.2], [0.3, 0.4]],
        [[0.5, -0.2], [0.7, 0.9]],
        Variant("relu"),
    )
    loss, truth = model_loss_and_grads(model)
    assert truth["A"][0][1] == 0.0
    dA = [row[:] for row in truth["A"]]
    dA[1][1] = -0.0
    assert compare_answers(model, Answers.from_values(loss, {"A": dA})).agree
    dA[1][1] = 1e-3
    verdict = compare_answers(model, Answers.from_values(loss, {"A": dA})).verdict("A")
    largest = max(abs(v) for row in truth["A"] for v in row)
    assert verdict.disagreeing == ((1, 1),) and verdict.worst.relative == pytest.approx(1e-3 / largest)
    dA[1][1] = math.nan
    verdict = compare_answers(model, Answers.from_values(None, {"A": dA})).verdict("A")
    assert not verdict.agree and verdict.worst.relative == math.inf
    assert verdict.diagnosis is not None and verdict.diagnosis.id == "unknown"


# --------------------------------------------------------------------------- a program's numbers


def _grading_like_models(seed: int, n: int) -> list[Model]:
    """Random models of every variant, K = 1 among them, a third with saturating weights."""
    rng = random.Random(seed)
    models = []
    for s in range(n):
        k = (1, 2, 3, 4, 5, 8)[s % 6]
        scale = (1.0, 3.0, 30.0)[s % 3]
        act = list(ACTIVATIONS)[s % len(ACTIVATIONS)]
        conv = ("row", "column")[(s // 5) % 2]
        target = tuple(rng.uniform(-3, 3) for _ in range(k)) if s % 4 == 0 else None

        def m(k: int = k, scale: float = scale) -> list[list[float]]:
            return [[rng.uniform(-scale, scale) for _ in range(k)] for _ in range(k)]

        models.append(
            Model([rng.uniform(-1, 1) for _ in range(k)], m(), m(), m(), Variant(act, conv, target))
        )
    return models


def _torch_program(torch, model: Model, factor: float = 1.0):
    """A correct student's PyTorch program: float32 autograd (times ``factor``: a slip)."""
    v = model.variant
    f = {
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "softplus": torch.nn.functional.softplus,
        "identity": lambda a: a,
    }[v.activation]
    x = torch.tensor(model.x, dtype=torch.float32)
    A, B, C = (torch.tensor(M, dtype=torch.float32, requires_grad=True) for M in (model.A, model.B, model.C))
    w = (f(x @ A) + x @ B) @ C if v.row else C @ (f(A @ x) + B @ x)
    if v.target is not None:
        w = w - torch.tensor(v.target, dtype=torch.float32)
    loss = (w**2).sum()
    loss.backward()
    grads = {n: (factor * M.grad).tolist() for n, M in zip("ABC", (A, B, C), strict=True)}
    return Answers.from_values(loss.item(), grads)


def test_a_correct_float32_pytorch_program_agrees_on_every_model() -> None:
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (optional extra)")
    for model in _grading_like_models(1, 240):
        comparison = compare_answers(model, _torch_program(torch, model))
        assert comparison.agree, (model.K, model.variant.describe(), comparison)


def _numpy_program(np, model: Model):
    """A correct student's NumPy program in float32, the chain rule by hand."""
    v = model.variant
    x, A, B, C = (np.asarray(m, dtype=np.float32) for m in (model.x, model.A, model.B, model.C))
    t = np.asarray(v.target_or_zero(model.K), dtype=np.float32)
    if not v.row:  # the column member is the row member on the transposes, gradients transposed
        A, B, C = A.T, B.T, C.T
    a = x @ A
    sig = {
        "sigmoid": (lambda a: 1 / (1 + np.exp(-a)), lambda y, a: y * (1 - y)),
        "tanh": (np.tanh, lambda y, a: 1 - y * y),
        "relu": (lambda a: np.maximum(a, 0), lambda y, a: (a > 0).astype(np.float32)),
        "softplus": (lambda a: np.logaddexp(np.float32(0), a), lambda y, a: 1 / (1 + np.exp(-a))),
        "identity": (lambda a: a, lambda y, a: np.ones_like(a)),
    }[v.activation]
    with np.errstate(over="ignore"):
        y = sig[0](a)
        dy = sig[1](y, a)
    z = y + x @ B
    w = z @ C
    dw = 2 * (w - t)
    g = C @ dw
    grads = {"A": np.outer(x, dy * g), "B": np.outer(x, g), "C": np.outer(z, dw)}
    if not v.row:
        grads = {n: m.T for n, m in grads.items()}
    return Answers.from_values(float(((w - t) ** 2).sum()), {n: m.tolist() for n, m in grads.items()})


def test_a_correct_float32_numpy_program_agrees_on_every_model() -> None:
    np = pytest.importorskip("numpy")
    for model in _grading_like_models(2, 240):
        comparison = compare_answers(model, _numpy_program(np, model))
        assert comparison.agree, (model.K, model.variant.describe(), comparison)


def test_a_float32_program_with_a_slip_is_caught_and_diagnosed(model: Model) -> None:
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (optional extra)")
    comparison = compare_answers(model, _torch_program(torch, model, factor=0.5))
    assert {v.name: v.diagnosis.id for v in comparison.verdicts if v.diagnosis} == dict.fromkeys(
        "ABC", "missing-factor-2"
    )
    comparison = compare_answers(model, _torch_program(torch, model, factor=-1.0))
    assert {v.diagnosis.id for v in comparison.verdicts if v.diagnosis} == {"sign-flipped"}


def test_program_tolerance_grows_with_k_as_float32_sums_do() -> None:
    assert program_rtol(1) == program_rtol(16) == 1e-5 < program_rtol(17)
    assert program_rtol(1024) == pytest.approx((4 * 1024 + 16) * 2.0**-23)
