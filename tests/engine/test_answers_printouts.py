"""Reading what PyTorch and NumPy really print (issue 16): each number read is the true one to within
half a unit of its last printed digit, whatever the dtype, scale or K. Skipped without torch/numpy."""

from __future__ import annotations

import pytest

from backprop_lab.engine.answers import Answers, parse_answers


def assert_printed(answers: Answers, loss: float, grads: dict[str, list[list[float]]]) -> None:
    """Each number read is the true one to within half a unit of its last printed digit."""
    assert answers.loss is not None and abs(answers.loss.value - loss) <= answers.loss.unit / 2 * 1.000001
    assert set(answers.grads) == set(grads)
    for name, m in answers.grads.items():
        for row, true_row in zip(m.rows, grads[name], strict=True):
            for n, true in zip(row, true_row, strict=True):
                assert n.unit is not None and abs(n.value - true) <= n.unit / 2 * 1.000001 + 1e-300, (
                    name,
                    n,
                    true,
                )


@pytest.mark.parametrize("scale", [1.0, 1e-5, 1e6])
@pytest.mark.parametrize("k", [1, 3, 5])
def test_what_pytorch_really_prints(k, scale):
    torch = pytest.importorskip("torch")
    generator = torch.Generator().manual_seed(k)
    for dtype in (torch.float32, torch.float64):
        x = torch.randn(1, k, generator=generator, dtype=dtype)
        A, B, C = (torch.randn(k, k, generator=generator, dtype=dtype).requires_grad_() for _ in range(3))
        loss = (((torch.sigmoid(x @ A) + x @ B) @ C) ** 2).sum() * scale
        loss.backward()
        grads = {n: t.grad.tolist() for n, t in zip("ABC", (A, B, C), strict=True)}
        # The ways a program prints them: labelled, as print("dA", …) does, and a returned tuple.
        texts = [
            f"Loss = {loss}\ndL/dA = {A.grad}\ndL/dB:\n{B.grad}\nC.grad {C.grad}\n",
            f"{loss}\n{A.grad}\n{B.grad}\n{C.grad}\n",
            str((loss, A.grad, B.grad, C.grad)),
        ]
        for text in texts:
            assert_printed(parse_answers(text, k), loss.item(), grads)


@pytest.mark.parametrize("scale", [1.0, 1e-9, 1e7])
def test_what_numpy_really_prints(scale):
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(3)
    for dtype in (np.float32, np.float64):
        grads = {n: (rng.standard_normal((3, 3)) * scale).astype(dtype) for n in "ABC"}
        loss = dtype(rng.random() * 50)
        true = {n: g.astype(float).tolist() for n, g in grads.items()}
        texts = [
            f"loss: {loss}\n" + "".join(f"grad_{n}\n{g}\n" for n, g in grads.items()),
            f"{loss!r}\n" + "\n".join(repr(g) for g in grads.values()),
            "\n\n".join(
                ["\n".join(" ".join(repr(float(v)) for v in row) for row in g) for g in grads.values()]
            )
            + f"\n\n{float(loss)}",
        ]
        for text in texts:
            assert_printed(parse_answers(text, 3), float(loss), true)
