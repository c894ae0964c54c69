"""`mlconsole graph validate|show|export` as a subprocess: exit codes, messages, never a traceback."""

import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.conftest import subprocess_env

REPO = Path(__file__).resolve().parents[1]
from tests.seldon_fixtures import SELDON  # noqa: E402

IRIS_AB = SELDON / "examples" / "iter8_progressive_rollout_single_sdep_abtest.yaml"
PROBLEM_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<severity>error|warning): (?P<path>\S+): (?P<rest>.+)$")

GRAPH = """\
apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata:
  name: credit
spec:
  predictors:
  - name: main
    graph:
      name: ab-test
      implementation: RANDOM_ABTEST
      parameters:
      - {{name: ratioA, value: '0.5', type: FLOAT}}
      children:
      - name: champion
        modelUri: models:/credit-risk@{alias}
      - name: challenger
        modelUri: models:/credit-risk@challenger
"""

BAD = """\
apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata:
  name: bad
spec:
  predictors:
  - name: main
    traffic: 60
    graph:
      name: router
      type: ROUTER
      children:
      - name: lonely
        type: MODEL
  - name: canary
    traffic: 30
    graph:
      name: clf
      implementation: SKLEARN_SEVER
      modelUri: gs://bucket/model
"""


def mlconsole(*args, home, stdin=None):
    return subprocess.run([sys.executable, "-m", "console.cli", "--home", str(home), "graph", *args],
                          capture_output=True, text=True, env=subprocess_env(), timeout=120, input=stdin,
                          cwd=REPO)


def write(tmp_path, name, text) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def no_traceback(out) -> None:
    assert "Traceback" not in out.stdout + out.stderr and "internal error" not in out.stderr


def test_valid_example_exits_zero_with_located_warnings(home):
    out = mlconsole("validate", str(IRIS_AB), home=home)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 2 and all(PROBLEM_LINE.match(line) for line in lines)
    first = PROBLEM_LINE.match(lines[0])
    assert (first["file"], first["line"], first["severity"], first["path"]) == (
        str(IRIS_AB), "17", "warning", "spec.predictors[0].graph.modelUri")
    assert "valid for Seldon; cannot run on the local runtime" in first["rest"]
    assert out.stderr.strip().endswith("0 errors, 2 warnings")


def test_errors_exit_one_and_read_like_a_compiler(home, tmp_path):
    path = write(tmp_path, "bad.yaml", BAD)
    out = mlconsole("validate", str(path), home=home)
    assert out.returncode == 1
    no_traceback(out)
    problems = [PROBLEM_LINE.match(line) for line in out.stdout.splitlines()]
    assert all(problems), out.stdout
    found = {(m["line"], m["severity"], m["path"]) for m in problems}
    assert ("6", "error", "spec.predictors") in found  # traffic 60 + 30
    assert ("10", "error", "spec.predictors[0].graph") in found  # a router with one child
    assert ("13", "error", "spec.predictors[0].graph.children[0]") in found  # a model without a model
    assert ("19", "error", "spec.predictors[1].graph.implementation") in found
    assert "(did you mean SKLEARN_SERVER?)" in out.stdout


@pytest.mark.parametrize(("text", "expected"), [
    ("apiVersion: v1\nkind: SeldonDeployment\n  metadata: x\n", r":3:11: error: invalid YAML: "),
    ('{\n  "kind": "SeldonDeployment",\n  "metadata": {"name": "x"}\n  "spec": {}\n}\n',
     r":4:3: error: invalid JSON: Expecting ',' delimiter"),
    ("- just\n- a list\n", r":1: error: found a list of 2 items, not a SeldonDeployment"),
    ("\x00\x01binary", r":1:1: error: not YAML text: the character U\+0000"),
])
def test_malformed_files_give_one_clear_line_and_no_traceback(home, tmp_path, text, expected):
    path = write(tmp_path, "broken.yaml", text)
    out = mlconsole("validate", str(path), home=home)
    assert out.returncode == 1
    no_traceback(out)
    assert re.match(re.escape(str(path)) + expected, out.stdout), out.stdout


def test_missing_file_and_json_output(home, tmp_path):
    out = mlconsole("validate", str(tmp_path / "nope.yaml"), "--json", home=home)
    assert out.returncode == 1
    no_traceback(out)
    data = json.loads(out.stdout)
    assert data["valid"] is False and "no such file" in data["problems"][0]["message"]
    out = mlconsole("validate", str(write(tmp_path, "bad.yaml", BAD)), "--json", home=home)
    data = json.loads(out.stdout)
    assert out.returncode == 1 and data["deployment"] == "bad" and data["errors"] >= 4
    assert {"severity", "message", "path", "line", "hint", "code"} <= set(data["problems"][0])


def test_stdin_is_read_with_a_dash(home):
    out = mlconsole("validate", "-", "--offline", home=home, stdin=IRIS_AB.read_text())
    assert out.returncode == 0
    assert out.stdout.startswith("<stdin>:17: warning: ")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_registry_down_is_a_warning(home, tmp_path):
    path = write(tmp_path, "graph.yaml", GRAPH.format(alias="champion"))
    out = subprocess.run([sys.executable, "-m", "console.cli", "--home", str(home), "--registry",
                          f"http://127.0.0.1:{free_port()}", "graph", "validate", str(path)],
                         capture_output=True, text=True, env=subprocess_env(), timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    no_traceback(out)
    lines = out.stdout.splitlines()
    assert len(lines) == 2 and all("warning" in line and "could not check models:/credit-risk@" in line
                                   and "registry down" in line for line in lines)


def test_model_uris_resolve_in_the_seeded_registry(seeded_home, tmp_path):
    good = write(tmp_path, "good.yaml", GRAPH.format(alias="champion"))
    out = mlconsole("validate", str(good), home=seeded_home)
    assert (out.returncode, out.stdout) == (0, ""), out.stdout + out.stderr
    bad = write(tmp_path, "bad.yaml", GRAPH.format(alias="gone"))
    out = mlconsole("validate", str(bad), home=seeded_home)
    assert out.returncode == 1
    assert out.stdout.startswith(f"{bad}:15: error: spec.predictors[0].graph.children[0].modelUri: node 'champion': "
                                 "models:/credit-risk@gone does not resolve in the registry")
    assert mlconsole("validate", str(bad), "--offline", home=seeded_home).returncode == 0


def test_show_draws_within_the_width(home):
    out = mlconsole("show", str(SELDON / "examples" / "graph_examples_combiner.yaml"), "--width", "60", home=home)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "SeldonDeployment test" and lines[1].startswith("1 predictor, 3 nodes, from ")
    assert all(len(line) <= 60 for line in lines)
    assert "[COMBINER]" in out.stdout and out.stdout.count("[MODEL]") == 2
    assert lines[-1] == "0 errors, 3 warnings (see `mlconsole graph validate`)"


def test_export_seldon_to_stdout_is_valid_for_the_crd(home):
    out = mlconsole("export", str(IRIS_AB), "--target", "seldon", home=home)
    assert out.returncode == 0, out.stderr
    (manifest,) = list(yaml.safe_load_all(out.stdout))
    crd = yaml.load((SELDON / "crd" / "machinelearning.seldon.io_seldondeployments.yaml").read_text(),
                    Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    jsonschema.validate(manifest, crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    assert manifest["metadata"] == {"name": "iris", "namespace": "ns-production"}


def test_export_kserve_to_a_file_with_notes_on_stderr(home, tmp_path):
    target = tmp_path / "kserve.yaml"
    out = mlconsole("export", str(SELDON / "examples" / "graph_examples_combiner.yaml"), "--target", "kserve",
                    "-o", str(target), home=home)
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
    docs = list(yaml.safe_load_all(target.read_text()))
    assert [d["kind"] for d in docs] == ["InferenceService", "InferenceService", "InferenceGraph"]
    assert f"wrote {target} (3 documents)" in out.stderr
    assert "note: Combiner 'combiner' maps to an Ensemble" in out.stderr


def test_export_refuses_a_graph_with_errors_unless_forced(home, tmp_path):
    path = write(tmp_path, "bad.yaml", BAD)
    out = mlconsole("export", str(path), "--target", "seldon", home=home)
    assert out.returncode == 1 and out.stdout == ""
    assert "not exported" in out.stderr and f"{path}:13: error:" in out.stderr
    forced = mlconsole("export", str(path), "--target", "seldon", "--force", home=home)
    assert forced.returncode == 0 and yaml.safe_load(forced.stdout)["metadata"]["name"] == "bad"


def test_graph_without_a_subcommand_is_a_usage_error(home):
    out = mlconsole(home=home)
    assert out.returncode == 2 and "required: COMMAND" in out.stderr
