"""Seldon v1 JSON messages, in and out: parsing with located errors, and encoding.

A request is a SeldonMessage (`data` with `names` and `ndarray` or `tensor`, or `jsonData`,
`strData`, `binData`, plus `meta`); a feedback is a Feedback (`request`, `response`,
`reward`, `truth`). Anything malformed raises InvalidSpec saying where and what, never
another exception, because these arrive from clients over HTTP.

numpy is imported only where arrays are built: parsing and encoding plain lists stay cheap.
"""

from __future__ import annotations

import base64
import binascii
import math
import uuid
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any

from console.errors import InvalidSpec

DATA_KINDS = ("ndarray", "tensor")
KINDS = ("ndarray", "tensor", "jsonData", "strData", "binData")
_ONE_OF = ("data", "jsonData", "strData", "binData")
MAX_TENSOR_VALUES = 50_000_000  # a shape that asks for more is a typo, not a request


@dataclass(slots=True)
class Payload:
    """One message between nodes: its encoding kind, column names, data and request meta.

    For `ndarray` the data is a list of rows (JSON lists, as received) or a numpy array;
    for `tensor` a numpy array; for `jsonData` any JSON value; for `strData` a str; for
    `binData` bytes. Payloads are never mutated once built: traces keep them.
    """

    kind: str
    names: list[str]
    data: Any
    meta: dict[str, Any] = field(default_factory=dict)

    def rows(self) -> list[list[Any]]:
        """The data as a list of rows of plain Python values (a 1-D list is one row)."""
        data = self.data
        if hasattr(data, "tolist"):
            data = data.tolist()
        if not isinstance(data, list):
            raise InvalidSpec(f"{self.kind} payload has no rows")
        if data and not isinstance(data[0], list):
            return [data]
        return data

    def array(self):
        """The data as numpy builds it from the message, exactly as Seldon's wrapper does."""
        import numpy as np

        return self.data if isinstance(self.data, np.ndarray) else np.array(self.data)

    def is_tabular(self) -> bool:
        """True for `data` payloads (ndarray or tensor)."""
        return self.kind in DATA_KINDS


# -- parsing ---------------------------------------------------------------------------


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number" if isinstance(value, Real) else type(value).__name__)


def _names(data: dict[str, Any], where: str) -> list[str]:
    names = data.get("names")
    if names is None:
        return []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InvalidSpec(f"{where}.names must be a list of strings, got {_short(names)}", location=f"{where}.names")
    return names


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_ndarray(rows: Any, names: list[str], where: str) -> None:
    if not isinstance(rows, list):
        raise InvalidSpec(f"{where}.ndarray must be a list, got {_type_name(rows)}", location=f"{where}.ndarray")
    if not rows:
        return
    nested = isinstance(rows[0], list)
    width = None
    for i, row in enumerate(rows):
        if isinstance(row, list) != nested:
            raise InvalidSpec(f"{where}.ndarray mixes rows and single values (row {i} is {_type_name(row)})",
                              location=f"{where}.ndarray[{i}]")
        if not nested:
            if isinstance(row, dict):
                raise InvalidSpec(f"{where}.ndarray[{i}] is an object; put objects in jsonData",
                                  location=f"{where}.ndarray[{i}]")
            continue
        if names and len(row) != len(names):
            raise InvalidSpec(f"{where}.ndarray row {i} has {len(row)} values but names has {len(names)}",
                              location=f"{where}.ndarray[{i}]")
        if width is None:
            width = len(row)
        elif len(row) != width:
            raise InvalidSpec(f"{where}.ndarray row {i} has {len(row)} values but row 0 has {width}",
                              location=f"{where}.ndarray[{i}]")
        # Cells are not inspected one by one: that would make parsing cost O(cells) per request.
    if not nested and names and len(rows) != len(names):
        raise InvalidSpec(f"{where}.ndarray has {len(rows)} values but names has {len(names)}",
                          location=f"{where}.ndarray")


def _tensor(tensor: Any, names: list[str], where: str):
    import numpy as np

    loc = f"{where}.tensor"
    if not isinstance(tensor, dict):
        raise InvalidSpec(f"{loc} must be an object with shape and values, got {_type_name(tensor)}", location=loc)
    shape, values = tensor.get("shape"), tensor.get("values")
    if not isinstance(shape, list) or not all(isinstance(s, Integral) and not isinstance(s, bool) and s >= 0
                                             for s in shape):
        raise InvalidSpec(f"{loc}.shape must be a list of non-negative integers, got {_short(shape)}",
                          location=f"{loc}.shape")
    if not isinstance(values, list):
        raise InvalidSpec(f"{loc}.values must be a list of numbers, got {_type_name(values)}",
                          location=f"{loc}.values")
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, Real):
            raise InvalidSpec(f"{loc}.values[{i}] is {_short(v)}, not a number", location=f"{loc}.values[{i}]")
    needed = math.prod(shape) if shape else len(values)
    if needed > MAX_TENSOR_VALUES or needed != len(values):
        raise InvalidSpec(f"{loc} has {len(values)} values but shape {shape} needs {needed}", location=loc)
    if names and len(shape) == 2 and shape[1] != len(names):
        raise InvalidSpec(f"{loc} has {shape[1]} columns but names has {len(names)}", location=loc)
    try:
        array = np.array(values, dtype=float)
    except (OverflowError, ValueError) as exc:
        raise InvalidSpec(f"{loc}.values cannot be read as numbers: {exc}", location=f"{loc}.values") from exc
    return array.reshape(shape) if shape else array


def _meta(message: dict[str, Any], where: str) -> dict[str, Any]:
    meta = message.get("meta")
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise InvalidSpec(f"{where}meta must be an object, got {_type_name(meta)}", location=f"{where}meta")
    puid = meta.get("puid")
    if puid is not None and not isinstance(puid, str):
        raise InvalidSpec(f"{where}meta.puid must be a string, got {_type_name(puid)}", location=f"{where}meta.puid")
    for key in ("tags", "routing", "requestPath"):
        if meta.get(key) is not None and not isinstance(meta[key], dict):
            raise InvalidSpec(f"{where}meta.{key} must be an object, got {_type_name(meta[key])}",
                              location=f"{where}meta.{key}")
    routing = meta.get("routing") or {}
    for name, route in routing.items():
        if isinstance(route, bool) or not isinstance(route, Integral):
            raise InvalidSpec(f"{where}meta.routing.{name} must be an integer, got {_short(route)}",
                              location=f"{where}meta.routing.{name}")
    return meta


def parse_message(message: Any, where: str = "") -> Payload:
    """A SeldonMessage dict as a Payload; InvalidSpec names the field that is wrong."""
    prefix = f"{where}." if where else ""
    label = where or "request"
    if not isinstance(message, dict):
        raise InvalidSpec(f"{label} must be a JSON object, got {_type_name(message)}", location=where)
    present = [k for k in _ONE_OF if message.get(k) is not None]
    if not present:
        others = ", ".join(sorted(str(k) for k in message)) or "none"
        raise InvalidSpec(f"{label} has no data: expected one of data, jsonData, strData or binData "
                          f"(keys present: {others})", location=where)
    if len(present) > 1:
        raise InvalidSpec(f"{label} has both {present[0]} and {present[1]}: a SeldonMessage carries one",
                          location=where)
    meta = _meta(message, prefix)
    key = present[0]
    value = message[key]
    if key == "jsonData":
        return Payload("jsonData", [], value, meta)
    if key == "strData":
        if not isinstance(value, str):
            raise InvalidSpec(f"{prefix}strData must be a string, got {_type_name(value)}", location=f"{prefix}strData")
        return Payload("strData", [], value, meta)
    if key == "binData":
        if not isinstance(value, str):
            raise InvalidSpec(f"{prefix}binData must be a base64 string, got {_type_name(value)}",
                              location=f"{prefix}binData")
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidSpec(f"{prefix}binData is not valid base64: {exc}", location=f"{prefix}binData") from exc
        return Payload("binData", [], raw, meta)
    return _data(value, meta, f"{prefix}data")


def _data(data: Any, meta: dict[str, Any], where: str) -> Payload:
    if not isinstance(data, dict):
        raise InvalidSpec(f"{where} must be an object with names and ndarray or tensor, got {_type_name(data)}",
                          location=where)
    names = _names(data, where)
    kinds = [k for k in ("ndarray", "tensor", "tftensor") if data.get(k) is not None]
    if not kinds:
        raise InvalidSpec(f"{where} has neither ndarray nor tensor", location=where)
    if len(kinds) > 1:
        raise InvalidSpec(f"{where} has both {kinds[0]} and {kinds[1]}: give one", location=where)
    if kinds[0] == "tftensor":
        raise InvalidSpec(f"{where}.tftensor is not supported in-process", hint="send ndarray or tensor",
                          location=f"{where}.tftensor")
    if kinds[0] == "ndarray":
        _check_ndarray(data["ndarray"], names, where)
        return Payload("ndarray", names, data["ndarray"], meta)
    return Payload("tensor", names, _tensor(data["tensor"], names, where), meta)


def parse_feedback(feedback: Any) -> tuple[Payload | None, dict[str, Any], float, Payload | None]:
    """A Feedback dict as (request, response meta, reward, truth); InvalidSpec when malformed."""
    if not isinstance(feedback, dict):
        raise InvalidSpec(f"feedback must be a JSON object, got {_type_name(feedback)}")
    reward = feedback.get("reward", 0.0)
    if reward is None:
        reward = 0.0
    if isinstance(reward, bool) or not isinstance(reward, Real) or not math.isfinite(reward):
        raise InvalidSpec(f"feedback.reward must be a finite number, got {_short(reward)}", location="reward")
    request = parse_message(feedback["request"], "request") if feedback.get("request") is not None else None
    truth = parse_message(feedback["truth"], "truth") if feedback.get("truth") is not None else None
    response = feedback.get("response")
    meta: dict[str, Any] = {}
    if response is not None:
        if not isinstance(response, dict):
            raise InvalidSpec(f"feedback.response must be an object, got {_type_name(response)}", location="response")
        meta = _meta(response, "response.")
    return request, meta, float(reward), truth


def new_puid() -> str:
    """A fresh prediction id for requests that bring none (Seldon generates one too)."""
    return uuid.uuid4().hex


# -- encoding --------------------------------------------------------------------------


def encode_data(payload: Payload) -> dict[str, Any]:
    """The payload's part of a SeldonMessage: {"data": ...} or {"jsonData": ...} etc."""
    kind, data = payload.kind, payload.data
    if kind == "ndarray":
        return {"data": {"names": list(payload.names),
                         "ndarray": data.tolist() if hasattr(data, "tolist") else data}}
    if kind == "tensor":
        shape = list(getattr(data, "shape", ()))
        values = data.ravel().tolist() if hasattr(data, "ravel") else list(data)
        return {"data": {"names": list(payload.names), "tensor": {"shape": shape, "values": values}}}
    if kind == "binData":
        return {"binData": base64.b64encode(data).decode("ascii")}
    return {kind: data}


def encode_message(payload: Payload, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """A full SeldonMessage dict for the payload, with the given meta."""
    out = encode_data(payload)
    out["meta"] = meta if meta is not None else dict(payload.meta)
    return out


# -- component results -----------------------------------------------------------------


def default_class_names(array) -> list[str]:
    """Seldon's names for an output without class names: t:0, t:1, ... for 2-D, none for 1-D."""
    shape = getattr(array, "shape", ())
    return [f"t:{i}" for i in range(shape[1])] if len(shape) > 1 else []


def payload_from_result(value: Any, like: Payload, names: list[str] | None = None) -> Payload:
    """A component's return value as a Payload, encoded by Seldon's wrapper rules.

    Arrays keep the request's data kind when numeric and become ndarray otherwise; after a
    jsonData or strData request a numeric array becomes a tensor. Dicts become jsonData,
    strings strData, bytes binData. `names=None` means Seldon's default class names.
    """
    import numpy as np

    if isinstance(value, Payload):
        return value
    if isinstance(value, dict):
        return Payload("jsonData", [], value, like.meta)
    if isinstance(value, str):
        return Payload("strData", [], value, like.meta)
    if isinstance(value, (bytes, bytearray)):
        return Payload("binData", [], bytes(value), like.meta)
    columns = getattr(value, "columns", None)  # a pandas DataFrame: its columns are the names
    if columns is not None and hasattr(value, "to_numpy"):
        names = [str(c) for c in columns] if names is None else names
        value = value.to_numpy()
    elif hasattr(value, "to_numpy") and not isinstance(value, np.ndarray):
        value = value.to_numpy()  # a Series
    if value is None or not isinstance(value, (list, tuple, np.ndarray, np.generic, int, float)):
        raise TypeError(f"unknown data type returned as payload: {type(value).__name__}")
    array = np.asarray(value)
    numeric = np.issubdtype(array.dtype, np.number)
    if like.kind in DATA_KINDS:
        kind = like.kind if numeric else "ndarray"
    else:
        kind = "tensor" if numeric else "ndarray"
    if names is None:
        names = default_class_names(array)
    return Payload(kind, list(names), array, like.meta)
