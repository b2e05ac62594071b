"""Backprop Lab's engine: the report's model, its gradients, checks, training and session files.

Standard library only; nothing here imports Qt (a contract in pyproject.toml and a test enforce it).
"""

from backprop_lab import __version__
from backprop_lab.engine.model import (
    MATRIX_NAMES,
    NumericalOverflowError,
    backward,
    forward,
    loss_and_grads,
    sigmoid,
    sigmoid_prime,
    validate_model,
)
from backprop_lab.engine.variant import ACTIVATIONS, CONVENTIONS, DEFAULT_VARIANT, Variant

__all__ = [
    "ACTIVATIONS",
    "CONVENTIONS",
    "DEFAULT_VARIANT",
    "MATRIX_NAMES",
    "NumericalOverflowError",
    "Variant",
    "__version__",
    "backward",
    "forward",
    "loss_and_grads",
    "sigmoid",
    "sigmoid_prime",
    "validate_model",
]
