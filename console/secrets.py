"""Keep secrets off the screen and out of logs."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "****"

_SECRET_NAME = re.compile(r"(KEY|TOKEN|PASSWORD|PASSWD|SECRET|CREDENTIAL)", re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    """True for names like AWS_SECRET_ACCESS_KEY, MLFLOW_TRACKING_TOKEN, db_password."""
    return bool(_SECRET_NAME.search(name))


def mask_value(name: str, value: str) -> str:
    """The value to show for a setting or environment variable called `name`."""
    if is_secret_name(name):
        return MASK if value else ""
    return mask_uri(value)


def mask_uri(uri: str) -> str:
    """Hide the password in user:password@host and secret-looking query parameters."""
    if "://" not in uri:
        return uri
    try:
        parts = urlsplit(uri)
    except ValueError:
        return uri
    netloc = parts.netloc
    secret_query = any(is_secret_name(k) for k, _ in parse_qsl(parts.query, keep_blank_values=True))
    if "@" not in netloc and not secret_query:
        return uri  # rebuilding would drop the empty authority of sqlite:////abs/path
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{host}" if ":" in userinfo else f"{MASK}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, MASK if is_secret_name(k) else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_mapping(values: dict[str, str]) -> dict[str, str]:
    """A copy of an environment-like mapping with secret values masked."""
    return {k: mask_value(k, v) for k, v in values.items()}
