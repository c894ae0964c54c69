"""Where Seldon's own example manifests and CRD live: shared/ beside the repository
(read at test time, never copied into it: they are Seldon's, under its license)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SELDON = REPO.parent / "shared" / "fixtures" / "seldon"
EXAMPLES = sorted((SELDON / "examples").glob("*.yaml"))
CRD = SELDON / "crd" / "machinelearning.seldon.io_seldondeployments.yaml"


def unknown_fields(value, schema, path="") -> list[str]:
    """Fields the schema does not declare (a structural schema prunes them silently; `kubectl apply
    --validate=strict` refuses them)."""
    found = []
    if isinstance(value, dict) and "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
        for key, item in value.items():
            if key not in schema["properties"]:
                found.append(f"{path}.{key}")
            else:
                found += unknown_fields(item, schema["properties"][key], f"{path}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            found += unknown_fields(item, schema["items"], f"{path}[{i}]")
    return found
