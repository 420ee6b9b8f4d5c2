"""The network drawn by matplotlib, for machines without Graphviz's `dot` (nndl.drawing picks).

The layout is a small layered drawing in the manner of dot's. Groups sit in rows by the
evaluation order: a group one row below the lowest of the sources it reads at once, inputs at the
top, outputs at the bottom. Every connection's label is an item of its own in the gap between
the rows it joins, so that no label can cover a box or another label; a connection that skips
rows passes the rows between beside their boxes; one that goes back in the evaluation order (a
delayed connection on a cycle) is laid out as if it went forward and drawn upwards, curved; a
group's connections to itself are loops on its right, labelled beside them. Within each row the
items are ordered by the mean position of their neighbours (fewer crossings), then placed as
near that mean as their widths allow.

Texts, colours, line widths and the caption come from nndl.drawing.labels, as for Graphviz.
All lengths here are in inches; y grows downwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path as CurvePath
from matplotlib.textpath import TextToPath

from nndl import ir
from nndl.drawing import labels

FONT = "DejaVu Sans"  # bundled with matplotlib: the same metrics everywhere
NODE_SIZES = {"b": 10.5, "": 9.0, "s": 8.0}  # points, by nndl.drawing's line style
EDGE_SIZES = {"b": 8.5, "": 8.0, "s": 7.5}
LEADING = 1.3  # line height / font size
PAD = 0.08  # inside a box, around its text
ROW_GAP = 0.16  # between a row of boxes and a row of labels
MIN_GAP = 0.25  # the least height of the gap between two rows of boxes
ITEM_GAP = 0.22  # between neighbours in a row
DUMMY_WIDTH = 0.12  # the room a connection takes where it passes a row of boxes
LOOP_WIDTH = 0.3  # how far a self-loop reaches out of its box
FRAME = 0.1  # around the groups computed neuron by neuron
MARGIN = 0.25
SWEEPS = 6
EXCHANGE_LIMIT = 150  # pieces of curves up to which crossings are counted and removed
_MEASURE = TextToPath()


@dataclass
class Text:
    """Lines of (style, text) with their font sizes, measured."""

    lines: list[tuple[str, str]]
    sizes: dict[str, float]
    width: float = 0.0
    height: float = 0.0

    def __post_init__(self):
        widths = [_MEASURE.get_text_width_height_descent(text, self.font(style),
                                                         ismath=False)[0]
                  for style, text in self.lines]
        self.width = max(widths, default=0.0) / 72
        self.height = sum(self.sizes[style] * LEADING for style, _ in self.lines) / 72

    def font(self, style: str) -> FontProperties:
        return FontProperties(family=FONT, size=self.sizes[style],
                              weight="bold" if style == "b" else "normal")

    def draw(self, ax, x: float, top: float, colour: str) -> None:
        """Each line centred on x, the first one's top at `top`."""
        for style, text in self.lines:
            size = self.sizes[style]
            ax.text(x, top + size * (LEADING - 1) / 2 / 72, text, ha="center", va="top",
                    fontproperties=self.font(style), color=colour, parse_math=False, zorder=4)
            top += size * LEADING / 72


@dataclass
class Item:
    """Something that takes room in a row: a group's box (with its loops and their labels),
    a connection's label, or the place where a connection passes a row of boxes."""

    row: int
    left: float  # from its centre to its left edge
    right: float
    height: float
    neighbours: list = field(default_factory=list)  # keys of the items its curves join
    x: float = 0.0


@dataclass
class Route:
    """A connection's way down the rows: the keys of the items it passes, top to bottom;
    `upwards` when it is drawn from the bottom end to the top one."""

    index: int  # of its projection
    projection: ir.Projection
    row: object  # its nndl.summary.ProjectionRow
    keys: list
    upwards: bool = False


def group_rows(spec: ir.Network) -> dict[str, int]:
    """Each group's row: 0 for a group with no source read at once (inputs), else one below its
    lowest such source; outputs that feed no later group move to the last row."""
    rank = {g.name: i for i, g in enumerate(spec.groups)}
    row: dict[str, int] = {}
    for g in spec.groups:  # evaluation order: each group's sources before it
        row[g.name] = max((row[p.src] + 1 for p in spec.projections
                           if p.dst == g.name and rank[p.src] < rank[g.name]), default=0)
    last = max(row.values(), default=0)
    for g in spec.outputs:
        if not any(p.src == g.name and rank[p.dst] > rank[g.name] for p in spec.projections):
            row[g.name] = last
    return row


class Layout:
    """Where every box, label and curve goes."""

    def __init__(self, summary, cyclic: set[str]):
        spec = self.spec = summary.spec
        self.cyclic, self.rows = cyclic, summary.projections
        self.boxes = {g.name: Text(labels.node_text(spec, g), NODE_SIZES) for g in spec.groups}
        self.labels = [Text(labels.edge_text(p, r), EDGE_SIZES)
                       for p, r in zip(spec.projections, summary.projections)]
        self.framed = {name for step in spec.schedule if step.neuron_level
                       for name in step.groups}
        self.caption = Text([("", "computed neuron by neuron"),
                             ("", "(levels of its delay-0 synapses)")], EDGE_SIZES)
        self.items: dict[object, Item] = {}
        self.loops: dict[str, list[int]] = {g.name: [] for g in spec.groups}
        self.routes: list[Route] = []
        rows = group_rows(spec)
        for g in spec.groups:
            self.items["g", g.name] = self._box_item(g.name, 2 * rows[g.name])
        for i, (p, r) in enumerate(zip(spec.projections, summary.projections)):
            if p.src == p.dst:
                self.loops[p.src].append(i)
            else:
                self.routes.append(self._route(i, p, r, rows))
        for name, indices in self.loops.items():  # the loops' labels widen the box's room
            if indices:
                item = self.items["g", name]
                item.right += LOOP_WIDTH + max(self.labels[i].width for i in indices) + 3 * PAD
                item.height = max(item.height, self._loop_labels_height(name))
        self.order = self._ordered()
        self._place()
        self.row_top, self.height = self._row_tops()

    # ---- the items ----

    def box_size(self, name: str) -> tuple[float, float]:
        text = self.boxes[name]
        return text.width + 2 * PAD + 0.1, text.height + 2 * PAD

    def _box_item(self, name: str, row: int) -> Item:
        width, height = self.box_size(name)
        extra = FRAME if name in self.framed else 0.0
        top = self.caption.height + FRAME if name in self.framed else 0.0
        return Item(row, width / 2 + extra, width / 2 + extra, height + 2 * extra + top)

    def _loop_labels_height(self, name: str) -> float:
        return sum(self.labels[i].height + 2 * PAD for i in self.loops[name])

    def _route(self, i: int, p: ir.Projection, r, rows: dict[str, int]) -> Route:
        top, bottom = sorted((p.src, p.dst), key=lambda name: rows[name])
        upwards = rows[p.src] > rows[p.dst] or (rows[p.src] == rows[p.dst] and p.src != top)
        first, last = 2 * rows[top], 2 * rows[bottom]
        label_row = first + 1 + 2 * max(0, (last - first - 2) // 4)
        keys = [("g", top)]
        for row in range(first + 1, max(last, first + 2)):
            key = ("l", i) if row == label_row else ("d", i, row)
            self.items[key] = (Item(row, *(2 * [self.labels[i].width / 2 + PAD]),
                                    self.labels[i].height + 2 * PAD) if key[0] == "l"
                               else Item(row, DUMMY_WIDTH / 2, DUMMY_WIDTH / 2, 0.0))
            keys.append(key)
        keys.append(("g", bottom))
        for a, b in zip(keys, keys[1:]):
            self.items[a].neighbours.append(b)
            self.items[b].neighbours.append(a)
        return Route(i, p, r, keys, upwards)

    # ---- order within the rows, then places ----

    def _ordered(self) -> list[list]:
        rows: dict[int, list] = {}
        for key, item in self.items.items():  # groups in evaluation order, then the rest
            rows.setdefault(item.row, []).append(key)
        order = [rows.get(r, []) for r in range(max(rows) + 1)]
        for sweep in range(SWEEPS):
            downwards = sweep % 2 == 0
            for r in (range(1, len(order)) if downwards else range(len(order) - 2, -1, -1)):
                near = {key: i for i, key in enumerate(order[r - 1 if downwards else r + 1])}
                now = {key: i for i, key in enumerate(order[r])}
                order[r] = sorted(order[r], key=lambda key: (self._centre(key, near, now[key]),
                                                             now[key]))
        pieces = self._segments()
        if len(pieces) <= EXCHANGE_LIMIT:
            self._exchange(order, pieces)
        return order

    def _segments(self) -> list[tuple]:
        """The pieces of the routes from one row to the next, as (upper key, lower key)."""
        pieces = []
        for route in self.routes:
            for a, b in zip(route.keys, route.keys[1:]):
                pieces.append((a, b) if self.items[a].row < self.items[b].row else (b, a))
        return pieces

    def _crossings(self, order: list[list], pieces: list[tuple], rows: range) -> int:
        """How many pairs of pieces cross below the rows `rows`."""
        place = {key: i for row in order for i, key in enumerate(row)}
        gaps: dict[int, list[tuple[int, int]]] = {}
        for upper, lower in pieces:
            if self.items[upper].row in rows:
                gaps.setdefault(self.items[upper].row, []).append((place[upper], place[lower]))
        return sum((a1 - a2) * (b1 - b2) < 0 for pieces in gaps.values()
                   for k, (a1, b1) in enumerate(pieces) for a2, b2 in pieces[k + 1:])

    def _exchange(self, order: list[list], pieces: list[tuple]) -> None:
        """Swap neighbours in a row while that removes crossings (after the mean positions,
        which leave some)."""
        improved = True
        while improved:
            improved = False
            for r, row in enumerate(order):
                near = range(r - 1, r + 1)  # the gaps above and below row r
                for i in range(len(row) - 1):
                    before = self._crossings(order, pieces, near)
                    row[i], row[i + 1] = row[i + 1], row[i]
                    if self._crossings(order, pieces, near) < before:
                        improved = True
                    else:
                        row[i], row[i + 1] = row[i + 1], row[i]

    def _centre(self, key, positions: dict, own: int) -> float:
        """The mean position of the item's neighbours in `positions` (its own place if none)."""
        found = [positions[n] for n in self.items[key].neighbours if n in positions]
        return sum(found) / len(found) if found else float(own)

    def _place(self) -> None:
        for row in self.order:  # packed first, each row centred on 0
            self._pack(row, None)
        for sweep in range(SWEEPS * 2):
            rows = self.order if sweep % 2 == 0 else self.order[::-1]
            for row in rows:
                wanted = []
                for key in row:
                    xs = [self.items[n].x for n in self.items[key].neighbours]
                    wanted.append(sum(xs) / len(xs) if xs else self.items[key].x)
                self._pack(row, wanted)
        left = min(self.items[row[0]].x - self.items[row[0]].left for row in self.order if row)
        for item in self.items.values():
            item.x += MARGIN - left
        self.width = max(self.items[row[-1]].x + self.items[row[-1]].right
                         for row in self.order if row) + MARGIN

    def _pack(self, row: list, wanted: list[float] | None) -> None:
        """Centres as near `wanted` as the order and the widths allow (least squares); with
        None, packed tight around 0."""
        offsets, offset = [], 0.0
        for i, key in enumerate(row):
            if i:
                offset += self.items[row[i - 1]].right + ITEM_GAP + self.items[key].left
            offsets.append(offset)
        if wanted is None:
            wanted = [o - offsets[-1] / 2 for o in offsets]
        shifted = _nondecreasing([w - o for w, o in zip(wanted, offsets)])
        for key, z, o in zip(row, shifted, offsets):
            self.items[key].x = z + o

    def _row_tops(self) -> tuple[list[float], float]:
        """Each row's top, and the height of them all: a row is as tall as its tallest item,
        a gap between rows of boxes at least MIN_GAP (room for the curves to turn)."""
        self.row_height = [max([self.items[key].height for key in row]
                               + [MIN_GAP if r % 2 else 0.0]) for r, row in enumerate(self.order)]
        tops, y = [], MARGIN
        for height in self.row_height:
            tops.append(y)
            y += height + ROW_GAP
        return tops, y

    def centre_y(self, key) -> float:
        row = self.items[key].row
        return self.row_top[row] + self.row_height[row] / 2

    def box(self, name: str) -> tuple[float, float, float, float]:
        """(left, top, width, height) of the group's box: centred in its row, below the caption
        of its frame if it has one."""
        width, height = self.box_size(name)
        shift = (self.caption.height + FRAME) / 2 if name in self.framed else 0.0
        return (self.items["g", name].x - width / 2, self.centre_y(("g", name)) - height / 2
                + shift, width, height)

    def label_places(self) -> dict[int, tuple[float, float]]:
        """The centre of each connection's label, by projection index: in its gap row, or for
        a loop beside the loop, the labels of one box's loops stacked."""
        places = {route.index: (self.items["l", route.index].x,
                                self.centre_y(("l", route.index))) for route in self.routes}
        for name, indices in self.loops.items():
            left, top, width, height = self.box(name)
            y = top + height / 2 - self._loop_labels_height(name) / 2
            for i in indices:
                text = self.labels[i]
                places[i] = (left + width + LOOP_WIDTH + 2 * PAD + text.width / 2,
                             y + PAD + text.height / 2)
                y += text.height + 2 * PAD
        return places

    def ports(self) -> dict[tuple[int, int], tuple[float, float]]:
        """Where each route meets its boxes, {(route, 0 top end or -1 bottom end): (x, y)}:
        on the side that faces the route's next item, spread along it in the order of those
        items, so that curves leave a box without crossing."""
        sides: dict[tuple[str, bool], list] = {}
        for i, route in enumerate(self.routes):
            for end, near in ((0, route.keys[1]), (-1, route.keys[-2])):
                name = route.keys[end][1]
                below = self.items[near].row > self.items["g", name].row
                sides.setdefault((name, below), []).append((self.items[near].x, i, end))
        found = {}
        for (name, below), ends in sides.items():
            left, top, width, height = self.box(name)
            span = min(0.7 * width, 0.3 * (len(ends) - 1))
            for k, (_, i, end) in enumerate(sorted(ends)):
                x = left + width / 2 + (span * (k / (len(ends) - 1) - 0.5) if len(ends) > 1
                                        else 0.0)
                found[i, end] = (x, top + height if below else top)
        return found

    def points(self, i: int, ports: dict) -> list[tuple[float, float]]:
        """The points a route's curve passes, in the direction of its arrow: its ports and the
        centre of each item it passes (its label, its places beside rows of boxes)."""
        route, points = self.routes[i], [ports[i, 0]]
        points += [(self.items[key].x, self.centre_y(key)) for key in route.keys[1:-1]]
        points.append(ports[i, -1])
        return points[::-1] if route.upwards else points


def _nondecreasing(values: list[float]) -> list[float]:
    """The nondecreasing sequence nearest to `values` in least squares (pool adjacent
    violators). For `_pack`, a row's centres minus their packed offsets must not decrease:
    that is, the items stay in order and no closer than their gaps."""
    blocks: list[list[float]] = []  # [mean, count]
    for value in values:
        blocks.append([value, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean, count = blocks.pop()
            blocks[-1] = [(blocks[-1][0] * blocks[-1][1] + mean * count) / (blocks[-1][1] + count),
                          blocks[-1][1] + count]
    return [mean for mean, count in blocks for _ in range(int(count))]


def curve(points: list[tuple[float, float]]) -> CurvePath:
    """A smooth curve through the points (Catmull-Rom as cubic Bezier pieces) that leaves the
    first and enters the last one vertically."""
    def vertical(a, b):
        return (0.0, b[1] - a[1]) if b[1] != a[1] else (b[0] - a[0], 0.0)

    tangents = [vertical(points[0], points[1])]
    for before, after in zip(points, points[2:]):
        tangents.append(((after[0] - before[0]) / 2, (after[1] - before[1]) / 2))
    tangents.append(vertical(points[-2], points[-1]))
    vertices, codes = [points[0]], [CurvePath.MOVETO]
    for (a, ta), (b, tb) in zip(zip(points, tangents), zip(points[1:], tangents[1:])):
        vertices += [(a[0] + ta[0] / 3, a[1] + ta[1] / 3), (b[0] - tb[0] / 3, b[1] - tb[1] / 3),
                     b]
        codes += [CurvePath.CURVE4] * 3
    return CurvePath(vertices, codes)


def loop(box: tuple[float, float, float, float], k: int, count: int) -> CurvePath:
    """The k-th of a box's `count` loops to itself, out of its right side and back."""
    left, top, width, height = box
    right, middle = left + width, top + height / 2
    share = (k + 1) / count  # the outer loops reach further and span more of the side
    reach = LOOP_WIDTH * (0.5 + 0.5 * share) * 4 / 3  # a cubic reaches 3/4 of its controls
    spread = height * (0.1 + 0.3 * share)
    start, end = (right, middle - spread), (right, middle + spread)
    return CurvePath([start, (right + reach, start[1] - height / 4),
                      (right + reach, end[1] + height / 4), end],
                     [CurvePath.MOVETO] + [CurvePath.CURVE4] * 3)


# ---- drawing ----

def _arrow(ax, path: CurvePath, row, colour: str) -> None:
    ax.add_patch(FancyArrowPatch(path=path, arrowstyle="-|>,head_length=0.5,head_width=0.25",
                                 mutation_scale=10, color=colour, lw=labels.pen_width(row),
                                 linestyle=(0, (4, 2.5)) if row.delay else "-", zorder=2,
                                 joinstyle="miter", capstyle="butt"))


def _label(ax, text: Text, x: float, y: float, colour: str) -> None:
    """An arrow's label centred on (x, y), on white so the curves behind it do not cross it."""
    ax.add_patch(FancyBboxPatch((x - text.width / 2, y - text.height / 2), text.width,
                                text.height, boxstyle=f"round,pad={PAD / 2},rounding_size=0.04",
                                facecolor="white", edgecolor="none", zorder=3))
    text.draw(ax, x, y - text.height / 2, colour)


def _box(ax, layout: Layout, g: ir.Group) -> None:
    _, fill, border, borders = labels.ROLE_STYLE.get(g.role, labels.ROLE_STYLE["hidden"])
    left, top, width, height = layout.box(g.name)
    style = "square,pad=0" if g.role == "input" else "round,pad=0,rounding_size=0.08"
    ax.add_patch(FancyBboxPatch((left, top), width, height, boxstyle=style, facecolor=fill,
                                edgecolor=border, lw=1.0, zorder=3))
    if borders == 2:  # a double border, as dot's peripheries=2
        ax.add_patch(FancyBboxPatch((left - 0.04, top - 0.04), width + 0.08, height + 0.08,
                                    boxstyle=style.replace("0.08", "0.11"), facecolor="none",
                                    edgecolor=border, lw=1.0, zorder=3))
    text = layout.boxes[g.name]
    text.draw(ax, left + width / 2, top + (height - text.height) / 2, "#222222")


def _loops(ax, layout: Layout, name: str, places: dict) -> None:
    box = layout.box(name)
    for k, i in enumerate(layout.loops[name]):
        p = layout.spec.projections[i]
        colour = labels.CYCLE_COLOUR if p.name in layout.cyclic else labels.PLAIN_COLOUR
        _arrow(ax, loop(box, k, len(layout.loops[name])), layout.rows[i], colour)
        _label(ax, layout.labels[i], *places[i], colour)


def _frame(ax, layout: Layout, step: ir.Step) -> None:
    """The dashed frame around groups computed neuron by neuron, with its caption on top."""
    items = [layout.items["g", name] for name in step.groups]
    left = min(item.x - item.left for item in items)
    right = max(item.x + item.right for item in items)
    top = min(layout.box(name)[1] for name in step.groups) - FRAME - layout.caption.height - FRAME
    bottom = max(layout.box(name)[1] + layout.box(name)[3] for name in step.groups) + FRAME
    ax.add_patch(FancyBboxPatch((left, top), right - left, bottom - top,
                                boxstyle="round,pad=0,rounding_size=0.1", facecolor="none",
                                edgecolor="#8e6c00", lw=1.0, linestyle=(0, (4, 2.5)), zorder=1))
    layout.caption.draw(ax, (left + right) / 2, top + FRAME, "#8e6c00")


def figure(summary, cyclic: set[str]) -> Figure:
    """The drawing as a matplotlib Figure (one inch of the layout is one inch of the figure)."""
    layout = Layout(summary, cyclic)
    legend = Text(labels.legend_text(summary, cyclic), {"b": 9.5, "s": 8.0, "": 8.0})
    width = max(layout.width, legend.width + 2 * MARGIN)
    height = layout.height + legend.height + MARGIN
    fig = Figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_ylim(height, 0)  # y grows downwards, as the layout's
    ax.axis("off")
    shift = (width - layout.width) / 2
    ax.set_xlim(-shift, width - shift)
    ports, places = layout.ports(), layout.label_places()
    for i, route in enumerate(layout.routes):
        colour = labels.CYCLE_COLOUR if route.projection.name in cyclic else labels.PLAIN_COLOUR
        _arrow(ax, curve(layout.points(i, ports)), route.row, colour)
        _label(ax, layout.labels[route.index], *places[route.index], colour)
    for g in layout.spec.groups:
        _box(ax, layout, g)
        _loops(ax, layout, g.name, places)
    for step in layout.spec.schedule:
        if step.neuron_level:
            _frame(ax, layout, step)
    legend.draw(ax, layout.width / 2, layout.height, "#222222")
    return fig


def save(summary, cyclic: set[str], fmt: str, out) -> None:
    """Write the drawing in format `svg`, `png` or `pdf` to the binary file `out`; SVG keeps its
    texts as text, and no format records the date (the same network, the same bytes)."""
    fig = figure(summary, cyclic)
    metadata = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(fmt)
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "nndl",
                                "pdf.fonttype": 42}):
        fig.savefig(out, format=fmt, dpi=labels.PNG_DPI, metadata=metadata,
                    facecolor="white")
