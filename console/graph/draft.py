"""A graph being edited: the manifest as plain data, edits addressed by manifest path, undo/redo.

The draft holds the manifest mapping itself (not the dataclasses), so every field the
console does not interpret — componentSpecs, annotations, a newer Seldon's additions —
survives any sequence of edits exactly as it was read. Nodes are addressed by the same
paths validation reports (`spec.predictors[0].graph.children[1]`), so a problem in the
validation panel points at the node the builder selects.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console.errors import Conflict, InvalidSpec, NotFound
from console.graph.manifest_io import dump_documents, dump_yaml, load_file, load_manifest
from console.graph.spec import API_VERSION, KIND, Deployment, deployment_from_dict

HISTORY = 200  # undo steps kept; a manifest is small, so whole snapshots are simplest and exact

_PATH = re.compile(r"^spec\.predictors\[(\d+)\](?:\.graph((?:\.children\[\d+\])*))?$")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class Address:
    """Where a node is: its predictor's index and the child indices from the graph's root.

    `node is None` addresses the predictor itself (the place a first node goes).
    """

    predictor: int
    node: tuple[int, ...] | None = ()

    @classmethod
    def parse(cls, path: str) -> Address:
        match = _PATH.match(path)
        if not match:
            raise NotFound(f"{path!r} is not a predictor or node path")
        if match.group(2) is None and ".graph" not in path:
            return cls(int(match.group(1)), None)
        indices = tuple(int(i) for i in re.findall(r"\[(\d+)\]", match.group(2) or ""))
        return cls(int(match.group(1)), indices)

    @property
    def path(self) -> str:
        base = f"spec.predictors[{self.predictor}]"
        if self.node is None:
            return base
        return base + ".graph" + "".join(f".children[{i}]" for i in self.node)

    @property
    def parent(self) -> Address | None:
        if not self.node:
            return None
        return Address(self.predictor, self.node[:-1])


def check_name(name: str, what: str = "node") -> str:
    """A Kubernetes-style name (Seldon names containers and services after nodes)."""
    name = name.strip()
    if not _NAME.match(name) or len(name) > 63:
        raise InvalidSpec(f"{what} name {name!r} is not valid",
                          hint="lower-case letters, digits and '-', starting and ending with a letter or digit, "
                               "at most 63 characters")
    return name


def new_manifest(name: str) -> dict[str, Any]:
    """An empty SeldonDeployment with one predictor taking all traffic and no graph yet."""
    name = check_name(name, "deployment")
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": name},
            "spec": {"name": name, "predictors": [{"name": "main", "traffic": 100, "graph": {}}]}}


class GraphDraft:
    """The manifest under edit, where it is saved, and its history."""

    def __init__(self, manifest: dict[str, Any], path: Path | None = None, saved: bool = False) -> None:
        self.doc = manifest
        self.path = path
        self._undo: list[dict[str, Any]] = []
        self._redo: list[dict[str, Any]] = []
        self._saved_doc: dict[str, Any] | None = copy.deepcopy(manifest) if saved else None
        self.clipboard: dict[str, Any] | None = None

    # -- opening and saving ------------------------------------------------------------

    @classmethod
    def open(cls, path: Path) -> GraphDraft:
        """Read a manifest file (YAML or JSON); InvalidSpec says where it is wrong."""
        dep = load_file(path)
        return cls(copy.deepcopy(dep.raw), Path(path), saved=True)

    @classmethod
    def new(cls, name: str, folder: Path) -> GraphDraft:
        """An empty graph to be saved as folder/NAME.yaml (refused if that file exists)."""
        target = folder / f"{check_name(name, 'deployment')}.yaml"
        if target.exists():
            raise Conflict(f"{target} already exists", hint="open it instead, or choose another name")
        return cls(new_manifest(name), target)

    def text(self) -> str:
        """The manifest as it would be saved (YAML, keys in the source's order)."""
        return dump_yaml(deployment_from_dict(self.doc))

    def deployment(self) -> Deployment:
        """The draft read back as a file would be: dataclasses with paths and YAML lines.

        Reading the text it would save (not the mapping) gives validation the lines of the
        file as it will be on disk.
        """
        return load_manifest(self.text(), source=str(self.path or "<draft>"))

    @property
    def dirty(self) -> bool:
        return self.doc != self._saved_doc

    def save(self, path: Path | None = None) -> Path:
        """Write the YAML atomically (a crash mid-write leaves the old file whole)."""
        target = Path(path or self.path or "")
        if not str(target):
            raise InvalidSpec("this graph has no file yet", hint="save it with a name")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(self.text(), encoding="utf-8")
        tmp.replace(target)
        self.path = target
        self._saved_doc = copy.deepcopy(self.doc)
        return target

    # -- reading -----------------------------------------------------------------------

    @property
    def name(self) -> str:
        meta = self.doc.get("metadata") if isinstance(self.doc.get("metadata"), dict) else {}
        return str(meta.get("name") or "")

    def predictors(self) -> list[dict[str, Any]]:
        spec = self.doc.setdefault("spec", {})
        preds = spec.setdefault("predictors", [])
        return preds

    def node(self, address: Address) -> dict[str, Any]:
        """The node mapping at address (the predictor's graph for the root)."""
        preds = self.predictors()
        if not 0 <= address.predictor < len(preds):
            raise NotFound(f"no predictor {address.predictor}")
        if address.node is None:
            raise NotFound("a predictor is not a node")
        node = preds[address.predictor].get("graph")
        if not isinstance(node, dict) or self.is_empty(address.predictor):
            raise NotFound(f"predictor {preds[address.predictor].get('name')!r} has no graph yet")
        for i in address.node:
            children = node.get("children") or []
            if not 0 <= i < len(children):
                raise NotFound(f"no node at {address.path}")
            node = children[i]
        return node

    def is_empty(self, predictor: int) -> bool:
        graph = self.predictors()[predictor].get("graph")
        return not isinstance(graph, dict) or not graph.get("name")

    def names(self) -> set[str]:
        """Every node name in every predictor (Seldon needs them unique per predictor; the
        builder keeps them unique per deployment, so that metrics name one thing)."""
        out: set[str] = set()
        for p in self.predictors():
            stack = [p.get("graph")]
            while stack:
                node = stack.pop()
                if isinstance(node, dict) and node.get("name"):
                    out.add(str(node["name"]))
                    stack.extend(node.get("children") or [])
        return out

    def unique_name(self, base: str) -> str:
        """base, or base-2, base-3 ... whichever is not taken."""
        base = re.sub(r"[^a-z0-9-]+", "-", base.lower()).strip("-")[:55] or "node"
        taken = self.names()
        if base not in taken:
            return base
        n = 2
        while f"{base}-{n}" in taken:
            n += 1
        return f"{base}-{n}"

    # -- history -----------------------------------------------------------------------

    def _checkpoint(self) -> None:
        self._undo.append(copy.deepcopy(self.doc))
        del self._undo[:-HISTORY]
        self._redo.clear()

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> bool:
        if not self._undo:
            return False
        self._redo.append(self.doc)
        self.doc = self._undo.pop()
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        self._undo.append(self.doc)
        self.doc = self._redo.pop()
        return True

    # -- edits: each is one undo step and returns where the edited node now is -----------

    def add_child(self, at: Address, node: dict[str, Any]) -> Address:
        """Add node under the node at `at`; on a predictor, it becomes the graph's root,
        above the current root if there is one (a transformer in front of everything)."""
        node = copy.deepcopy(node)
        node.setdefault("children", [])
        if at.node is None:
            self._checkpoint()
            pred = self.predictors()[at.predictor]
            if not self.is_empty(at.predictor):
                node["children"] = [pred["graph"], *node["children"]]
            pred["graph"] = node
            return Address(at.predictor, ())
        parent = self.node(at)
        self._checkpoint()
        parent.setdefault("children", []).append(node)
        return Address(at.predictor, (*at.node, len(parent["children"]) - 1))

    def insert_above(self, at: Address, node: dict[str, Any]) -> Address:
        """Put node between the node at `at` and its parent (the node becomes its child)."""
        if at.node is None:
            return self.add_child(at, node)
        current = self.node(at)
        self._checkpoint()
        node = copy.deepcopy(node)
        node["children"] = [current]
        self._replace(at, node)
        return at

    def _replace(self, at: Address, node: dict[str, Any]) -> None:
        if not at.node:
            self.predictors()[at.predictor]["graph"] = node
        else:
            self.node(at.parent)["children"][at.node[-1]] = node

    def delete(self, at: Address) -> Address:
        """Remove the node; its children take its place (a chain stays connected).

        A root with several children cannot go this way: a graph has one root.
        """
        node = self.node(at)
        children = list(node.get("children") or [])
        if not at.node and len(children) > 1:
            raise Conflict(f"{node.get('name')!r} is the root and has {len(children)} children",
                           hint="a graph has one root: cut (x) the whole subtree, or delete the children first")
        self._checkpoint()
        if not at.node:
            self.predictors()[at.predictor]["graph"] = children[0] if children else {}
            return Address(at.predictor, () if children else None)
        siblings = self.node(at.parent)["children"]
        i = at.node[-1]
        siblings[i:i + 1] = children
        if children:
            return at
        return at.parent

    def cut(self, at: Address) -> Address:
        """Remove the node with its whole subtree into the clipboard (p pastes it)."""
        node = self.node(at)
        self._checkpoint()
        self.clipboard = copy.deepcopy(node)
        if not at.node:
            self.predictors()[at.predictor]["graph"] = {}
            return Address(at.predictor, None)
        del self.node(at.parent)["children"][at.node[-1]]
        return at.parent

    def paste(self, at: Address) -> Address:
        """Add the clipboard's subtree under the node at `at` (renaming clashes)."""
        if self.clipboard is None:
            raise NotFound("nothing cut yet", hint="x cuts a node with its subtree")
        subtree = copy.deepcopy(self.clipboard)
        taken = self.names()
        stack = [subtree]
        while stack:
            item = stack.pop()
            if item.get("name") in taken:
                item["name"] = self.unique_name(str(item["name"]))
            taken.add(item["name"])
            stack.extend(item.get("children") or [])
        return self.add_child(at, subtree)

    def move(self, at: Address, delta: int) -> Address:
        """Move the node among its siblings (a router's child order is its branch index)."""
        if not at.node:
            return at
        siblings = self.node(at.parent)["children"]
        i = at.node[-1]
        j = max(0, min(len(siblings) - 1, i + delta))
        if i == j:
            return at
        self._checkpoint()
        siblings.insert(j, siblings.pop(i))
        return Address(at.predictor, (*at.node[:-1], j))

    def rename(self, at: Address, name: str) -> Address:
        name = check_name(name)
        node = self.node(at)
        if name != node.get("name") and name in self.names():
            raise Conflict(f"a node is already named {name!r}", hint="node names must be unique")
        self._checkpoint()
        node["name"] = name
        return at

    def set_fields(self, at: Address, fields: dict[str, Any]) -> Address:
        """Replace the node's own fields (everything but its children) with `fields`."""
        node = self.node(at)
        if not isinstance(fields, dict):
            raise InvalidSpec("a node is a mapping of fields (name, type, implementation, ...)")
        fields = {k: v for k, v in fields.items() if k != "children"}
        name = fields.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidSpec("a node needs a name")
        if name != node.get("name") and name in self.names():
            raise Conflict(f"a node is already named {name!r}", hint="node names must be unique")
        candidate = copy.deepcopy(self.doc)
        target = GraphDraft(candidate).node(at)
        children = target.get("children")
        target.clear()
        target.update(copy.deepcopy(fields))
        if children is not None:
            target["children"] = children
        # The shape check of a file load, on the mapping as it stands (the dataclasses
        # would quietly drop a field of the wrong type).
        load_manifest(dump_documents([candidate]), source="the edited node")
        self._checkpoint()
        self.doc = candidate
        return at

    def set_traffic(self, weights: dict[str, int], shadows: set[str] | None = None) -> None:
        """Set the named predictors' traffic; those in shadows become shadows (mirrored, never
        answering), and a shadow given a weight serves again. Names must exist."""
        preds = {str(p.get("name")): p for p in self.predictors()}
        unknown = sorted(set(weights) - set(preds) | set(shadows or ()) - set(preds))
        if unknown:
            raise NotFound(f"no predictor named {', '.join(unknown)}", hint=f"predictors: {', '.join(preds)}")
        for name, weight in weights.items():
            if not isinstance(weight, int) or not 0 <= weight <= 100:
                raise InvalidSpec(f"traffic for {name} must be a whole number from 0 to 100")
        self._checkpoint()
        for name, weight in weights.items():
            preds[name]["traffic"] = weight
            if preds[name].get("shadow"):
                preds[name]["shadow"] = False  # given a weight: it serves now
        for name in shadows or ():
            preds[name]["shadow"] = True

    def add_predictor(self, name: str, copy_of: int | None = None) -> int:
        """A new predictor with no traffic yet: empty, or a copy of another's graph."""
        name = check_name(name, "predictor")
        if name in {p.get("name") for p in self.predictors()}:
            raise Conflict(f"a predictor is already named {name!r}")
        self._checkpoint()
        pred: dict[str, Any] = {"name": name, "traffic": 0, "graph": {}}
        if copy_of is not None:
            source = copy.deepcopy(self.predictors()[copy_of])
            source.update({"name": name, "traffic": 0})
            pred = source
        self.predictors().append(pred)
        return len(self.predictors()) - 1

    def delete_predictor(self, index: int) -> None:
        if len(self.predictors()) <= 1:
            raise Conflict("a deployment needs at least one predictor")
        self._checkpoint()
        del self.predictors()[index]


def parse_traffic(text: str) -> tuple[dict[str, int], set[str]]:
    """`main=90 canary=10 mirror=shadow` -> ({main: 90, canary: 10}, {mirror})."""
    weights: dict[str, int] = {}
    shadows: set[str] = set()
    for part in text.replace(",", " ").split():
        name, sep, value = part.partition("=")
        if not sep or not name:
            raise InvalidSpec(f"{part!r}: write NAME=WEIGHT (e.g. main=90 canary=10) or NAME=shadow")
        if value.lower() == "shadow":
            shadows.add(name)
            continue
        try:
            weights[name] = int(value.rstrip("%"))
        except ValueError:
            raise InvalidSpec(f"{part!r}: the weight must be a whole number") from None
    if not weights and not shadows:
        raise InvalidSpec("no weights given", hint="e.g. main=90 canary=10")
    return weights, shadows


def node_text(node: dict[str, Any]) -> str:
    """A node's own fields as YAML, children left out (they are edited in the tree)."""
    return dump_documents([{k: v for k, v in node.items() if k != "children"}]).removeprefix("---\n")


def parse_node_text(text: str) -> dict[str, Any]:
    """The YAML of one node back to a mapping; InvalidSpec names the line of a slip."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise InvalidSpec(f"{where}{getattr(exc, 'problem', None) or exc}",
                          hint="the node is YAML: name, type, implementation, modelUri, parameters") from None
    if not isinstance(data, dict):
        raise InvalidSpec("a node is a mapping of fields", hint="e.g. name: scaler\ntype: TRANSFORMER")
    return data
