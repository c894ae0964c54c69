"""A kmock-emulated cluster per test, reached through a generated kubeconfig as kubectl would."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.kubernetes.emulator import EmulatorThread
from tests.seldon_fixtures import unknown_fields

CONTEXT = "kmock-ctx"
NAMESPACE = "models"


@pytest.fixture
def kube(tmp_path, monkeypatch):
    """A running emulator with Seldon's CRD declared, KUBECONFIG pointing at it (context kmock-ctx)."""
    server = EmulatorThread().start()
    config = server.write_kubeconfig(tmp_path / "kubeconfig", CONTEXT, NAMESPACE)
    monkeypatch.setenv("KUBECONFIG", str(config))
    server.kubeconfig = config
    yield server
    server.stop()


@pytest.fixture
def cluster(kube, home):
    from backends.kubernetes.cluster import KubernetesCluster

    backend = KubernetesCluster(CONTEXT, None, home, None)
    yield backend
    backend.close()


def wait_for(condition: Callable[[], object], seconds: float = 10.0, step: float = 0.02):
    """Poll until condition() is truthy (never a fixed sleep); its value, or fail."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {seconds}s")
        time.sleep(step)


@pytest.fixture(scope="session")
def seldon_schema() -> dict:
    """The SeldonDeployment CRD's OpenAPI schema (v1), read from ../shared (never copied here)."""
    import yaml

    from tests.seldon_fixtures import CRD

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    crd = yaml.load(CRD.read_text(), Loader=loader)
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return version["schema"]["openAPIV3Schema"]


def assert_valid_sdep(obj: dict, schema: dict) -> None:
    """What the API server would check of a SeldonDeployment: the CRD schema, no unknown spec fields."""
    import jsonschema

    body = {k: v for k, v in obj.items() if k != "status"}
    jsonschema.validate(body, schema, cls=jsonschema.Draft7Validator)
    assert unknown_fields(body["spec"], schema["properties"]["spec"], "spec") == []
    assert body["apiVersion"] == "machinelearning.seldon.io/v1" and body["kind"] == "SeldonDeployment"


