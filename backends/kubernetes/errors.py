"""Turn kubernetes client failures into the console's typed errors, with what to do about them."""

from __future__ import annotations

import json

from console.errors import BackendUnavailable, Conflict, ConsoleError, Forbidden, InvalidSpec, NotFound

SELDON_HINT = (
    "install Seldon Core v1 (its SeldonDeployment CRD, machinelearning.seldon.io/v1) in this cluster, "
    "e.g. `helm install seldon-core seldon-core-operator --repo https://storage.googleapis.com/seldon-charts "
    "--namespace seldon-system --create-namespace`, or pick another context with --context / :ctx"
)


class ResourceExpired(BackendUnavailable):
    """HTTP 410: a watch's or a paged list's resourceVersion is too old; list again (never shown)."""


class UnsupportedPatch(InvalidSpec):
    """HTTP 415: the server does not take this patch type (server-side apply before 1.16)."""


def _reason(exc) -> str:
    body = getattr(exc, "body", None)
    if body:
        try:
            return json.loads(body).get("message", "") or str(body)[:200]
        except (ValueError, AttributeError, TypeError):
            return str(body)[:200]
    return getattr(exc, "reason", "") or str(exc)


def _is_timeout(exc: BaseException) -> bool:
    names = {type(e).__name__ for e in (exc, exc.__cause__, exc.__context__, *getattr(exc, "args", ())[1:2])
             if isinstance(e, BaseException)}
    text = str(exc).lower()
    return bool(names & {"ReadTimeoutError", "ConnectTimeoutError", "TimeoutError", "timeout"}) \
        or "timed out" in text


def translate(exc: BaseException, endpoint: str, what: str = "") -> ConsoleError:
    """Map ApiException / urllib3 / config errors to typed port errors."""
    if isinstance(exc, ConsoleError):
        return exc
    status = getattr(exc, "status", None)
    name = type(exc).__name__
    target = what or "the request"
    if name == "ConfigException":
        return BackendUnavailable(f"kubeconfig problem: {exc}",
                                  hint="check KUBECONFIG and the context name (kubectl config get-contexts)")
    if status == 401:
        return Forbidden(f"cluster {endpoint} rejected our credentials (401): {_reason(exc)}",
                         hint="refresh the token or exec credentials of this kubeconfig context "
                              "(e.g. log in again), then retry", target=what)
    if status == 403:
        return Forbidden(f"forbidden (403) on {target}: {_reason(exc)}",
                         hint="ask your cluster admin for this RBAC permission, or use a context that has it",
                         target=what)
    if status == 404:
        return NotFound(f"{what or 'resource'} not found on {endpoint}: {_reason(exc)}", target=what)
    if status == 409:
        return Conflict(f"{what or 'resource'} changed or already exists (409): {_reason(exc)}",
                        hint="reload and try again", target=what)
    if status == 410:
        return ResourceExpired(f"{target}: resource version expired (410): {_reason(exc)}", target=what)
    if status == 415:
        return UnsupportedPatch(f"cluster {endpoint} does not accept this change's format (415): {_reason(exc)}",
                                target=what)
    if status in (400, 422):
        return InvalidSpec(f"cluster rejected {target}: {_reason(exc)}",
                           hint="fix the manifest where the message points", target=what)
    if status == 429:
        return BackendUnavailable(f"cluster {endpoint} is throttling us (429): {_reason(exc)}",
                                  hint="wait a little and retry", target=what)
    if status is not None and status >= 500:
        return BackendUnavailable(f"cluster {endpoint} failed (HTTP {status}) on {target}: {_reason(exc)}",
                                  hint="the API server or a webhook is unwell; retry, or ask the cluster admin",
                                  target=what)
    if status is not None:
        return BackendUnavailable(f"cluster {endpoint} answered HTTP {status} on {target}: {_reason(exc)}",
                                  target=what)
    if _is_timeout(exc):
        return BackendUnavailable(f"cluster {endpoint} did not answer in time ({target})",
                                  hint="the API server is slow or unreachable: check the VPN / network and retry",
                                  target=what)
    return BackendUnavailable(f"cluster {endpoint} is unreachable: {name}: {str(exc)[:200]}",
                              hint="check the network, the VPN, or the server URL in kubeconfig", target=what)
