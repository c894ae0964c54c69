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


# NAME=value, NAME: value and "name": "value" where NAME looks secret; and user:pass@ in URLs.
_ASSIGNMENT = re.compile(
    r"""(?P<key>["']?[A-Za-z0-9_.-]*(?:KEY|TOKEN|PASSWORD|PASSWD|SECRET|CREDENTIAL)[A-Za-z0-9_.-]*["']?)"""
    r"""(?P<sep>\s*[=:]\s*)(?P<value>"[^"]*"|'[^']*'|[^\s,;}"']+)""",
    re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://[^\s/:@]+:)[^\s/@]+@", re.IGNORECASE)


def mask_line(line: str) -> str:
    """A log line with secret-looking assignments and URL passwords masked."""
    def value(match: re.Match) -> str:
        raw = match.group("value")
        quote = raw[0] if raw[:1] in "\"'" else ""
        return f"{match.group('key')}{match.group('sep')}{quote}{MASK}{quote}"

    return _URL_PASSWORD.sub(lambda m: f"{m.group('scheme')}{MASK}@", _ASSIGNMENT.sub(value, line))


def mask_manifest(data):
    """A copy of a manifest (any nesting of dicts and lists) with secret env values masked.

    Kubernetes env entries are {name, value}: the value goes when the name looks secret;
    values that reference a Secret (valueFrom) hold no secret themselves and stay.
    """
    if isinstance(data, list):
        return [mask_manifest(item) for item in data]
    if not isinstance(data, dict):
        return mask_uri(data) if isinstance(data, str) else data
    out = {}
    secret_env = isinstance(data.get("name"), str) and is_secret_name(data["name"]) and "value" in data
    for key, item in data.items():
        if secret_env and key == "value":
            out[key] = MASK if item else item
        # A bare `key` names a key (secretKeyRef.key, configMapKeyRef.key), it holds no secret.
        elif isinstance(key, str) and key.lower() != "key" and is_secret_name(key) and isinstance(item, str):
            out[key] = MASK if item else item
        else:
            out[key] = mask_manifest(item)
    return out
