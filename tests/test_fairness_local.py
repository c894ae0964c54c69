"""A fairness gate on the local runtime for real: requests carrying a sensitive attribute, the gateway's
request log, the supervisor's driver measuring each predictor's disparity, the controller rolling back.

The stable version approves everyone (fair); the candidate's decision flips with the `sex` column
(demographic-parity difference 1.0), so its canary must be rolled back by the fairness gate alone.
"""

from __future__ import annotations

import time

import pytest

from backends.local.cluster import LocalCluster
from backends.local.rollouts import ACTOR, request_disparities
from console.cluster_changes import ClusterChanges
from console.config import load_settings
from console.governance.audit import AuditLog
from console.rollout.spec import Gate, Step
from tests.local_runtime import ROOT, manifest, mlconsole, stop_runtime, wait_for
from tests.test_rollout_local import canary_spec, predictors, rollout, routed, stop, traffic, write

pytestmark = pytest.mark.timeout(120)

FAIRNESS = Gate("fairness", "<", 0.2, window_seconds=10.0, min_requests=10, failure_limit=1, inconclusive_limit=6,
                sensitive="sex")


def biased(name: str, bias: str) -> str:
    """tests.components.risk_model with a bias: p_bad = sigmoid(a + sex + bias)."""
    return manifest(name).replace('- {name: weight, value: "1.0", type: FLOAT}',
                                  '- {name: weight, value: "1.0", type: FLOAT}\n'
                                  f'      - {{name: bias, value: "{bias}", type: FLOAT}}')


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    path = tmp_path_factory.mktemp("fairness-local") / "home"
    path.mkdir()
    yield path
    stop_runtime(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("fairness-files")
    (d / "rows.csv").write_text("a,sex\n0.0,0\n0.0,1\n0.0,0\n0.0,1\n")
    return d


def test_a_fairness_gate_blocks_a_canary_whose_disparity_is_over_the_threshold(home, files):
    name = "ro-fair"
    cluster = LocalCluster(home)
    ClusterChanges(load_settings({"home": str(home)}, env={}), cluster).deploy(biased(name, "2.0"), [str(ROOT)])
    wait_for(lambda: cluster.get_deployment(name).summary.phase == "Available", what=f"{name} Available")
    spec = write(files, "fair.yaml", canary_spec(Step(set_weight=30), Step(pause_indefinite=True),
                                                 Step(set_weight=100), gates=(FAIRNESS,)))
    cand = write(files, "fair-v2.yaml", biased(name, "-0.5"))
    load = traffic(home, name, files, 40, 60)
    try:
        started = time.monotonic()
        out = mlconsole(home, "rollout", "start", name, "--manifest", cand, "--strategy", spec)
        assert out.returncode == 0, out.stderr
        wait_for(lambda: "canary" in routed(home, name), timeout=30, every=0.05, what="canary serving")

        def ended():
            phase = rollout(home, name).get("phase")
            assert phase not in ("Completed", "Failed", "Inconclusive"), rollout(home, name).get("message")
            return phase == "Aborted"

        wait_for(ended, timeout=45, every=0.1, what="the canary Aborted by the fairness gate")
        print(f"\nunfair canary rolled back by the fairness gate in {time.monotonic() - started:.1f}s")
    finally:
        stop(load)
    assert predictors(home, name) == [("main", 100, False)]
    state = rollout(home, name)
    failed = [m for m in state["measurements"] if m["metric"] == "fairness" and m["passed"] is False]
    assert failed and failed[-1]["value"] == pytest.approx(1.0) and failed[-1]["requests"] >= 10
    assert "demographic parity on sex" in failed[-1]["note"]
    entries = [e for e in AuditLog(home).entries() if e.target == f"local/{name}" and e.actor == ACTOR]
    assert any("fairness 1 (needs < 0.2): failed" in e.reason for e in entries), [e.reason for e in entries]
    # The stable predictor's own figure, from the same log: it approved everyone.
    readings = request_disparities(home, name, Gate("fairness", "<", 0.2, window_seconds=300.0, sensitive="sex"),
                                   "main", "canary")
    assert readings["main"].value == 0.0 and readings["main"].rows > 10
    assert readings["canary"].value == pytest.approx(1.0)
    missing = request_disparities(home, name, Gate("fairness", "<", 0.2, window_seconds=300.0, sensitive="age"),
                                  "main", "canary")
    assert missing["canary"].value is None and "carry no 'age'" in missing["canary"].note
