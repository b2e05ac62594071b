"""The plain-list shapes the engine passes around: a K-vector and a K×K matrix (a list of rows).

Their own module so that the generated kernels (:mod:`engine.kernels`), which :mod:`engine.model`
calls for one sample's gradients, need nothing from the model module itself.
"""

from __future__ import annotations

from typing import TypeAlias

Vector: TypeAlias = list[float]
Matrix: TypeAlias = list[list[float]]
