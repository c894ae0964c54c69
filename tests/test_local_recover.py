"""A damaged runtime state file: a clear error everywhere (no traceback), and `local recover` as the
way out — this runtime's processes stopped, the damaged file kept aside, every deployment served
again from its saved manifest."""

from __future__ import annotations

import httpx
import pytest

from backends.local.cluster import LocalCluster
from backends.local.recover import home_processes
from backends.local.state import state_path
from console.governance.audit import AuditLog
from tests.local_runtime import REQUEST, manifest, mlconsole, stop_runtime, wait_for

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def runtime_home(home):
    yield home
    stop_runtime(home)


def test_a_damaged_state_is_reported_and_recovered_without_loss(runtime_home, tmp_path):
    home = runtime_home
    for name in ("alpha", "beta"):
        (tmp_path / f"{name}.yaml").write_text(manifest(name))
        out = mlconsole(home, "deploy", str(tmp_path / f"{name}.yaml"), "--wait")
        assert out.returncode == 0, out.stderr
    before = home_processes(home)
    assert len(before) == 5  # the supervisor, two gateways, two graph servers
    state_path(home).write_text('{"deployments": {"alpha": ')  # a crash mid-write on a disk that lied

    for args in (("get", "deployments"), ("local", "up"), ("local", "status")):
        out = mlconsole(home, *args)
        assert out.returncode != 0, args
        assert "is damaged" in out.stderr and "mlconsole local recover" in out.stderr, out.stderr
        assert "Traceback" not in out.stderr + out.stdout, out.stderr

    out = mlconsole(home, "local", "recover")
    assert out.returncode == 0, out.stderr
    assert "recovered 2 deployments" in out.stdout and "alpha, beta" in out.stdout, out.stdout
    assert home_processes(home) == [], "no process of the old runtime left holding a port"
    [kept] = state_path(home).parent.glob("state.json.damaged-*")
    assert kept.read_text() == '{"deployments": {"alpha": '
    assert any(e.action == "cluster.recover" for e in AuditLog(home).entries())

    out = mlconsole(home, "local", "up")
    assert out.returncode == 0, out.stderr
    cluster = LocalCluster(home)
    for name in ("alpha", "beta"):
        wait_for(lambda n=name: cluster.get_deployment(n).summary.phase == "Available", timeout=60,
                 what=f"{name} served again")
        url = cluster.get_deployment(name).summary.url
        assert httpx.post(f"{url}/api/v1.0/predictions", json=REQUEST, timeout=5).status_code == 200
    again = mlconsole(home, "local", "recover")
    assert again.returncode == 0 and "nothing to recover" in again.stdout
