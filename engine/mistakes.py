"""The mistakes this derivation invites, each computed from the model, and the diagnosis that
names the one reproducing a student's numbers.

The catalogue's ids are stable (printed with every diagnosis, kept in gradebooks):

``transposed``, ``other-convention``, ``missing-factor-2``, ``scaled``, ``sign-flipped``,
``activation-not-derivative``, ``derivative-at-input``, ``upstream-C-transposed``, ``dC-uses-y``,
``dB-has-derivative``, ``dA-dB-swapped``, and ``unknown`` when nothing fits.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MISTAKE_IDS", "UNKNOWN", "Diagnosis"]

UNKNOWN = "unknown"
MISTAKE_IDS = (
    "transposed",
    "other-convention",
    "missing-factor-2",
    "scaled",
    "sign-flipped",
    "activation-not-derivative",
    "derivative-at-input",
    "upstream-C-transposed",
    "dC-uses-y",
    "dB-has-derivative",
    "dA-dB-swapped",
    UNKNOWN,
)


@dataclass(frozen=True)
class Diagnosis:
    """What is wrong with one gradient: ``id`` (one of :data:`MISTAKE_IDS`), ``sentence`` (one
    sentence for the student, the factor stated for ``scaled``), ``correct`` (the correct line of
    the chain rule for that matrix, in the model's variant), ``factor`` (``scaled`` only)."""

    id: str
    sentence: str
    correct: str
    factor: float | None = None
