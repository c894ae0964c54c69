"""Draw a predictor's graph as boxes joined by lines, in plain strings that fit a width.

Children sit below their parent, side by side while they fit; a node whose children do not
fit side by side stacks them below it as an indented tree. Every line is at most `width`
terminal cells (wide characters count two), and the drawing depends only on the graph.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from console.graph.spec import Deployment, Node, Predictor, containers_by_name

INNER_WIDTHS = (30, 20, 14)  # box contents tried, widest first, before children are stacked
MIN_BOX = 12  # narrower than this, a subtree is listed as text
GAP = 2  # between sibling boxes
INDENT = 3  # of a stacked child, from its parent's left edge
MAX_LEVELS = 40  # deeper graphs are not drawn past this (Seldon's CRD stops at 11)
BADGES = {"OUTPUT_TRANSFORMER": "OUTPUT_TRANSFORMER"}
SHORT_BADGES = {"MODEL": "MODEL", "TRANSFORMER": "TRANSF", "OUTPUT_TRANSFORMER": "OUTPUT", "ROUTER": "ROUTER",
                "COMBINER": "COMBINE"}


# -- text measured in terminal cells --------------------------------------------------------


def clean(text: object) -> str:
    """Printable single-line text: control characters become '?', zero-width marks go."""
    text = unicodedata.normalize("NFC", str(text))
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in ("Mn", "Me", "Cf"):
            continue
        out.append("?" if cat in ("Cc", "Cs", "Co", "Cn", "Zl", "Zp") else ch)
    return "".join(out)


def cells(text: str) -> int:
    """Terminal cells text takes (East Asian wide and full-width characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def fit(text: str, width: int) -> str:
    """text cut to width cells, ending with '…' when cut."""
    if width <= 0:
        return ""
    if cells(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        w = cells(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def fit_middle(text: str, width: int) -> str:
    """text cut in the middle (keeps a URI's scheme and its last part)."""
    if cells(text) <= width or width < 8:
        return fit(text, width)
    tail_len = (width - 1) // 2
    tail = ""
    for ch in reversed(text):
        if cells(tail) + cells(ch) > tail_len:
            break
        tail = ch + tail
    return fit(text, width - cells(tail) - 1).removesuffix("…") + "…" + tail


def pad(text: str, width: int) -> str:
    return text + " " * max(0, width - cells(text))


# -- blocks -------------------------------------------------------------------------------


@dataclass
class Block:
    """Lines of equal cell width (a subtree listed as text)."""

    lines: list[str]
    width: int


def badge(node: Node, short: bool = False) -> str:
    kind = node.resolved_type
    known = SHORT_BADGES if short else {k: BADGES.get(k, k) for k in SHORT_BADGES}
    return f"[{known.get(kind, clean(kind)[:10] + '?')}]"


def details(node: Node) -> list[str]:
    """What runs the node: implementation, model URI, component or image (at most two lines)."""
    out = []
    if node.implementation:
        out.append(clean(node.implementation))
    if node.model_uri:
        out.append(clean(node.model_uri))
    for p in node.parameters if isinstance(node.parameters, list) else []:
        if getattr(p, "name", None) == "component" and not node.implementation:
            out.append(clean(p.value))
    return out[:2]


def natural_inner(node: Node, image: str | None = None) -> int:
    """Cells the box content takes when nothing is cut."""
    name = clean(node.name) or "(no name)"
    lines = details(node) or ([clean(image)] if image else [])
    return max(cells(name) + 1 + cells(badge(node)), *(cells(d) for d in lines), 1)


def make_box(node: Node, limit: int, image: str | None = None, max_inner: int = INNER_WIDTHS[0]) -> list[str]:
    """The node's box, as narrow as its text allows and at most `limit` cells wide."""
    name = clean(node.name) or "(no name)"
    lines = details(node) or ([clean(image)] if image else [])
    full = badge(node)
    inner = min(natural_inner(node, image), max_inner, limit - 4)
    tag = full if cells(full) + 5 <= inner else badge(node, short=True)
    if cells(tag) + 2 > inner:
        tag = ""
    room = inner - cells(tag) - (1 if tag else 0)
    title = pad(fit(name, room), room) + (" " + tag if tag else "")
    body = [title] + [pad(fit_middle(d, inner), inner) for d in lines]
    return ["┌" + "─" * (inner + 2) + "┐"] + [f"│ {pad(b, inner)} │" for b in body] + \
        ["└" + "─" * (inner + 2) + "┘"]


def _put(line: str, col: int, ch: str) -> str:
    """Replace the character at col (lines being joined here are single-width there)."""
    return line[:col] + ch + line[col + 1:]


_JOINS = {
    (True, True, True, True): "┼", (True, True, True, False): "┤", (True, True, False, True): "├",
    (True, True, False, False): "│", (True, False, True, True): "┴", (True, False, True, False): "┘",
    (True, False, False, True): "└", (False, True, True, True): "┬", (False, True, True, False): "┐",
    (False, True, False, True): "┌", (False, False, True, True): "─",
}


def _connector(total: int, center: int, anchors: list[int]) -> str:
    """The row joining a parent's bottom (at center) to its children's tops (at anchors)."""
    low, high = min(center, anchors[0]), max(center, anchors[-1])
    row = [" "] * total
    down = set(anchors)
    for i in range(low, high + 1):
        row[i] = _JOINS.get((i == center, i in down, i > low, i < high), "│")
    return "".join(row)


def _text_block(node: Node, width: int) -> Block:
    """A subtree too narrow for boxes: one '· name [TYPE]' line per node."""
    lines = []
    stack = [(node, 0)]
    while stack:
        n, depth = stack.pop()
        lines.append(fit(" " * min(depth, 4) + f"· {clean(n.name)} {badge(n, short=True)}", width))
        if depth < MAX_LEVELS:
            stack.extend((c, depth + 1) for c in reversed(_children(n)))
    w = max(cells(s) for s in lines)
    return Block([pad(s, w) for s in lines], w)


def _children(node: Node) -> list[Node]:
    return [c for c in node.children if isinstance(c, Node)] if isinstance(node.children, list) else []


@dataclass
class _Plan:
    """How a subtree is drawn, decided before any line is built (so deep graphs stay fast)."""

    mode: str  # "text", "leaf", "more", "side" or "stacked"
    width: int
    anchor: int
    box_left: int
    inner: int
    children: list[_Plan]
    xs: list[int]


class _Drawing:
    def __init__(self, images: dict[str, str]) -> None:
        self.images = images
        self.plans: dict[tuple[int, int, int, int], _Plan] = {}
        self.sizes: dict[int, int] = {}
        self.naturals: dict[int, int] = {}

    def image(self, node: Node) -> str | None:
        return self.images.get(node.name) if isinstance(node.name, str) else None

    def box_width(self, node: Node, width: int, inner: int) -> int:
        if id(node) not in self.naturals:
            self.naturals[id(node)] = natural_inner(node, self.image(node))
        return min(self.naturals[id(node)], inner, width - 4) + 4

    def size(self, node: Node) -> int:
        if id(node) not in self.sizes:
            seen, stack = set(), [node]
            while stack:  # counted without recursion, and each node once even if code shared it
                n = stack.pop()
                if id(n) not in seen:
                    seen.add(id(n))
                    stack.extend(_children(n))
            self.sizes[id(node)] = len(seen)
        return self.sizes[id(node)]

    # deciding --------------------------------------------------------------------------

    def plan(self, node: Node, width: int, level: int, max_inner: int = INNER_WIDTHS[0]) -> _Plan:
        key = (id(node), width, level, max_inner)
        if key not in self.plans:
            self.plans[key] = self._plan(node, width, level, max_inner)
        return self.plans[key]

    def _plan(self, node: Node, width: int, level: int, max_inner: int) -> _Plan:
        if width < MIN_BOX:
            text = _text_block(node, max(width, 1))
            return _Plan("text", text.width, 0, 0, max_inner, [], [])
        children = _children(node)
        box_w = self.box_width(node, width, max_inner)
        if not children:
            return _Plan("leaf", box_w, box_w // 2, 0, max_inner, [], [])
        if level >= MAX_LEVELS:
            w = max(box_w, cells(self.more(node, width)))
            return _Plan("more", w, box_w // 2, 0, max_inner, [], [])
        # Side by side with the widest boxes that fit; else the children stack below.
        for inner in (i for i in INNER_WIDTHS if i <= max_inner):
            side = [self.plan(c, width, level + 1, inner) for c in children]
            if sum(p.width for p in side) + GAP * (len(side) - 1) <= width:
                return self.place(node, side, width, inner)
        stacked = [self.plan(c, width - INDENT, level + 1) for c in children]
        w = max(box_w, INDENT + max(p.width for p in stacked))
        return _Plan("stacked", w, box_w // 2, 0, max_inner, stacked, [])

    def place(self, node: Node, side: list[_Plan], width: int, inner: int) -> _Plan:
        box_w = self.box_width(node, width, inner)
        xs, x = [], 0
        if len(side) == 1:
            # One child hangs straight below its parent when both fit that way.
            joint = max(side[0].anchor, box_w // 2)
            if max(joint - side[0].anchor + side[0].width, joint - box_w // 2 + box_w) <= width:
                x = joint - side[0].anchor
        for p in side:
            xs.append(x)
            x += p.width + GAP
        anchors = [xi + p.anchor for xi, p in zip(xs, side, strict=True)]
        middle = (anchors[0] + anchors[-1]) // 2
        # Centred over its children where the width allows; the connector row absorbs the rest.
        left = max(0, min(middle - box_w // 2, width - box_w))
        return _Plan("side", max(x - GAP, left + box_w), left + box_w // 2, left, inner, side, xs)

    def more(self, node: Node, width: int) -> str:
        return fit(f" └ … {self.size(node) - 1} more nodes below", width)

    # drawing ---------------------------------------------------------------------------

    def draw(self, node: Node, plan: _Plan, width: int) -> list[str]:
        if plan.mode == "text":
            return _text_block(node, max(width, 1)).lines
        box = make_box(node, width, self.image(node), plan.inner)
        if plan.mode == "leaf":
            return box
        box[-1] = _put(box[-1], 1 if plan.mode in ("more", "stacked") else cells(box[0]) // 2, "┬")
        if plan.mode == "more":
            return [pad(s, plan.width) for s in [*box, self.more(node, width)]]
        children = _children(node)
        if plan.mode == "side":
            return self.draw_side(box, plan, children, width)
        lines = list(box)
        for i, (child, sub) in enumerate(zip(children, plan.children, strict=True)):
            last = i == len(children) - 1
            join_row = 0 if sub.mode == "text" else 1  # the child's name line
            for r, row in enumerate(self.draw(child, sub, width - INDENT)):
                if r < join_row:
                    prefix = " │ "
                elif r == join_row:
                    prefix = " └─" if last else " ├─"
                    if sub.mode != "text":
                        row = "─" * sub.box_left + "┤" + row[sub.box_left + 1:]
                else:
                    prefix = "   " if last else " │ "
                lines.append(prefix + row)
        return [pad(s, plan.width) for s in lines]

    def draw_side(self, box: list[str], plan: _Plan, children: list[Node], width: int) -> list[str]:
        total, left, center = plan.width, plan.box_left, plan.anchor
        lines = [pad(" " * left + row, total) for row in box]
        anchors = [xi + p.anchor for xi, p in zip(plan.xs, plan.children, strict=True)]
        if len(anchors) > 1 or center != anchors[0]:
            lines.append(_connector(total, center, anchors))
        bodies = []
        for child, sub in zip(children, plan.children, strict=True):
            body = self.draw(child, sub, width)
            body[0] = _put(body[0], sub.anchor, "┴")
            bodies.append(body)
        height = max(len(b) for b in bodies)
        for r in range(height):
            row = ""
            for xi, sub, body in zip(plan.xs, plan.children, bodies, strict=True):
                row = pad(row, xi) + (body[r] if r < len(body) else " " * sub.width)
            lines.append(pad(row, total))
        return lines

    def lines(self, node: Node, width: int) -> list[str]:
        return self.draw(node, self.plan(node, width, 1), width)


def _images(predictor: Predictor) -> dict[str, str]:
    return {name: c["image"] for name, c in containers_by_name(predictor).items() if isinstance(c.get("image"), str)}


def predictor_header(predictor: Predictor, serving: int = 1) -> str:
    """'predictor main  traffic 80%  replicas 2' (or shadow)."""
    parts = [f"predictor {clean(predictor.name)}"]
    if predictor.shadow:
        parts.append("shadow (gets a copy of every request)")
    elif serving <= 1 and not predictor.traffic:
        parts.append("traffic 100% (sole predictor)")
    else:
        parts.append(f"traffic {predictor.traffic}%")
    if predictor.replicas is not None:
        parts.append(f"replicas {clean(predictor.replicas)}")
    return "  ".join(parts)


def render_predictor(predictor: Predictor, width: int = 80, serving: int = 1) -> list[str]:
    """One predictor: its header line, then its graph."""
    width = max(width, 1)
    lines = [fit(predictor_header(predictor, serving), width)]
    if isinstance(predictor.graph, Node):
        lines += [fit(line.rstrip(), width) for line in _Drawing(_images(predictor)).lines(predictor.graph, width)]
    return lines


def render_graph(item: Deployment | Predictor | Node, width: int = 80) -> list[str]:
    """Every predictor's graph as boxes (or one predictor's, or one subtree's), within width cells."""
    width = max(width, 1)
    if isinstance(item, Node):
        return [fit(line.rstrip(), width) for line in _Drawing({}).lines(item, width)]
    if isinstance(item, Predictor):
        return render_predictor(item, width)
    predictors = [p for p in item.predictors if isinstance(p, Predictor)]
    serving = sum(1 for p in predictors if not p.shadow)
    lines: list[str] = []
    for i, predictor in enumerate(predictors):
        if i:
            lines.append("")
        lines += render_predictor(predictor, width, serving)
    return lines
