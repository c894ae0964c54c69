"""`--readonly` from scripts: every subcommand is classified, and every changing one is refused.

The classification below is checked against the parser itself (console/cli.py builds it from
console/commands), so a new subcommand fails `test_every_subcommand_is_classified` until someone
decides which kind it is — and a new changing one is then run here under --readonly.

MUTATING: refused under --readonly (flag, MLCONSOLE_READONLY or `readonly = true` in the config
file) with exit 1 and "<action> refused: mlconsole runs with --readonly", before anything changes:
    models alias            moves a registry alias (console/registry_changes.py)
    demo                    registers models and versions, writes datasets and graphs
    deploy                  creates or updates a deployment (`--dry-run` is a READ: validate + diff)
    delete, scale, restart, traffic-split
                            cluster changes (console/cluster_changes.py)
    local up, local down    start / stop the local runtime's supervisor and every serving process
    local recover           stops processes, moves the state file aside, serves again
    rollout start|promote|promote-full|pause|resume|abort|retry
                            rollout changes (console/rollout_changes.py)
    rollout controller      ticks Kubernetes rollouts, i.e. changes weights and promotes
The product writes no audit entry for a refusal (nothing happened), so the log must stay byte-equal.

READ: change nothing — config show, models list|show, graph validate|show|run (run is in-process:
no deployment is touched), get *, logs, metrics, local status, rollout list|status, audit verify|log,
data drift|profile, lineage, fairness, explain (both compute on this machine, write nothing).

LOCAL OUTPUT (allowed): graph export, data query (--output) and card (-o) write only the file the user
names, outside any cluster, registry or rollout, and are not audited — as the Data view's export and the
model card view's `w`.

DATA PLANE (allowed): traffic sends prediction requests to a deployment's gateway, as any client of
the service can; it changes no deployment, weight, alias or rollout and is not audited. (Its requests do
feed the metrics a running rollout's gates read — as every other client's do.)
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backends.local.state import read_state, supervisor_running
from console.cli import build_parser
from console.rollout.spec import RolloutSpec, Step, dump_spec
from tests.conftest import subprocess_env
from tests.local_runtime import ROOT, manifest, stop_runtime, wait_for

pytestmark = pytest.mark.timeout(300)

REFUSED = "refused: mlconsole runs with --readonly"

# Every leaf subcommand of `mlconsole`, by kind. Arguments are filled in by `arguments()` below.
MUTATING = "mutating"
READ = "read"
LOCAL_OUTPUT = "local output"
DATA_PLANE = "data plane"

CLASSES: dict[tuple[str, ...], str] = {
    ("config", "show"): READ,
    ("models", "list"): READ,
    ("models", "show"): READ,
    ("models", "alias"): MUTATING,
    ("demo",): MUTATING,
    ("graph", "validate"): READ,
    ("graph", "show"): READ,
    ("graph", "export"): LOCAL_OUTPUT,
    ("graph", "run"): READ,
    ("local", "up"): MUTATING,
    ("local", "down"): MUTATING,
    ("local", "recover"): MUTATING,
    ("local", "status"): READ,
    ("deploy",): MUTATING,
    ("get", "deployments"): READ,
    ("get", "pods"): READ,
    ("get", "events"): READ,
    ("get", "manifest"): READ,
    ("delete",): MUTATING,
    ("scale",): MUTATING,
    ("restart",): MUTATING,
    ("traffic-split",): MUTATING,
    ("logs",): READ,
    ("traffic",): DATA_PLANE,
    ("data", "drift"): READ,
    ("data", "profile"): READ,
    ("data", "query"): LOCAL_OUTPUT,
    ("metrics",): READ,
    ("rollout", "start"): MUTATING,
    ("rollout", "list"): READ,
    ("rollout", "status"): READ,
    ("rollout", "promote"): MUTATING,
    ("rollout", "promote-full"): MUTATING,
    ("rollout", "pause"): MUTATING,
    ("rollout", "resume"): MUTATING,
    ("rollout", "abort"): MUTATING,
    ("rollout", "retry"): MUTATING,
    ("rollout", "controller"): MUTATING,
    ("audit", "verify"): READ,
    ("audit", "log"): READ,
    ("lineage",): READ,
    ("fairness",): READ,
    ("explain",): READ,
    ("card",): LOCAL_OUTPUT,
}


def leaf_commands(parser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every runnable subcommand path, by its primary name (aliases such as `get deploy` skipped)."""
    subs = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    if not subs:
        return [prefix]
    out = []
    for action in subs:
        for choice in action._choices_actions:  # one per add_parser call: the primary name
            out += leaf_commands(action.choices[choice.dest], (*prefix, choice.dest))
    return out


def test_every_subcommand_is_classified():
    found = leaf_commands(build_parser())
    assert len(found) == len(set(found))
    missing = sorted(set(found) - set(CLASSES))
    gone = sorted(set(CLASSES) - set(found))
    assert not missing, f"classify these subcommands as read or mutating in {__name__}.CLASSES: {missing}"
    assert not gone, f"no longer subcommands, drop them from CLASSES: {gone}"


# -- a real home: the demo seeded, two deployments on the local runtime, a rollout held at a pause ----------


def run(home: Path, *args: str, timeout: float = 120, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "console.cli", "--home", str(home), *args], capture_output=True,
                          text=True, env=subprocess_env(MLCONSOLE_NO_DEMO="1", **env), timeout=timeout, cwd=cwd)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("readonly-files")
    (d / "web.yaml").write_text(manifest("web"))
    (d / "web-v2.yaml").write_text(manifest("web").replace('value: "1.0"', 'value: "3.0"'))
    (d / "api.yaml").write_text(manifest("api", [("main", 70), ("canary", 30)]))
    (d / "api-v2.yaml").write_text(manifest("api", [("main", 70), ("canary", 30)]).replace('value: "1.0"',
                                                                                             'value: "2.0"'))
    (d / "fresh.yaml").write_text(manifest("fresh"))
    (d / "held.yaml").write_text(dump_spec(RolloutSpec(
        "canary", steps=(Step(set_weight=20), Step(pause_indefinite=True), Step(set_weight=100)),
        analysis_interval=1.0)))
    (d / "out").mkdir()
    return d


@pytest.fixture(scope="module")
def home(tmp_path_factory, files):
    path = tmp_path_factory.mktemp("readonly-cli") / "home"
    path.mkdir()
    started = time.monotonic()
    try:
        seeded = run(path, "demo", timeout=300)
        assert seeded.returncode == 0, seeded.stderr
        for name in ("web", "api"):
            out = run(path, "deploy", str(files / f"{name}.yaml"), "--wait", "--timeout", "90", timeout=150)
            assert out.returncode == 0, out.stdout + out.stderr
        out = run(path, "rollout", "start", "web", "--manifest", str(files / "web-v2.yaml"),
                  "--strategy", str(files / "held.yaml"))
        assert out.returncode == 0, out.stderr
        wait_for(lambda: (read_state(path)["rollouts"].get("web") or {}).get("phase") == "Paused"
                 and rollout_view(path)["weights"].get("canary") == 20, timeout=90, what="the rollout held at 20%")
        print(f"\nreadonly home ready in {time.monotonic() - started:.1f}s")
        yield path
    finally:
        stop_runtime(path)


def rollout_view(home: Path) -> dict:
    r = read_state(home)["rollouts"].get("web") or {}
    return {"phase": r.get("phase"), "step": r.get("step"), "weights": r.get("weights") or {},
            "shadow": r.get("shadow") or {}}


def registry_view(home: Path) -> dict:
    """Aliases, tags, descriptions and versions, straight from the embedded sqlite store."""
    db = home / "registry" / "mlflow.db"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        def rows(sql: str) -> list:
            return sorted(con.execute(sql).fetchall())

        return {
            "models": rows("select name, description from registered_models"),
            "versions": rows("select name, version, current_stage, description, status from model_versions"),
            "aliases": rows("select name, alias, version from registered_model_aliases"),
            "model_tags": rows("select name, key, value from registered_model_tags"),
            "version_tags": rows("select name, version, key, value from model_version_tags"),
        }
    finally:
        con.close()


# Written by the running runtime on its own (logs, scraped metrics, request samples, events, the state
# file's bookkeeping): compared by meaning in runtime_view, not byte for byte.
LIVE = ("runtime/logs/", "runtime/metrics/", "runtime/requests/", "runtime/events.jsonl", "runtime/state.json",
        "runtime/state.lock", "runtime/ports/", "registry/")


def files_view(home: Path) -> dict[str, str]:
    out = {}
    for path in sorted(home.rglob("*")):
        rel = path.relative_to(home).as_posix()
        if path.is_dir() or rel.startswith(LIVE) or "/." in f"/{rel}":
            continue
        out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return out


def runtime_view(home: Path) -> dict:
    state = read_state(home)
    supervisor = supervisor_running(home)
    deployments = {}
    for name, dep in sorted(state["deployments"].items()):
        deployments[name] = {
            "predictors": [(p.get("name"), p.get("traffic"), p.get("replicas"), bool(p.get("shadow")))
                           for p in dep.get("predictors") or []],
            "gateway": (dep.get("gateway") or {}).get("pid"),
            "replicas": sorted(str(r.get("pid")) for r in dep.get("replicas") or []),
        }
    return {"supervisor": supervisor and supervisor.get("pid"), "deployments": deployments,
            "rollouts": sorted(state["rollouts"]), "web rollout": rollout_view(home)}


def audit_bytes(home: Path) -> tuple[bytes, bytes]:
    log = home / "audit" / "audit.jsonl"
    head = home / "audit" / "audit.head.json"
    return (log.read_bytes() if log.exists() else b"", head.read_bytes() if head.exists() else b"")


def everything(home: Path) -> dict:
    return {"registry": registry_view(home), "runtime": runtime_view(home), "files": files_view(home),
            "audit": audit_bytes(home)}


def assert_unchanged(before: dict, after: dict, what: str) -> None:
    for part in before:
        assert after[part] == before[part], f"{what} changed the {part}"


def arguments(command: tuple[str, ...], files: Path, home: Path) -> list[str]:
    """A realistic invocation: each change would succeed without --readonly."""
    out = files / "out"
    data = home / "data" / "credit-risk"
    return {
        ("models", "alias"): ["models", "alias", "credit-risk", "2", "champion", "--reason", "ship it"],
        ("demo",): ["demo", "--force"],
        ("deploy",): ["deploy", str(files / "fresh.yaml")],
        ("delete",): ["delete", "api"],
        ("scale",): ["scale", "api", "main", "2"],
        ("restart",): ["restart", "api"],
        ("traffic-split",): ["traffic-split", "api", "main=50", "canary=50"],
        ("local", "up"): ["local", "up"],
        ("local", "down"): ["local", "down"],
        ("local", "recover"): ["local", "recover"],
        ("rollout", "start"): ["rollout", "start", "api", "--manifest", str(files / "api-v2.yaml")],
        ("rollout", "promote"): ["rollout", "promote", "web"],
        ("rollout", "promote-full"): ["rollout", "promote-full", "web"],
        ("rollout", "pause"): ["rollout", "pause", "web"],
        ("rollout", "resume"): ["rollout", "resume", "web"],
        ("rollout", "abort"): ["rollout", "abort", "web"],
        ("rollout", "retry"): ["rollout", "retry", "web"],
        ("rollout", "controller"): ["rollout", "controller", "--once"],
        ("config", "show"): ["config", "show"],
        ("models", "list"): ["models", "list"],
        ("models", "show"): ["models", "show", "credit-risk@champion"],
        ("graph", "validate"): ["graph", "validate", str(files / "api.yaml")],
        ("graph", "show"): ["graph", "show", str(files / "api.yaml")],
        ("graph", "export"): ["graph", "export", str(home / "graphs" / "credit-risk.yaml"), "--target", "seldon",
                              "-o", str(out / "exported.yaml")],
        ("graph", "run"): ["graph", "run", str(files / "api.yaml"),
                           "--input", '{"data": {"names": ["a", "b"], "ndarray": [[0.5, 1.5]]}}'],
        ("local", "status"): ["local", "status"],
        ("get", "deployments"): ["get", "deployments"],
        ("get", "pods"): ["get", "pods", "api"],
        ("get", "events"): ["get", "events"],
        ("get", "manifest"): ["get", "manifest", "api"],
        ("logs",): ["logs", "api", "--tail", "5"],
        ("traffic",): ["traffic", "api", "--rate", "5", "--duration", "1"],
        ("data", "drift"): ["data", "drift", str(data / "train.parquet"), str(data / "eval.parquet")],
        ("data", "profile"): ["data", "profile", str(data / "eval.parquet"), "--columns", "age,income"],
        ("data", "query"): ["data", "query", "select count(*) as n from t", "--table", f"t={data / 'eval.parquet'}",
                            "--output", str(out / "count.csv")],
        ("metrics",): ["metrics", "api"],
        ("rollout", "list"): ["rollout", "list"],
        ("rollout", "status"): ["rollout", "status", "web"],
        ("audit", "verify"): ["audit", "verify"],
        ("audit", "log"): ["audit", "log"],
        ("lineage",): ["lineage", "api"],
        ("fairness",): ["fairness", "models:/credit-risk@champion"],
        ("explain",): ["explain", "models:/credit-risk@champion", "--row", explain_row(data / "eval.parquet"),
                       "--samples", "64"],
        ("card",): ["card", "credit-risk@champion", "--no-fairness", "-o", str(out / "card.md")],
    }[command]


def explain_row(path: Path) -> str:
    import pyarrow.parquet as pq

    row = pq.read_table(path).slice(0, 1).to_pylist()[0]
    return json.dumps({k: v for k, v in row.items() if k not in ("default", "applicant_id")}, default=str)


@pytest.mark.parametrize("command", [c for c, kind in CLASSES.items() if kind == MUTATING], ids=" ".join)
def test_every_changing_command_is_refused_and_changes_nothing(command, home, files):
    before = everything(home)
    out = run(home, "--readonly", *arguments(command, files, home))
    assert out.returncode == 1, (command, out.returncode, out.stdout, out.stderr)
    assert REFUSED in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert "restart without --readonly" in out.stderr  # the hint says how to make the change
    assert_unchanged(before, everything(home), " ".join(command))


def test_readonly_from_the_environment_and_the_config_file_refuses_too(home, files, tmp_path):
    before = everything(home)
    out = run(home, "delete", "api", MLCONSOLE_READONLY="1")
    assert out.returncode == 1 and REFUSED in out.stderr, out.stderr
    config = tmp_path / "config.toml"
    config.write_text("readonly = true\n")
    out = run(home, "scale", "api", "main", "3", MLCONSOLE_CONFIG=str(config))
    assert out.returncode == 1 and REFUSED in out.stderr, out.stderr
    assert_unchanged(before, everything(home), "readonly from env / config")


def test_dry_run_deploy_is_a_read(home, files):
    before = everything(home)
    out = run(home, "--readonly", "deploy", str(files / "api-v2.yaml"), "--dry-run")
    assert out.returncode == 0 and "would be configured" in out.stdout, out.stdout + out.stderr
    assert_unchanged(before, everything(home), "deploy --dry-run")


@pytest.mark.parametrize("command", [c for c, kind in CLASSES.items() if kind != MUTATING], ids=" ".join)
def test_every_other_command_runs_under_readonly_and_changes_nothing(command, home, files):
    """The classification's other half: what is not refused must really change nothing."""
    before = everything(home)
    out = run(home, "--readonly", *arguments(command, files, home), timeout=240)
    assert "--readonly" not in out.stderr and "Traceback" not in out.stderr, out.stderr
    # rollout status of web: a held rollout; data drift exits 1 when a feature drifted (a verdict, not a failure)
    assert out.returncode in ((0, 1) if command == ("data", "drift") else (0,)), (out.stdout, out.stderr)
    assert_unchanged(before, everything(home), " ".join(command))
    written = sorted(p.name for p in (files / "out").iterdir())
    if CLASSES[command] == LOCAL_OUTPUT:
        assert written, "a local output command wrote its file"
    for path in (files / "out").iterdir():
        path.unlink()


def test_the_comparison_sees_real_changes(home, files):
    """Last, on purpose: the same changes without --readonly do show in everything() (the checks above bite)."""
    before = everything(home)
    out = run(home, "scale", "api", "main", "2")
    assert out.returncode == 0, out.stderr
    out = run(home, "models", "alias", "credit-risk", "3", "readonly-probe")
    assert out.returncode == 0, out.stderr
    after = everything(home)
    assert after["runtime"] != before["runtime"] and after["registry"] != before["registry"]
    assert after["audit"] != before["audit"]
