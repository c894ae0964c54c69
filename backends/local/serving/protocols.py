"""Wire formats of the serving processes: Seldon v1 error bodies and Open Inference (V2) <-> Seldon v1.

V2 requests become Seldon messages so one executor serves both protocols:
- several inputs, or one 1-D input, or `parameters.content_type: "pd"` (MLServer's pandas
  codec): a table, one column per input ([N] or [N, 1] each), `names` = the input names;
- one 2-D input [N, M]: an ndarray of N rows (no names: a model with a signature names them);
- one input of 3 or more dimensions: a Seldon tensor (numeric only).
Responses go back the same way: a table request gets one output per column (shape [N], as
MLServer's pandas codec answers); otherwise one output, `predict`, shaped like the data
(mixed-type tables are split into columns, since a V2 tensor has one datatype). The request's
`id` is the Seldon puid, so V2 and v1 traffic join on the same id.
"""

from __future__ import annotations

import base64
import json
import math
from numbers import Integral, Real
from typing import Any

from console.errors import InvalidSpec

V2_NUMERIC = ("UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64")
V2_DATATYPES = ("BOOL", *V2_NUMERIC, "BYTES")
_INTEGER_TYPES = frozenset(t for t in V2_NUMERIC if "INT" in t)
_BIG = 10_000  # values: past this, numpy checks a tensor's values faster than a Python loop
MAX_V2_VALUES = 50_000_000


# -- errors ------------------------------------------------------------------------------


def seldon_failure(code: int, info: str) -> dict[str, Any]:
    """Seldon's error body: {"status": {"code", "info", "reason", "status": "FAILURE"}}."""
    reason = "MICROSERVICE_BAD_DATA" if 400 <= code < 500 else "MICROSERVICE_INTERNAL_ERROR"
    return {"status": {"code": code, "info": info, "reason": reason, "status": "FAILURE"}}


def v2_error(message: str) -> dict[str, Any]:
    """The Open Inference Protocol's error body."""
    return {"error": message}


def _default(value: Any) -> Any:
    """numpy scalars and arrays (components put them in tags and jsonData) as plain JSON."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def dumps(value: Any) -> bytes:
    """Compact JSON bytes. NaN stays NaN (as Seldon's Python wrapper writes it): null would lose it."""
    return json.dumps(value, separators=(",", ":"), default=_default).encode()


# -- V2 request -> Seldon v1 -----------------------------------------------------------------


class V2Request:
    """A decoded V2 inference request: the Seldon message plus what the answer must look like."""

    __slots__ = ("message", "columnar", "outputs", "id")

    def __init__(self, message: dict[str, Any], columnar: bool, outputs: list[str] | None, id: str | None) -> None:
        self.message = message
        self.columnar = columnar
        self.outputs = outputs
        self.id = id


def _flatten(data: list[Any]) -> list[Any]:
    out: list[Any] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            out.append(item)
        else:
            stack.pop()
    return out


def _check_values(values: list[Any], datatype: str, where: str) -> None:
    """InvalidSpec unless every value fits the declared datatype."""
    if datatype == "BYTES":
        for i, v in enumerate(values):
            if not isinstance(v, str):
                raise InvalidSpec(f"{where}.data[{i}] is {v!r}: BYTES data must be strings")
        return
    if datatype == "BOOL":
        for i, v in enumerate(values):
            if not isinstance(v, bool):
                raise InvalidSpec(f"{where}.data[{i}] is {v!r}: BOOL data must be true or false")
        return
    integer = datatype in _INTEGER_TYPES
    if len(values) > _BIG and not integer:
        import numpy as np

        try:
            np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidSpec(f"{where}.data holds a value that is not a number ({datatype}): {exc}") from exc
        return
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, Real) or (integer and not isinstance(v, Integral)):
            if v is None and not integer:
                continue  # a missing value in a float column: pandas reads it as NaN
            kind = "an integer" if integer else "a number"
            raise InvalidSpec(f"{where}.data[{i}] is {v!r}, not {kind} ({datatype})")


def _input(raw: Any, i: int) -> tuple[str, list[int], str, list[Any]]:
    where = f"inputs[{i}]"
    if not isinstance(raw, dict):
        raise InvalidSpec(f"{where} must be an object with name, shape, datatype and data")
    name, shape, datatype, data = raw.get("name"), raw.get("shape"), raw.get("datatype"), raw.get("data")
    if not isinstance(name, str) or not name:
        raise InvalidSpec(f"{where}.name must be a non-empty string")
    where = f"input {name!r}"
    if not isinstance(shape, list) or not all(isinstance(s, Integral) and not isinstance(s, bool) and s >= 0
                                             for s in shape):
        raise InvalidSpec(f"{where}: shape must be a list of non-negative integers, got {shape!r}")
    if datatype not in V2_DATATYPES:
        raise InvalidSpec(f"{where}: datatype {datatype!r} is not one of {', '.join(V2_DATATYPES)}")
    if not isinstance(data, list):
        raise InvalidSpec(f"{where}: data must be a list, got {type(data).__name__}")
    values = _flatten(data) if any(isinstance(v, list) for v in data) else data
    needed = math.prod(shape)
    if needed > MAX_V2_VALUES or needed != len(values):
        raise InvalidSpec(f"{where}: data has {len(values)} values but shape {shape} needs {needed}")
    _check_values(values, datatype, where)
    return name, [int(s) for s in shape], datatype, values


def v2_to_seldon(body: Any) -> V2Request:
    """The Seldon v1 message for a V2 inference request; InvalidSpec saying what is wrong."""
    if not isinstance(body, dict):
        raise InvalidSpec("the inference request must be a JSON object with inputs")
    raw_inputs = body.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise InvalidSpec("the inference request has no inputs: expected "
                          '{"inputs": [{"name", "shape", "datatype", "data"}]}')
    inputs = [_input(raw, i) for i, raw in enumerate(raw_inputs)]
    request_id = body.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InvalidSpec(f"id must be a string, got {request_id!r}")
    outputs = body.get("outputs")
    wanted = None
    if outputs is not None:
        if not isinstance(outputs, list) or not all(isinstance(o, dict) and isinstance(o.get("name"), str)
                                                    for o in outputs):
            raise InvalidSpec('outputs must be a list of {"name": ...} objects')
        wanted = [o["name"] for o in outputs] or None
    params = body.get("parameters")
    content_type = params.get("content_type") if isinstance(params, dict) else None
    names = [name for name, *_ in inputs]
    if len(set(names)) != len(names):
        raise InvalidSpec(f"input names repeat: {', '.join(sorted({n for n in names if names.count(n) > 1}))}")
    columnar = len(inputs) > 1 or content_type == "pd" or len(inputs[0][1]) == 1
    meta: dict[str, Any] = {"puid": request_id} if request_id else {}
    if columnar:
        rows = _table(inputs)
        message = {"data": {"names": names, "ndarray": rows}}
    else:
        name, shape, datatype, values = inputs[0]
        if len(shape) == 2:
            n, m = shape
            message = {"data": {"names": [], "ndarray": [values[r * m:(r + 1) * m] for r in range(n)]}}
        elif len(shape) == 0:
            raise InvalidSpec(f"input {name!r} has shape []: give at least one dimension")
        else:
            if datatype in ("BYTES", "BOOL"):
                raise InvalidSpec(f"input {name!r}: a {len(shape)}-D tensor must be numeric, not {datatype}")
            message = {"data": {"names": [], "tensor": {"shape": shape, "values": values}}}
    if meta:
        message["meta"] = meta
    return V2Request(message, columnar, wanted, request_id)


def _table(inputs: list[tuple[str, list[int], str, list[Any]]]) -> list[list[Any]]:
    """Rows from one column per input (each [N] or [N, 1])."""
    length = None
    for name, shape, _, _ in inputs:
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
            raise InvalidSpec(f"input {name!r} has shape {shape}: with several inputs (one column each) "
                              "every input must be [N] or [N, 1]",
                              hint="send one [N, M] input for a plain matrix")
        if length is None:
            length = shape[0]
        elif shape[0] != length:
            raise InvalidSpec(f"input {name!r} has {shape[0]} rows but {inputs[0][0]!r} has {length}")
    return [list(row) for row in zip(*(values for *_, values in inputs), strict=True)]


# -- Seldon v1 response -> V2 ----------------------------------------------------------------


def _datatype(values: list[Any]) -> str:
    if not values:
        return "FP64"
    kinds = {type(v) for v in values}
    if kinds <= {bool}:
        return "BOOL"
    if kinds <= {int}:
        return "INT64"
    if kinds <= {int, float, type(None)} and not (kinds <= {type(None)}):
        return "FP64"
    return "BYTES"


def _as_datatype(values: list[Any], datatype: str) -> list[Any]:
    if datatype == "BYTES":
        return [v if isinstance(v, str) else json.dumps(v) for v in values]
    return values


def _output(name: str, shape: list[int], values: list[Any], names: list[str] | None = None) -> dict[str, Any]:
    datatype = _datatype(values)
    out: dict[str, Any] = {"name": name, "shape": shape, "datatype": datatype,
                           "data": _as_datatype(values, datatype)}
    if names:
        out["parameters"] = {"names": names}
    return out


def _shape_and_values(ndarray: Any) -> tuple[list[int], list[Any]]:
    if not isinstance(ndarray, list):
        return [1], [ndarray]
    shape = []
    probe: Any = ndarray
    while isinstance(probe, list):
        shape.append(len(probe))
        probe = probe[0] if probe else None
    values = _flatten(ndarray) if len(shape) > 1 else ndarray
    if math.prod(shape) != len(values):  # ragged: keep it whole, one value per row
        return [len(ndarray)], [json.dumps(row) if isinstance(row, list) else row for row in ndarray]
    return shape, values


def seldon_to_v2(response: dict[str, Any], request: V2Request, model_name: str) -> dict[str, Any]:
    """The V2 inference response for a Seldon v1 response to `request`."""
    meta = response.get("meta") or {}
    out: dict[str, Any] = {"model_name": model_name, "id": request.id or meta.get("puid") or ""}
    params = {k: meta[k] for k in ("puid", "tags", "routing") if meta.get(k)}
    if params:
        out["parameters"] = params
    data = response.get("data")
    if not isinstance(data, dict):
        for key, name in (("jsonData", "json"), ("strData", "str"), ("binData", "bin")):
            if key in response:
                value = response[key]
                text = value if isinstance(value, str) else json.dumps(value)
                out["outputs"] = [{"name": name, "shape": [1], "datatype": "BYTES", "data": [text]}]
                return out
        out["outputs"] = []
        return out
    names = list(data.get("names") or [])
    if "tensor" in data:
        tensor = data["tensor"] or {}
        shape, values = list(tensor.get("shape") or []), list(tensor.get("values") or [])
    else:
        shape, values = _shape_and_values(data.get("ndarray", []))
    outputs = _columns(shape, values, names) if len(shape) == 2 else None
    whole = _output("predict", shape, values, names if len(shape) == 2 else None)
    if request.outputs:
        by_name = {o["name"]: o for o in (outputs or [])}
        by_name.setdefault("predict", whole)
        missing = [n for n in request.outputs if n not in by_name]
        if missing:
            raise InvalidSpec(f"no output named {', '.join(map(repr, missing))}",
                              hint=f"outputs: {', '.join(by_name)}")
        out["outputs"] = [by_name[n] for n in request.outputs]
    elif outputs is not None and (request.columnar or whole["datatype"] == "BYTES" and _mixed(outputs)):
        out["outputs"] = outputs
    else:
        out["outputs"] = [whole]
    return out


def _mixed(outputs: list[dict[str, Any]]) -> bool:
    return len({o["datatype"] for o in outputs}) > 1


def _columns(shape: list[int], values: list[Any], names: list[str]) -> list[dict[str, Any]]:
    n, m = shape
    if len(names) != m:
        names = [f"t:{j}" for j in range(m)]
    return [_output(names[j], [n], values[j::m]) for j in range(m)]
