"""Turn kubernetes client failures into the console's typed errors."""

from __future__ import annotations

import json

from console.errors import BackendUnavailable, Conflict, ConsoleError, Forbidden, InvalidSpec, NotFound

SELDON_HINT = (
    "install Seldon Core v1 (its SeldonDeployment CRD, machinelearning.seldon.io/v1) in this cluster, "
    "or pick another context with --context"
)


def _reason(exc) -> str:
    body = getattr(exc, "body", None)
    if body:
        try:
            return json.loads(body).get("message", "") or str(body)[:200]
        except (ValueError, AttributeError, TypeError):
            return str(body)[:200]
    return getattr(exc, "reason", "") or str(exc)


def translate(exc: BaseException, endpoint: str, what: str = "") -> ConsoleError:
    """Map ApiException / urllib3 / config errors to typed port errors."""
    if isinstance(exc, ConsoleError):
        return exc
    status = getattr(exc, "status", None)
    name = type(exc).__name__
    if name == "ConfigException":
        return BackendUnavailable(f"kubeconfig problem: {exc}",
                                  hint="check KUBECONFIG and the context name (kubectl config get-contexts)")
    if status == 401:
        return Forbidden(f"cluster {endpoint} rejected our credentials (401): {_reason(exc)}",
                         hint="refresh the token or exec credentials of this kubeconfig context", target=what)
    if status == 403:
        return Forbidden(f"forbidden (403) on {what or 'the request'}: {_reason(exc)}",
                         hint="ask for RBAC permission on this resource, or use a context that has it",
                         target=what)
    if status == 404:
        return NotFound(f"{what or 'resource'} not found on {endpoint}: {_reason(exc)}", target=what)
    if status == 409:
        return Conflict(f"{what or 'resource'} changed or already exists: {_reason(exc)}",
                        hint="reload and try again", target=what)
    if status in (400, 422):
        return InvalidSpec(f"cluster rejected {what or 'the request'}: {_reason(exc)}", target=what)
    if status is not None:
        return BackendUnavailable(f"cluster {endpoint} answered HTTP {status}: {_reason(exc)}", target=what)
    return BackendUnavailable(f"cluster {endpoint} is unreachable: {name}: {str(exc)[:200]}",
                              hint="check the network, the VPN, or the server URL in kubeconfig", target=what)
