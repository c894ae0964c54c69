"""Where Seldon's own example manifests and CRD live: shared/ beside the repository
(read at test time, never copied into it: they are Seldon's, under its license)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SELDON = REPO.parent / "shared" / "fixtures" / "seldon"
EXAMPLES = sorted((SELDON / "examples").glob("*.yaml"))
CRD = SELDON / "crd" / "machinelearning.seldon.io_seldondeployments.yaml"
