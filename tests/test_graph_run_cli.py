"""`mlconsole graph run`: one request through the demo graph with the registry's real models."""

import json
import subprocess
import sys

from console.graph.demo_graph import write_demo_graph
from tests.conftest import subprocess_env

NAMES = ["applicant_id", "age", "income", "loan_amount", "loan_term_months", "debt_to_income",
         "employment_type", "home_ownership", "loan_purpose", "region"]


def graph_run(home, *args):
    return subprocess.run([sys.executable, "-m", "console.cli", "--home", str(home), "graph", "run", *args],
                          capture_output=True, text=True, env=subprocess_env(), timeout=180)


def test_graph_run_answers_seldon_v1_with_a_trace(seeded_home, tmp_path):
    graph = write_demo_graph(seeded_home)
    # integers where the signature says double: JSON writes 29400 for 29400.0
    request = {"data": {"names": NAMES, "ndarray": [
        ["APP-000005", 34, 29400, 13880, 12, 0.269, "salaried", "rent", "education", "central"]]}}
    (tmp_path / "req.json").write_text(json.dumps(request))
    out = graph_run(seeded_home, str(graph), "--input", f"@{tmp_path / 'req.json'}", "--trace")
    assert out.returncode == 0, out.stderr
    response = json.loads(out.stdout)
    assert response["data"]["names"] == ["p_repay", "p_default"]
    (p_repay, p_default), = response["data"]["ndarray"]
    assert abs(p_repay + p_default - 1) < 1e-9
    assert response["meta"]["routing"]["ab-test"] in (0, 1)
    traced = [line.split()[0] for line in out.stderr.splitlines() if line.strip()]
    assert traced[:5] == ["decision", "application", "bureau", "outliers", "ab-test"]
    chosen = graph_run(seeded_home, str(graph), "--input", f"@{tmp_path / 'req.json'}", "--predictor", "main")
    assert chosen.returncode == 0, chosen.stderr
    missing = graph_run(seeded_home, str(graph), "--input", f"@{tmp_path / 'req.json'}", "--predictor", "nope")
    assert missing.returncode != 0 and "no predictor 'nope'" in missing.stderr


def test_graph_run_malformed_payload_is_a_clear_error(seeded_home):
    graph = write_demo_graph(seeded_home)
    out = graph_run(seeded_home, str(graph), "--input", '{"data": {"names": ["a"], "ndarray": [[1, 2]]}}')
    assert out.returncode == 1
    assert "row 0 has 2 values but names has 1" in out.stderr and "Traceback" not in out.stderr
    out = graph_run(seeded_home, str(graph), "--input", "{not json")
    assert out.returncode in (1, 2) and "Traceback" not in out.stderr
