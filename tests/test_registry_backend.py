"""MlflowRegistry against a real MLflow server over HTTP and against an sqlite store."""

import http.server
import threading

import pytest
from mlflow import MlflowClient

from backends.mlflow.registry import MlflowRegistry
from console.config import default_registry_uri
from console.errors import BackendUnavailable, Forbidden, InvalidSpec, NotFound
from console.types import HealthState
from tests.servers import free_port


@pytest.fixture(params=["http", "sqlite"])
def registry(request):
    """The same assertions hold over HTTP and on the embedded sqlite store."""
    if request.param == "http":
        return MlflowRegistry(request.getfixturevalue("seeded_server").url)
    return MlflowRegistry(default_registry_uri(request.getfixturevalue("seeded_home")))


def test_health_is_up(registry):
    assert registry.health().state == HealthState.UP


def test_list_models_pages_on_the_server(registry):
    first = registry.list_models(max_results=1)
    assert len(first.items) == 1 and first.next_token
    second = registry.list_models(page_token=first.next_token, max_results=1)
    assert second.items[0].name != first.items[0].name
    names = {m.name for m in registry.list_models().items}
    assert {"credit-risk", "fraud-detector"} <= names
    assert [m.name for m in registry.list_models("credit").items] == ["credit-risk"]


def test_model_versions_and_aliases(registry):
    model = registry.get_model("credit-risk")
    assert set(model.aliases) >= {"champion", "challenger"}
    versions = registry.list_versions("credit-risk")
    assert [v.version for v in versions] == sorted((v.version for v in versions), key=int, reverse=True)
    by_version = {v.version: v for v in versions}
    assert "champion" in by_version[model.aliases["champion"]].aliases
    assert registry.get_version("credit-risk", "@champion").version == model.aliases["champion"]
    assert registry.get_version("credit-risk", "challenger").version == model.aliases["challenger"]


def test_unknown_model_and_alias_are_named(registry):
    with pytest.raises(NotFound, match="nope"):
        registry.get_model("nope")
    with pytest.raises(NotFound, match="@ghost"):
        registry.get_version("credit-risk", "@ghost")


def test_run_details(registry):
    version = registry.get_version("credit-risk", "@champion")
    run = registry.get_run(version.run_id)
    assert run.params and {"accuracy", "roc_auc"} <= set(run.metrics)
    contexts = {d.context for d in run.datasets}
    assert {"training", "evaluation"} <= contexts
    assert all(d.digest and d.source for d in run.datasets)
    with_history = [k for k in run.metrics if len(registry.metric_history(run.run_id, k)) > 1]
    assert with_history, "the demo logs at least one metric with a history"


def test_signature_and_artifacts(registry):
    version = registry.get_version("credit-risk", "@champion")
    signature = registry.get_signature("credit-risk", version.version)
    names = {f.name for f in signature.inputs}
    assert {"income", "age"} <= names and signature.input_example
    paths = {a.path for a in registry.list_artifacts("credit-risk", version.version)}
    assert "model/MLmodel" in paths


def test_alias_and_tag_changes_reach_mlflow(registry):
    client = MlflowClient(registry.uri, registry_uri=registry.uri)
    registry.set_alias("fraud-detector", "staging", "1")
    assert str(client.get_model_version_by_alias("fraud-detector", "staging").version) == "1"
    registry.delete_alias("fraud-detector", "staging")
    assert "staging" not in client.get_registered_model("fraud-detector").aliases
    registry.set_tag("fraud-detector", "reviewed", "yes", version="1")
    assert client.get_model_version("fraud-detector", "1").tags["reviewed"] == "yes"
    registry.delete_tag("fraud-detector", "reviewed", version="1")
    assert "reviewed" not in client.get_model_version("fraud-detector", "1").tags
    with pytest.raises(InvalidSpec, match="reserved"):
        registry.set_alias("fraud-detector", "latest", "1")


def test_unreachable_server_is_a_clear_error():
    registry = MlflowRegistry(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(BackendUnavailable, match="unreachable"):
        registry.list_models()


class _Refuse(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"error_code": "UNAUTHENTICATED", "message": "credentials required"}')

    do_POST = do_GET

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("status", [401, 403])
def test_server_that_refuses_says_which_credentials(status):
    server = http.server.HTTPServer(("127.0.0.1", 0), _Refuse)
    server.status = status
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        registry = MlflowRegistry(f"http://127.0.0.1:{server.server_port}")
        with pytest.raises(Forbidden, match="MLFLOW_TRACKING_TOKEN"):
            registry.list_models()
        health = registry.health()
        assert health.state == HealthState.DOWN and "MLFLOW_TRACKING_TOKEN" in health.reason
    finally:
        server.shutdown()


def test_first_page_from_a_server_does_not_import_mlflow(seeded_server):
    """Importing mlflow costs over a second: the list view reads the REST API directly."""
    import json
    import subprocess
    import sys

    code = ("import sys, json\nfrom backends.mlflow.registry import MlflowRegistry\n"
            f"page = MlflowRegistry({seeded_server.url!r}).list_models(max_results=5)\n"
            "print(json.dumps([len(page.items), 'mlflow' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    count, imported = json.loads(out.stdout.strip().splitlines()[-1])
    assert count >= 2 and not imported
