"""Read and write SeldonDeployment manifests (YAML or JSON), with the line of every place.

Reading is strict about what YAML allows but Kubernetes does not (duplicate keys, non-string
keys, tags, NaN, self-referencing anchors) and about the types of the fields mlconsole
interprets, so that what it accepts dumps back to the same document. Everything else —
unknown fields, wrong values, graph mistakes — is for validate.py to judge.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import yaml

from console.errors import InvalidSpec
from console.graph.spec import API_VERSION, KIND, Deployment, deployment_from_dict, deployment_to_dict

SELDON_API_VERSIONS = (
    "machinelearning.seldon.io/v1", "machinelearning.seldon.io/v1alpha2", "machinelearning.seldon.io/v1alpha3",
)
MAX_BYTES = 5 * 1024 * 1024  # etcd stores objects up to ~1.5 MB: anything larger is not a manifest
MAX_DEPTH = 100  # nesting of mappings and lists; Seldon's own graphs stop at 11 levels
MAX_VALUES = 200_000  # values after expanding YAML aliases ("billion laughs" stops here)

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null")}


class _ManifestLoader(yaml.SafeLoader):
    """SafeLoader that reads scalars as Kubernetes does."""


# Kubernetes reads an unquoted date or a bare "=" as a string; PyYAML would not.
_ManifestLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_TAG + "timestamp", _TAG + "value")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _ManifestDumper(yaml.SafeDumper):
    """Block-style YAML; multi-line strings as literal blocks where YAML allows it."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # The emitter falls back to a quoted style by itself when a literal block cannot hold it.
    style = "|" if "\n" in value.rstrip("\n") else None
    if any(ch in value for ch in "\x85\u2028\u2029"):
        style = '"'  # YAML 1.1 line breaks: only double quotes (as escapes) keep them intact
    return dumper.represent_scalar(_TAG + "str", value, style=style)


_ManifestDumper.add_representer(str, _represent_str)


# -- errors ---------------------------------------------------------------------------


def _invalid(source: str, line: int | None, problem: str, hint: str = "", column: int | None = None) -> InvalidSpec:
    location = source if line is None else f"{source}:{line}" + (f":{column}" if column else "")
    return InvalidSpec(f"{location}: {problem}", hint=hint, target=source, location=location)


def _describe(value: Any) -> str:
    """A value as a person would name it in an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'s' * (len(value) != 1)}"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


# PyYAML's problems, in words that say what to fix.
_PLAIN_PROBLEMS = [
    (re.compile(r"found character '\\t' that cannot start any token"),
     "a tab character: YAML indents with spaces only", "replace the tab with spaces"),
    (re.compile(r"mapping values are not allowed here"),
     "a ':' where no 'key: value' can start", "quote a value that contains ': ', or fix the indentation"),
    (re.compile(r"could not find expected ':'"),
     "a line that should be 'key: value' has no ':'", "check the indentation and the line above"),
    (re.compile(r"did not find expected key|expected <block end>"),
     "a line is indented wrongly for the block it is in", "align it with its siblings"),
    (re.compile(r"did not find expected '-' indicator"),
     "a list item is indented wrongly", "align every '- ' of a list at the same column"),
    (re.compile(r"found undefined alias"), "an alias (*name) refers to no anchor (&name)", ""),
    (re.compile(r"found unexpected end of stream"), "the file ends inside an unfinished value",
     "close the quote or bracket that is still open"),
    (re.compile(r"found unknown escape character"), "an unknown escape in a double-quoted string",
     "write a literal backslash as \\\\ or use single quotes"),
]


_CONTEXTS = {
    "a quoted scalar": "the quoted string", "a block mapping": "the mapping", "a block collection": "the list",
    "a flow mapping": "the {...} mapping", "a flow sequence": "the [...] list", "a simple key": "the key",
    "a block scalar": "the block of text", "a plain scalar": "the value", "an anchor": "the anchor",
    "an alias": "the alias", "a tag": "the tag", "a directive": "the directive",
}


def _yaml_error(exc: yaml.YAMLError, source: str, text: str) -> InvalidSpec:
    if isinstance(exc, yaml.reader.ReaderError):
        char = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        return _invalid(source, line, f"not YAML text: the character U+{char:04X} is not allowed in YAML",
                        "remove it, or write it as an escape in a double-quoted string; is this a binary file?",
                        column=column)
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = (exc.problem or exc.context or str(exc)).strip()
        hint = ""
        for pattern, plain, fix in _PLAIN_PROBLEMS:
            if pattern.search(problem):
                problem, hint = plain, fix
                break
        if exc.context and exc.context_mark and exc.context_mark is not mark:
            what = re.sub(r"^while (scanning|parsing|constructing) ", "", exc.context.strip())
            problem += f" (in {_CONTEXTS.get(what, what)} that starts at line {exc.context_mark.line + 1})"
        if mark is None:
            return _invalid(source, None, f"invalid YAML: {problem}", hint)
        return _invalid(source, mark.line + 1, f"invalid YAML: {problem}", hint, column=mark.column + 1)
    return _invalid(source, None, f"invalid YAML: {exc}")


# -- structure of the YAML itself ------------------------------------------------------


def _check_nodes(root: yaml.Node, source: str) -> None:
    """Reject what YAML allows and a Kubernetes object cannot hold: odd keys, tags, cycles."""
    state: dict[int, int] = {}  # node id -> 1 while on the current path, 2 once checked
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        if leaving:
            state[id(node)] = 2
            continue
        mark = node.start_mark
        if state.get(id(node)) == 1:
            raise _invalid(source, mark.line + 1, "a YAML alias refers to a value that contains it",
                           "a manifest cannot contain itself: expand the alias", column=mark.column + 1)
        if state.get(id(node)) == 2:
            continue
        if isinstance(node, yaml.ScalarNode):
            if node.tag not in _SCALAR_TAGS:
                raise _invalid(source, mark.line + 1, f"unsupported YAML tag {node.tag}",
                               "Kubernetes manifests hold strings, numbers, booleans, null, lists "
                               "and mappings only", column=mark.column + 1)
            state[id(node)] = 2
            continue
        expected = _TAG + ("seq" if isinstance(node, yaml.SequenceNode) else "map")
        if node.tag != expected:
            raise _invalid(source, mark.line + 1, f"unsupported YAML tag {node.tag}",
                           "use a plain list or mapping", column=mark.column + 1)
        state[id(node)] = 1
        stack.append((node, True))
        if isinstance(node, yaml.SequenceNode):
            stack.extend((item, False) for item in reversed(node.value))
            continue
        seen: dict[str, int] = {}
        for key, value in node.value:
            kmark = key.start_mark
            if key.tag == _TAG + "merge":
                stack.append((value, False))
                continue
            if not isinstance(key, yaml.ScalarNode) or key.tag != _TAG + "str":
                shown = key.value if isinstance(key, yaml.ScalarNode) else "a list or mapping"
                raise _invalid(source, kmark.line + 1, f"the key {shown} is not a string",
                               f"quote it: '{shown}'" if isinstance(key, yaml.ScalarNode) else
                               "Kubernetes manifests only have string keys", column=kmark.column + 1)
            if key.value in seen:
                raise _invalid(source, kmark.line + 1,
                               f"duplicate key {key.value!r} (first at line {seen[key.value]})",
                               "YAML keeps only the last one: remove or merge the other",
                               column=kmark.column + 1)
            seen[key.value] = kmark.line + 1
            stack.append((value, False))


def _check_values(data: Any, source: str, lines: dict[str, int]) -> None:
    """Bound the size and depth after expanding aliases; only JSON-compatible values."""

    def fail(path: str, problem: str, hint: str = "") -> InvalidSpec:
        shown = path if len(path) <= 80 else path[:77] + "..."
        return _invalid(source, _nearest_line(lines, path), f"{shown or 'the document'}: {problem}", hint)

    count = 0
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise _invalid(source, None, f"more than {MAX_VALUES} values once YAML aliases are expanded",
                           "a manifest this large is not a SeldonDeployment")
        if isinstance(value, dict | list) and depth >= MAX_DEPTH:
            raise fail(path, f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, dict):
            stack.extend((v, f"{path}.{k}" if path else str(k), depth + 1) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value))
        elif isinstance(value, float) and not math.isfinite(value):
            raise fail(path, f"the number {value} has no JSON form",
                       "Kubernetes manifests are JSON: write it as a string")
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise fail(path, "the string holds an unpaired surrogate escape (\\ud800-\\udfff)",
                           "write the character itself, or both halves of the pair") from None


_LAST_STEP = re.compile(r"(\.[^.\[\]]*|\[\d+\])$")


def _nearest_line(lines: dict[str, int], path: str) -> int | None:
    """The line of path, or of its closest ancestor that has one."""
    while path not in lines:
        shorter = _LAST_STEP.sub("", path)
        if shorter == path:
            return lines.get("")
        path = shorter
    return lines[path]


def _line_index(root: yaml.Node, budget: int = MAX_VALUES) -> dict[str, int]:
    """'spec.predictors[0].graph' -> its 1-based line."""
    lines: dict[str, int] = {"": root.start_mark.line + 1}
    stack: list[tuple[yaml.Node, str]] = [(root, "")]
    while stack and budget > 0:
        node, path = stack.pop()
        budget -= 1
        if isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                child = f"{path}[{i}]"
                lines[child] = item.start_mark.line + 1
                stack.append((item, child))
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode) or key.tag == _TAG + "merge":
                    continue
                child = f"{path}.{key.value}" if path else key.value
                # A mapping starts where its first field does (a graph node's line is its name's);
                # a list or a value is on its key's line.
                mark = value.start_mark if isinstance(value, yaml.MappingNode) else key.start_mark
                lines.setdefault(child, mark.line + 1)
                stack.append((value, child))
    return lines


# -- reading text -----------------------------------------------------------------------


class _Document:
    """One parsed document: its data, its first line and the line of every path."""

    def __init__(self, data: Any, line: int | None, lines: dict[str, int]) -> None:
        self.data, self.line, self.lines = data, line, lines


def _parse_yaml(text: str, source: str) -> list[_Document]:
    try:
        nodes = list(yaml.compose_all(text, Loader=_ManifestLoader))
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, source, text) from None
    except RecursionError:
        raise _invalid(source, None, "nested too deeply to read") from None
    docs = []
    for node in nodes:
        if node is None:
            continue
        _check_nodes(node, source)
        try:
            data = _ManifestLoader("").construct_document(node)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
            mark = getattr(exc, "problem_mark", None) or node.start_mark
            raise _invalid(source, mark.line + 1, f"a value cannot be read: {exc}".splitlines()[0],
                           column=mark.column + 1) from None
        except RecursionError:
            raise _invalid(source, node.start_mark.line + 1, "nested too deeply to read") from None
        if data is None:
            continue
        lines = _line_index(node)
        _check_values(data, source, lines)
        docs.append(_Document(data, node.start_mark.line + 1, lines))
    return docs


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _parse_json(text: str, source: str) -> list[_Document] | InvalidSpec:
    """The document, or the JSON error to report if YAML cannot read it either."""
    try:
        data = json.loads(text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        return _invalid(source, exc.lineno, f"invalid JSON: {exc.msg}",
                        "JSON wants double-quoted keys and strings, and no comma before } or ]",
                        column=exc.colno)
    except ValueError as exc:
        return _invalid(source, None, f"invalid JSON: {exc}")
    except RecursionError:
        return _invalid(source, None, "nested too deeply to read")
    lines: dict[str, int] = {}
    try:
        # Only for line numbers. JSON allows tabs between tokens where YAML does not; a tab
        # inside a JSON string must be escaped, so swapping them for spaces changes no value.
        node = yaml.compose(text.replace("\t", " "), Loader=_ManifestLoader)
        if node is not None:
            lines = _line_index(node)
    except (yaml.YAMLError, RecursionError):
        pass
    _check_values(data, source, lines)
    return [_Document(data, lines.get("") or 1, lines)]


def _looks_like_json(text: str) -> bool:
    return text.lstrip(" \t\r\n\ufeff")[:1] in ("{", "[")


def _documents(text: str, source: str) -> tuple[list[_Document], InvalidSpec | None]:
    """The documents, and the JSON error of JSON-looking text that only YAML could read."""
    text = text.removeprefix("\ufeff")
    if _looks_like_json(text):
        parsed = _parse_json(text, source)
        if not isinstance(parsed, InvalidSpec):
            return parsed, None
        try:
            return _parse_yaml(text, source), parsed  # YAML flow style ({a: 1}) is not JSON but is fine
        except InvalidSpec:
            raise parsed from None
    return _parse_yaml(text, source), None


# -- what a SeldonDeployment must look like to be read ------------------------------------


def _what(doc: _Document) -> str:
    data = doc.data
    if isinstance(data, dict):
        kind, api = data.get("kind"), data.get("apiVersion")
        name = (data.get("metadata") or {}).get("name") if isinstance(data.get("metadata"), dict) else None
        if kind is None:
            return "a mapping without a kind"
        return f"a {kind}" + (f" {name!r}" if name else "") + (f" ({api})" if api else "")
    if isinstance(data, list):
        return _describe(data)
    return f"a single value, {_describe(data)}"


def _is_seldon(doc: _Document) -> bool:
    return isinstance(doc.data, dict) and doc.data.get("kind") == KIND


class _Shape:
    """Checks the types of the fields mlconsole interprets, with their place in the file."""

    def __init__(self, doc: _Document, source: str) -> None:
        self.lines, self.source = doc.lines, source

    def fail(self, path: str, problem: str, hint: str = "") -> InvalidSpec:
        return _invalid(self.source, _nearest_line(self.lines, path), f"{path}: {problem}", hint)

    def field(self, mapping: dict, path: str, key: str, kinds: tuple, expected: str,
              required: bool = False, hint: str = "") -> Any:
        where = f"{path}.{key}" if path else key
        if key not in mapping:
            if required:
                raise self.fail(where, "is missing: Seldon's CRD requires it", hint)
            return None
        value = mapping[key]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise self.fail(where, f"must be {expected}, not {_describe(value)}", hint)
        return value

    def check(self, data: dict) -> None:
        meta = self.field(data, "", "metadata", (dict,), "a mapping", required=True)
        name = self.field(meta, "metadata", "name", (str,), "a string", required=True)
        if not name:
            raise self.fail("metadata.name", "is empty", "name the deployment (lowercase letters, digits, '-')")
        self.field(meta, "metadata", "namespace", (str, type(None)), "a string")
        for key in ("annotations", "labels"):
            entries = self.field(meta, "metadata", key, (dict,), "a mapping of strings")
            for k, v in (entries or {}).items():
                if not isinstance(v, str):
                    raise self.fail(f"metadata.{key}.{k}", f"must be a string, not {_describe(v)}",
                                    f"quote it: '{v}'" if not isinstance(v, dict | list) else "")
        spec = self.field(data, "", "spec", (dict,), "a mapping", required=True)
        predictors = self.field(spec, "spec", "predictors", (list,), "a list", required=True)
        for i, p in enumerate(predictors):
            path = f"spec.predictors[{i}]"
            if not isinstance(p, dict):
                raise self.fail(path, f"a predictor must be a mapping, not {_describe(p)}")
            self.field(p, path, "name", (str,), "a string", required=True)
            self.field(p, path, "traffic", (int,), "a whole number (percent)")
            self.field(p, path, "shadow", (bool,), "true or false")
            self.field(p, path, "replicas", (int, type(None)), "a whole number")
            specs = self.field(p, path, "componentSpecs", (list,), "a list")
            for j, s in enumerate(specs or []):
                if not isinstance(s, dict):
                    raise self.fail(f"{path}.componentSpecs[{j}]", f"must be a mapping, not {_describe(s)}")
            graph = self.field(p, path, "graph", (dict,), "a mapping", required=True)
            self.node(graph, f"{path}.graph")

    def node(self, root: dict, root_path: str) -> None:
        stack = [(root, root_path)]
        while stack:
            node, path = stack.pop()
            self.field(node, path, "name", (str,), "a string", required=True,
                       hint="every graph node needs a name")
            for key in ("type", "implementation", "modelUri"):
                self.field(node, path, key, (str, type(None)), "a string")
            self.field(node, path, "endpoint", (dict, type(None)), "a mapping")
            params = self.field(node, path, "parameters", (list,), "a list")
            for k, param in enumerate(params or []):
                where = f"{path}.parameters[{k}]"
                if not isinstance(param, dict):
                    raise self.fail(where, f"a parameter must be a mapping (name, value, type), "
                                           f"not {_describe(param)}")
                for key in ("name", "value", "type"):
                    self.field(param, where, key, (str, int, float, bool), "a string")
            children = self.field(node, path, "children", (list,), "a list",
                                  hint="write `children: []` for none")
            for j, child in enumerate(children or []):
                where = f"{path}.children[{j}]"
                if not isinstance(child, dict):
                    raise self.fail(where, f"a graph node must be a mapping, not {_describe(child)}")
                stack.append((child, where))


def _pick(docs: list[_Document], source: str, name: str | None) -> tuple[_Document, list[str]]:
    notes: list[str] = []
    seldon = [d for d in docs if _is_seldon(d)]
    if not docs:
        raise _invalid(source, None, "the file is empty: no SeldonDeployment in it")
    if not seldon:
        if len(docs) == 1:
            found = _what(docs[0])
            raise _invalid(source, docs[0].line, f"found {found}, not a SeldonDeployment",
                           f"mlconsole reads kind: {KIND} (apiVersion {API_VERSION})")
        found = ", ".join(f"{_what(d)} at line {d.line}" for d in docs)
        raise _invalid(source, None, f"no SeldonDeployment among its {len(docs)} documents: {found}")

    def doc_name(d: _Document) -> str:
        meta = d.data.get("metadata")
        return str(meta.get("name")) if isinstance(meta, dict) else ""

    if name is not None:
        chosen = [d for d in seldon if doc_name(d) == name]
        if not chosen:
            names = ", ".join(repr(doc_name(d)) for d in seldon)
            raise _invalid(source, None, f"no SeldonDeployment named {name!r}", f"it holds {names}")
        doc = chosen[0]
    else:
        doc = seldon[0]
        if len(seldon) > 1:
            names = ", ".join(repr(doc_name(d)) for d in seldon)
            notes.append(f"{source} holds {len(seldon)} SeldonDeployments ({names}); read the first, "
                         f"{doc_name(doc)!r} (choose another by name)")
    api = doc.data.get("apiVersion")
    if api not in SELDON_API_VERSIONS:
        found = f"apiVersion {api!r}" if api is not None else "no apiVersion"
        raise _invalid(source, doc.lines.get("apiVersion", doc.line), f"a SeldonDeployment with {found}",
                       "mlconsole reads Seldon Core v1: " + ", ".join(SELDON_API_VERSIONS))
    return doc, notes


def load_manifest(text: str, source: str = "<text>", name: str | None = None) -> Deployment:
    """Parse a SeldonDeployment from YAML or JSON text; InvalidSpec says where it is wrong."""
    if not isinstance(text, str):
        raise _invalid(source, None, f"expected text, got {type(text).__name__}")
    docs, json_error = _documents(text, source)
    try:
        doc, notes = _pick(docs, source, name)
        _Shape(doc, source).check(doc.data)
    except InvalidSpec as exc:
        if json_error is not None:  # say both: the JSON slip may be the cause
            exc.hint = "; ".join(h for h in (exc.hint, f"also, as JSON it is invalid: {json_error.message}") if h)
        raise
    if json_error is not None:
        notes.append(f"not valid JSON ({json_error.message}); read as YAML instead")
    dep = deployment_from_dict(doc.data)
    dep.source, dep.lines, dep.line, dep.notes = source, doc.lines, doc.line, notes
    for predictor in dep.predictors:
        predictor.line = doc.lines.get(predictor.path)
        stack = [predictor.graph]
        while stack:
            node = stack.pop()
            node.line = doc.lines.get(node.path)
            stack.extend(node.children)
    return dep


def load_file(path: str | Path, name: str | None = None) -> Deployment:
    """Read a manifest file ('-' reads standard input); InvalidSpec for unreadable files too."""
    source = str(path)
    try:
        if source == "-":
            import sys

            raw = sys.stdin.buffer.read(MAX_BYTES + 1)
            source = "<stdin>"
        else:
            with open(path, "rb") as fh:
                raw = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise _invalid(source, None, "no such file") from None
    except IsADirectoryError:
        raise _invalid(source, None, "is a directory, not a manifest file") from None
    except OSError as exc:
        raise _invalid(source, None, f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise _invalid(source, None, f"larger than {MAX_BYTES // (1024 * 1024)} MB: not a manifest")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _invalid(source, line, f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
                       "save the file as UTF-8; is it a binary file?") from None
    return load_manifest(text, source, name=name)


def dump_yaml(dep: Deployment) -> str:
    """The manifest as block-style YAML, keys in the source's order."""
    return yaml.dump(deployment_to_dict(dep), Dumper=_ManifestDumper, sort_keys=False,
                     allow_unicode=True, default_flow_style=False, width=100)


def dump_json(dep: Deployment) -> str:
    """The manifest as indented JSON, keys in the source's order."""
    return json.dumps(deployment_to_dict(dep), indent=2, ensure_ascii=False) + "\n"


def dump_documents(documents: list[dict[str, Any]]) -> str:
    """Several manifests as one multi-document YAML stream (for exports)."""
    return yaml.dump_all(documents, Dumper=_ManifestDumper, sort_keys=False, allow_unicode=True,
                         default_flow_style=False, width=100)
