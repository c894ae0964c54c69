"""Raw JSON requests to one Kubernetes API server, through the official client's connection.

The client's connection does what kubectl's does (kubeconfig, TLS, token, client certificate,
exec plugins, token refresh); we skip its model classes: thousands of pods parsed into pydantic
objects cost seconds and megabytes, where a JSON dict of what we read costs little. Every
failure leaves here as a typed port error (backends/kubernetes/errors.py).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

from backends.kubernetes.errors import translate
from backends.kubernetes.kubeconfig import new_api_client

CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 15.0
JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
FIELD_MANAGER = "mlconsole"


class HttpFailure(Exception):
    """An HTTP error answer, shaped as translate() reads ApiException (status, reason, body)."""

    def __init__(self, status: int, reason: str, body: str, headers: Any = None) -> None:
        super().__init__(f"HTTP {status} {reason}")
        self.status = status
        self.reason = reason
        self.body = body
        self.headers = headers


def _query(params: dict[str, Any] | None) -> list[tuple[str, str]]:
    out = []
    for key, value in (params or {}).items():
        if value is None or value is False:
            continue
        out.append((key, "true" if value is True else str(value)))
    return out


class KubeApi:
    """One context's API server: request() for JSON, stream() for watches and followed logs."""

    def __init__(self, context: str, endpoint: str) -> None:
        self.context = context
        self.endpoint = endpoint
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        """The kubernetes ApiClient, built (kubeconfig read, exec plugin run) on first use."""
        with self._lock:
            if self._client is None:
                self._client = new_api_client(self.context)
            return self._client

    def _send(self, method: str, path: str, params: dict[str, Any] | None, body: Any, content_type: str,
              timeout: Any, what: str) -> Any:
        try:
            client = self.client
            headers = {"Accept": JSON}
            if body is not None:
                headers["Content-Type"] = content_type
            method, url, headers, body, _ = client.param_serialize(
                method, path, query_params=_query(params), header_params=headers, body=body,
                auth_settings=["BearerToken"])
            response = client.call_api(method, url, headers, body, _request_timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - the connection's failures, typed at the port
            raise translate(exc, self.endpoint, what) from exc
        if response.status >= 400:
            text = response.read().decode("utf-8", "replace")
            raise translate(HttpFailure(response.status, response.reason or "", text, response.headers),
                            self.endpoint, what)
        return response

    def request(self, method: str, path: str, what: str, params: dict[str, Any] | None = None,
                body: Any = None, content_type: str = JSON, timeout: float = READ_TIMEOUT,
                raw: bool = False) -> Any:
        """One request: the answer's JSON (or its text with raw=True). Raises typed port errors."""
        response = self._send(method, path, params, body, content_type, (CONNECT_TIMEOUT, timeout), what)
        data = response.read()
        if raw:
            return data.decode("utf-8", "replace")
        if not data:
            return None
        try:
            return json.loads(data)
        except ValueError as exc:
            raise translate(HttpFailure(502, "not JSON", data[:200].decode("utf-8", "replace")),
                            self.endpoint, what) from exc

    def stream(self, path: str, what: str, params: dict[str, Any] | None = None,
               read_timeout: float = 60.0) -> StreamedLines:
        """A GET whose answer arrives line by line (a watch, followed logs)."""
        response = self._send("GET", path, params, None, JSON, (CONNECT_TIMEOUT, read_timeout), what)
        return StreamedLines(response.response, self.endpoint, what)


class StreamedLines:
    """Lines of a streamed answer; close() from another thread ends a blocked read."""

    def __init__(self, response: Any, endpoint: str, what: str) -> None:
        self.response = response
        self.endpoint = endpoint
        self.what = what
        self.closed = False

    def __iter__(self) -> Iterator[str]:
        buffer = b""
        try:
            for chunk in self.response.stream(amt=None, decode_content=False):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    yield line.decode("utf-8", "replace")
            if buffer:
                yield buffer.decode("utf-8", "replace")
        except Exception as exc:  # noqa: BLE001 - a read timeout or a dropped connection
            if not self.closed:
                raise translate(exc, self.endpoint, self.what) from exc

    def close(self) -> None:
        self.closed = True
        try:
            shutdown = getattr(self.response, "shutdown", None)
            if shutdown is not None:  # urllib3 >= 2.3 unblocks a read in another thread
                shutdown()
            self.response.release_conn()
        except Exception:  # noqa: BLE001, S110 - closing what already closed
            pass
