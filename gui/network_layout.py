"""Where the network view draws what: the model as a graph, in plain Python (no Qt).

Columns of units, left to right::

    x ──A──▶ a ─σ─▶ y ─┐
     ╲                  + ─▶ z ──C──▶ w ─‖·‖²─▶ L
      ╲──────B──────▶ u ┘            (the B branch is the skip, drawn below the σ branch)

Every unit is a :class:`Node` with its value in forward mode and ∂L/∂(unit) in backward mode;
every weight is an :class:`Edge` from the unit it reads to the unit it feeds, whose indices are
the matrix entry's (row convention: ``A[i][j]`` from x_i to a_j; column convention: from x_j to
a_i). Up to :data:`ALL_EDGES_UP_TO` units a column every edge is drawn; beyond, each unit keeps its
:data:`TOP_EDGES` strongest incoming edges (by |weight| forward, |gradient| backward) and the rest
are marked ``strong=False`` (drawn faded). One picture serves the window, the SVG/PNG export and
the reports, which all paint it with :mod:`gui.network_paint`.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Literal

from backprop_lab.engine.evaluation import Evaluation
from backprop_lab.engine.model import ForwardValues, Model, backward

Mode = Literal["forward", "backward"]
MODES: tuple[Mode, ...] = ("forward", "backward")

#: Every edge is drawn up to this K; beyond, only each unit's strongest few.
ALL_EDGES_UP_TO = 16
TOP_EDGES = 4

#: Geometry in scene units (the view scales to fit and zooms): column spacing, unit spacing, radius.
COLUMN_STEP = 170.0
UNIT_STEP = 46.0
RADIUS = 17.0
MARGIN = 60.0

#: The unit columns in forward order: (key, title). "y" is σ(a).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("x", "x"),
    ("a", "a"),
    ("y", "σ(a)"),
    ("u", "u"),
    ("z", "z"),
    ("w", "w"),
    ("L", "L"),
)
#: The column (0-based position from the left) of each unit kind; u sits under σ(a), a skip.
_COLUMN_X = {"x": 0, "a": 1, "y": 2, "u": 2, "z": 3, "w": 4, "L": 5}


@dataclass(frozen=True)
class Node:
    """One unit: ``kind`` ("x", "a", "y", "u", "z", "w" or "L"), its index, centre and number."""

    kind: str
    index: int
    x: float
    y: float
    value: float
    #: The number shown and coloured: the value (forward) or ∂L/∂unit (backward).
    shown: float

    @property
    def key(self) -> str:
        return self.kind if self.kind == "L" else f"{self.kind}{self.index}"


@dataclass(frozen=True)
class Edge:
    """One weight ``matrix[i][j]`` drawn from ``source`` to ``target`` (node keys)."""

    matrix: str
    i: int
    j: int
    source: str
    target: str
    x1: float
    y1: float
    x2: float
    y2: float
    weight: float
    gradient: float
    #: False when K is past ALL_EDGES_UP_TO and this is not one of the unit's strongest edges.
    strong: bool = True

    def shown(self, mode: Mode) -> float:
        """The number that colours this edge in ``mode``: the weight, or ∂L/∂weight."""
        return self.weight if mode == "forward" else self.gradient


@dataclass(frozen=True)
class Operation:
    """A labelled operation between columns (σ, +, ‖·‖²) at (x, y)."""

    label: str
    x: float
    y: float


@dataclass(frozen=True)
class Caption:
    """A column's formula, written above it, in the variant's convention."""

    text: str
    x: float
    y: float


@dataclass(frozen=True)
class NetworkPicture:
    """Everything to paint, in scene units (0, 0)–(width, height)."""

    mode: Mode
    K: int
    width: float
    height: float
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    operations: tuple[Operation, ...]
    captions: tuple[Caption, ...]
    #: Colour scales (largest |number| shown) of the nodes and of the edges in this mode.
    node_scale: float
    edge_scale: float
    #: A sentence for the screen when some edges are faded; "" when all are drawn.
    note: str

    def node(self, key: str) -> Node:
        for n in self.nodes:
            if n.key == key:
                return n
        raise KeyError(key)

    def edge(self, matrix: str, i: int, j: int) -> Edge:
        for e in self.edges:
            if e.matrix == matrix and e.i == i and e.j == j:
                return e
        raise KeyError((matrix, i, j))


def _unit_y(kind: str, index: int, k: int) -> float:
    # The σ branch (a, y) takes the upper band, the skip (u) the lower; x, z, w sit between.
    band = k * UNIT_STEP
    top = MARGIN + 40.0
    if kind in ("a", "y"):
        return top + (index + 0.5) * UNIT_STEP
    if kind == "u":
        return top + band + UNIT_STEP + (index + 0.5) * UNIT_STEP
    if kind == "L":
        return top + band + UNIT_STEP / 2
    return top + band / 2 + UNIT_STEP / 2 + (index + 0.5) * UNIT_STEP


def _column_x(kind: str) -> float:
    return MARGIN + _COLUMN_X[kind] * COLUMN_STEP


def _upstream(model: Model, ev: Evaluation) -> dict[str, list[float]]:
    """∂L/∂unit for every unit column, from the evaluation's forward values (engine.model.backward)."""
    v = model.variant
    forward_values: ForwardValues = {
        "a": ev.values["a"],
        "y": ev.values["y"],
        "u": ev.values["u"],
        "z": ev.values["z"],
        "w": ev.values["w"],
        "loss": ev.loss if ev.loss is not None else math.nan,
    }
    back = backward(model.x, model.C, forward_values, v)
    g = back["g"]  # ∂L/∂z = ∂L/∂y = ∂L/∂u
    sigma_prime = v.sigma.derivative
    da = [sigma_prime(a) * gj for a, gj in zip(ev.values["a"], g, strict=True)]
    # ∂L/∂x_i: every edge out of x_i, through a (σ′ applied) and through u.
    k = model.K
    A, B = model.A, model.B
    if v.row:
        dx = [sum(A[i][j] * da[j] + B[i][j] * g[j] for j in range(k)) for i in range(k)]
    else:
        dx = [sum(A[j][i] * da[j] + B[j][i] * g[j] for j in range(k)) for i in range(k)]
    return {"x": dx, "a": da, "y": g, "u": g, "z": g, "w": back["dw"]}


def _edge_ends(convention_row: bool, i: int, j: int) -> tuple[int, int]:
    """(input index, unit index) of entry [i][j]: row vectors read i → j, column vectors j → i."""
    return (i, j) if convention_row else (j, i)


def network_picture(model: Model, ev: Evaluation, mode: Mode = "forward") -> NetworkPicture:
    """The picture of ``model`` evaluated as ``ev`` (its values and gradients) in ``mode``."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected forward or backward")
    k = model.K
    values = {"x": model.x, **{key: ev.values.get(key, [0.0] * k) for key in ("a", "y", "u", "z", "w")}}
    grads = _upstream(model, ev) if ev.values else {key: [0.0] * k for key in values}
    loss = ev.loss if ev.loss is not None else math.nan
    nodes: list[Node] = []
    for kind, _title in COLUMNS:
        if kind == "L":
            nodes.append(
                Node("L", 0, _column_x("L"), _unit_y("L", 0, k), loss, loss if mode == "forward" else 1.0)
            )
            continue
        for index in range(k):
            value = values[kind][index]
            shown = value if mode == "forward" else grads[kind][index]
            nodes.append(Node(kind, index, _column_x(kind), _unit_y(kind, index, k), value, shown))
    edges = _edges(model, ev, mode)
    captions = _captions(model, k)
    operations = _operations(k)
    node_scale = max((abs(n.shown) for n in nodes if n.kind != "L" and n.shown == n.shown), default=0.0)
    edge_scale = max((abs(e.shown(mode)) for e in edges), default=0.0)
    faded = sum(1 for e in edges if not e.strong)
    basis = "|weight|" if mode == "forward" else "|gradient|"
    note = (
        f"K = {k}: the {TOP_EDGES} largest {basis} into each unit are drawn; {faded} weaker edges faded"
        if faded
        else ""
    )
    height = _unit_y("u", k - 1, k) + UNIT_STEP + MARGIN
    width = _column_x("L") + MARGIN + 40.0
    return NetworkPicture(
        mode, k, width, height, tuple(nodes), tuple(edges), operations, captions, node_scale, edge_scale, note
    )


def _edges(model: Model, ev: Evaluation, mode: Mode) -> tuple[Edge, ...]:
    k = model.K
    row = model.variant.row
    plan = (("A", "x", "a"), ("B", "x", "u"), ("C", "z", "w"))
    edges: list[Edge] = []
    for matrix, src_kind, dst_kind in plan:
        weights = model.matrix(matrix)
        grad = ev.grads.get(matrix)
        for i in range(k):
            for j in range(k):
                src, dst = _edge_ends(row, i, j)
                edges.append(
                    Edge(
                        matrix,
                        i,
                        j,
                        f"{src_kind}{src}",
                        f"{dst_kind}{dst}",
                        _column_x(src_kind) + RADIUS,
                        _unit_y(src_kind, src, k),
                        _column_x(dst_kind) - RADIUS,
                        _unit_y(dst_kind, dst, k),
                        weights[i][j],
                        grad[i][j] if grad else 0.0,
                    )
                )
    if k <= ALL_EDGES_UP_TO:
        return tuple(edges)
    return tuple(_mark_strongest(edges, mode))


def _mark_strongest(edges: list[Edge], mode: Mode) -> list[Edge]:
    by_target: dict[str, list[int]] = {}
    for n, e in enumerate(edges):
        by_target.setdefault(e.target, []).append(n)
    strong: set[int] = set()
    for members in by_target.values():
        strong.update(heapq.nlargest(TOP_EDGES, members, key=lambda n: abs(edges[n].shown(mode))))
    return [
        e
        if n in strong
        else Edge(e.matrix, e.i, e.j, e.source, e.target, e.x1, e.y1, e.x2, e.y2, e.weight, e.gradient, False)
        for n, e in enumerate(edges)
    ]


def _captions(model: Model, k: int) -> tuple[Caption, ...]:
    row = model.variant.row
    sigma = model.variant.activation
    texts = {
        "x": "x (input)",
        "a": "a = xA" if row else "a = Ax",
        "y": f"σ(a), σ = {sigma}",
        "z": "z = σ(a) + u",
        "w": "w = zC" if row else "w = Cz",
        "L": "L = Σ (w − t)²" if model.variant.target is not None else "L = Σ w²",
    }
    top = MARGIN
    captions = [Caption(text, _column_x(kind), top) for kind, text in texts.items()]
    captions.append(
        Caption("u = xB (skip)" if row else "u = Bx (skip)", _column_x("u"), _unit_y("u", 0, k) - UNIT_STEP)
    )
    return tuple(captions)


def _operations(k: int) -> tuple[Operation, ...]:
    mid_ay = (_column_x("a") + _column_x("y")) / 2
    return (
        Operation("σ", mid_ay, MARGIN + 22.0),
        Operation("+", (_column_x("y") + _column_x("z")) / 2, _unit_y("z", 0, k) - UNIT_STEP / 2),
        Operation("‖·‖²", (_column_x("w") + _column_x("L")) / 2, _unit_y("L", 0, k) - UNIT_STEP / 2),
    )
