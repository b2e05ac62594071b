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
from backprop_lab.engine.model import Model

Mode = Literal["forward", "backward"]
MODES: tuple[Mode, ...] = ("forward", "backward")

#: Every edge is drawn up to this K; beyond, only each unit's strongest few.
ALL_EDGES_UP_TO = 16
TOP_EDGES = 4

#: Geometry in scene units (the view scales to fit and zooms): the narrowest column spacing, unit
#: spacing, radius. Columns move apart as K grows (:func:`column_step`) so that a large network is
#: about as wide as it is tall, which is the shape of a dock and of a report's page.
COLUMN_STEP = 170.0
UNIT_STEP = 56.0
RADIUS = 15.0
MARGIN = 60.0
#: The number under a unit takes at most this much of the gap between two units (scene units).
NUMBER_ROOM = UNIT_STEP - 2 * RADIUS - 2.0

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
class Link:
    """A fixed connection that is no weight: a_j → σ(a)_j, σ(a)_j → z_j, u_j → z_j, w_j → L.

    ``operation`` names what it carries out ("σ", "+" or "‖·‖²"): the painter draws these thin and
    quiet, so that the weights stay what the eye follows."""

    source: str
    target: str
    x1: float
    y1: float
    x2: float
    y2: float
    operation: str


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
    links: tuple[Link, ...] = ()

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


def column_step(k: int) -> float:
    """The distance between two columns at ``k`` units a column."""
    return max(COLUMN_STEP, 36.0 * k)


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


def _column_x(kind: str, k: int) -> float:
    return MARGIN + _COLUMN_X[kind] * column_step(k)


def _upstream(model: Model, ev: Evaluation) -> dict[str, list[float]]:
    """∂L/∂unit for every unit column, from the backward pass the evaluation already made."""
    v = model.variant
    g = ev.upstream["g"]  # ∂L/∂z = ∂L/∂y = ∂L/∂u
    sigma_prime = v.sigma.derivative
    da = [sigma_prime(a) * gj for a, gj in zip(ev.values["a"], g, strict=True)]
    # ∂L/∂x_i: every edge out of x_i, through a (σ′ applied) and through u.
    k = model.K
    A, B = model.A, model.B
    if v.row:
        dx = [sum(A[i][j] * da[j] + B[i][j] * g[j] for j in range(k)) for i in range(k)]
    else:
        dx = [sum(A[j][i] * da[j] + B[j][i] * g[j] for j in range(k)) for i in range(k)]
    return {"x": dx, "a": da, "y": g, "u": g, "z": g, "w": ev.upstream["dw"]}


def _edge_ends(convention_row: bool, i: int, j: int) -> tuple[int, int]:
    """(input index, unit index) of entry [i][j]: row vectors read i → j, column vectors j → i."""
    return (i, j) if convention_row else (j, i)


def network_picture(model: Model, ev: Evaluation, mode: Mode = "forward") -> NetworkPicture:
    """The picture of ``model`` evaluated as ``ev`` (its values and gradients) in ``mode``."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected forward or backward")
    k = model.K
    values = {"x": model.x, **{key: ev.values.get(key, [0.0] * k) for key in ("a", "y", "u", "z", "w")}}
    # ∂L/∂unit only where it is shown: a forward picture at a live showing needs none of it.
    if mode == "backward" and ev.upstream:
        grads = _upstream(model, ev)
    else:
        grads = {key: [0.0] * k for key in values}
    loss = ev.loss if ev.loss is not None else math.nan
    nodes: list[Node] = []
    for kind, _title in COLUMNS:
        if kind == "L":
            nodes.append(
                Node("L", 0, _column_x("L", k), _unit_y("L", 0, k), loss, loss if mode == "forward" else 1.0)
            )
            continue
        for index in range(k):
            value = values[kind][index]
            shown = value if mode == "forward" else grads[kind][index]
            nodes.append(Node(kind, index, _column_x(kind, k), _unit_y(kind, index, k), value, shown))
    edges = _edges(model, ev, mode)
    captions = _captions(model, k)
    operations = _operations(model, k)
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
    width = _column_x("L", k) + MARGIN + 40.0
    return NetworkPicture(
        mode,
        k,
        width,
        height,
        tuple(nodes),
        tuple(edges),
        operations,
        captions,
        node_scale,
        edge_scale,
        note,
        _links(k),
    )


def _links(k: int) -> tuple[Link, ...]:
    def link(src: str, si: int, dst: str, di: int, op: str) -> Link:
        x1, y1 = _column_x(src, k) + RADIUS, _unit_y(src, si, k)
        x2, y2 = _column_x(dst, k) - RADIUS, _unit_y(dst, di, k)
        return Link(f"{src}{si}", "L" if dst == "L" else f"{dst}{di}", x1, y1, x2, y2, op)

    out: list[Link] = []
    for j in range(k):
        out += [link("a", j, "y", j, "σ"), link("y", j, "z", j, "+"), link("u", j, "z", j, "+")]
        out.append(link("w", j, "L", 0, "‖·‖²"))
    return tuple(out)


def chain_path(pic: NetworkPicture, cell: tuple[str, int, int]) -> tuple[set[tuple[str, int, int]], set[str]]:
    """The edges and units the chain rule of ∂L/∂``cell`` runs through (``cell`` = matrix, i, j).

    For A[i][j] (row convention, x_i → a_j): the edge, a_j and σ(a)_j (the σ′ factor), z_j, the
    upstream sum over the C edges out of z_j, every w they reach and L. For B the same without σ;
    for C the edge, its z and w, and L. KeyError for an entry the picture does not have.
    """
    edge = pic.edge(*cell)
    nodes = {edge.source, edge.target, "L"}
    edges = {cell}
    z = edge.target.replace("a", "y").replace("u", "z") if edge.matrix != "C" else edge.source
    if edge.matrix == "A":
        nodes.add(z)
        z = "z" + z[1:]
    nodes.add(z)
    if edge.matrix == "C":
        return edges, nodes
    for e in pic.edges:
        if e.matrix == "C" and e.source == z:
            edges.add((e.matrix, e.i, e.j))
            nodes.add(e.target)
    return edges, nodes


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
                        _column_x(src_kind, k) + RADIUS,
                        _unit_y(src_kind, src, k),
                        _column_x(dst_kind, k) - RADIUS,
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
    a, u, w = model.variant.products
    texts = {
        "x": "x (input)",
        "a": f"a = {a}",
        "y": "y = σ(a)",
        "z": "z = y + u",
        "w": f"w = {w}",
        "L": "L = Σ (w − t)²" if model.variant.target is not None else "L = Σ w²",
    }
    top = MARGIN
    captions = [Caption(text, _column_x(kind, k), top) for kind, text in texts.items()]
    # Under the skip's units: above them, the "+" between the branches would cover it.
    captions.append(Caption(f"u = {u} (skip)", _column_x("u", k), _unit_y("u", k - 1, k) + UNIT_STEP))
    return tuple(captions)


def _operations(model: Model, k: int) -> tuple[Operation, ...]:
    # Each operation sits on the links it acts on, halfway between the columns it joins: σ in the
    # middle of the a → σ(a) links, + between the two branches and z, ‖·‖² on the way into L.
    def between(left: str, right: str) -> float:
        return (_column_x(left, k) + _column_x(right, k)) / 2

    middle_a = (_unit_y("a", 0, k) + _unit_y("a", k - 1, k)) / 2
    return (
        Operation(f"σ = {model.variant.activation}", between("a", "y"), middle_a),
        Operation("+", between("y", "z"), (_unit_y("y", k - 1, k) + _unit_y("u", 0, k)) / 2),
        Operation("‖·‖²", between("w", "L"), _unit_y("L", 0, k)),
    )
