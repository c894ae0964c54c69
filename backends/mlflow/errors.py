"""Turn MLflow and HTTP failures into the console's typed errors."""

from __future__ import annotations

from console.errors import BackendUnavailable, ConsoleError, Forbidden, InvalidSpec, NotFound

CREDENTIALS_HINT = (
    "set MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, "
    "for this tracking server"
)


def translate(exc: BaseException, endpoint: str, what: str = "") -> ConsoleError:
    """Map an exception from the mlflow client to a ConsoleError a person can act on."""
    if isinstance(exc, ConsoleError):
        return exc
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    code = getattr(exc, "error_code", "")
    status = None
    get_status = getattr(exc, "get_http_status_code", None)
    if callable(get_status):
        try:
            status = int(get_status())
        except (TypeError, ValueError):
            status = None
    if code == "RESOURCE_DOES_NOT_EXIST" or status == 404:
        return NotFound(f"{what or 'object'} not found in registry {endpoint}: {text}", target=what)
    if code in ("UNAUTHENTICATED",) or status == 401 or "401" in text.split(":")[0]:
        return Forbidden(f"registry {endpoint} wants credentials (401)", hint=CREDENTIALS_HINT, target=what)
    if code in ("PERMISSION_DENIED",) or status == 403:
        return Forbidden(f"registry {endpoint} refused access (403)", hint=CREDENTIALS_HINT, target=what)
    if code in ("INVALID_PARAMETER_VALUE", "RESOURCE_ALREADY_EXISTS"):
        return InvalidSpec(f"registry rejected the request: {text}", target=what)
    name = type(exc).__name__
    if name in ("ConnectionError", "ConnectTimeout", "ReadTimeout", "MaxRetryError", "Timeout") \
            or "Max retries exceeded" in text or "Connection refused" in text:
        return BackendUnavailable(f"registry {endpoint} is unreachable",
                                  hint="start the MLflow server or check --registry / MLFLOW_TRACKING_URI",
                                  target=what)
    return BackendUnavailable(f"registry {endpoint} failed: {text}", target=what)
