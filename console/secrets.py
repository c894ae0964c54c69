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


def secret_values(data) -> set[str]:
    """The values mask_manifest would hide in `data` (any nesting of dicts and lists), to find them in text."""
    found: set[str] = set()
    if isinstance(data, list):
        for item in data:
            found |= secret_values(item)
    elif isinstance(data, dict):
        secret_env = isinstance(data.get("name"), str) and is_secret_name(data["name"]) and "value" in data
        for key, item in data.items():
            if secret_env and key == "value" and item not in (None, ""):
                found.add(str(item))
            elif isinstance(key, str) and key.lower() != "key" and is_secret_name(key) and isinstance(item, str):
                if item:
                    found.add(item)
            else:
                found |= secret_values(item)
    return found


def manifest_secret_values(*texts: str) -> set[str]:
    """secret_values of every document of these manifests (YAML or JSON text; what does not parse is skipped)."""
    import yaml

    found: set[str] = set()
    for text in texts:
        try:
            for doc in yaml.safe_load_all(text or ""):
                found |= secret_values(doc)
        except yaml.YAMLError:
            continue
    return found


def mask_manifest_text(text: str, *sources: str) -> str:
    """Text made from manifests — one as deployed, a diff between two — with their secrets masked.

    The secret values of `text` itself (when it parses) and of each manifest in `sources` are masked where
    they stand as a YAML scalar (after `key:` or `- `), keeping the text's own layout and quoting; every
    line then goes through mask_line (secret-named keys, URL passwords).
    """
    values = sorted(manifest_secret_values(text, *sources), key=len, reverse=True)
    if values:
        # block (`key: v`, `- v`) and flow (`{name: n, value: v}`, JSON) scalars, quoted or not
        scalar = re.compile(r"(?P<lead>(?:[:\[{,]|^[ +-]?\s*-)\s*)(?P<q>['\"]?)(?:" + "|".join(map(re.escape, values))
                            + r")(?P=q)(?=\s*(?:[,}\]#]|$))", re.MULTILINE)
        text = scalar.sub(lambda m: f"{m.group('lead')}{m.group('q')}{MASK}{m.group('q')}", text)
    return "\n".join(mask_line(line) for line in text.split("\n"))
