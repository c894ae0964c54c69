"""`mlconsole audit verify` and `mlconsole audit log`."""

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from console.cli import main
from console.governance.audit import AuditLog
from tests.conftest import subprocess_env

NOW = datetime.now(UTC)


@pytest.fixture
def log(home):
    log = AuditLog(home)
    log.append("cluster.deploy", "local/credit-risk", after="main 100", actor="ops@bastion",
               now=NOW - timedelta(days=2))
    log.append("registry.alias.set", "credit-risk@champion", before="1", after="2", reason="won the A/B",
               actor="ops@bastion", now=NOW - timedelta(hours=3))
    log.append("cluster.traffic", "local/fraud", before="main 100", after="main 90 / canary 10",
               actor="dev@laptop", now=NOW - timedelta(minutes=10))
    return log


def cli(home, *args):
    return main(["--home", str(home), *args])


def test_verify_ok_prints_the_count_and_newest_hash(log, home, capsys):
    assert cli(home, "audit", "verify") == 0
    out = capsys.readouterr().out
    assert out.startswith("audit log OK: 3 entries, chain intact; newest entry 3 sha256:")


def test_verify_tampered_exits_1_naming_the_entry(log, home, capsys):
    rows = log.path.read_text().splitlines()
    rows[1] = rows[1].replace('"after": "2"', '"after": "3"')
    log.path.write_text("\n".join(rows) + "\n")
    before = log.path.read_bytes()
    assert cli(home, "audit", "verify") == 1
    err = capsys.readouterr().err
    assert "TAMPERED: entry 2 (registry.alias.set credit-risk@champion): contents altered" in err
    assert log.path.read_bytes() == before  # reported, never repaired
    assert cli(home, "audit", "verify", "--json") == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False and data["first_bad_entry"] == 2 and data["problem"] == "altered"


def test_verify_expect_anchor(log, home, capsys):
    third = log.tail(1)[0].hash
    assert cli(home, "audit", "verify", "--expect", f"3:{third[:12]}") == 0
    capsys.readouterr()
    assert cli(home, "audit", "verify", "--expect", "3:000000000000") == 1
    assert "not the expected" in capsys.readouterr().err
    assert cli(home, "audit", "verify", "--expect", "three") == 1
    assert "N:HASH" in capsys.readouterr().err


def test_verify_an_empty_home(home, capsys):
    assert cli(home, "audit", "verify") == 0
    assert "0 entries" in capsys.readouterr().out


def test_log_filters(log, home, capsys):
    assert cli(home, "audit", "log") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:5] == ["#", "TIME", "(UTC)", "ACTOR", "ACTION"] and len(out) == 4
    assert cli(home, "audit", "log", "--since", "1h") == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert len(rows) == 1 and "local/fraud" in rows[0]
    assert cli(home, "audit", "log", "--action", "cluster", "--json") == 0
    assert [e["target"] for e in json.loads(capsys.readouterr().out)] == ["local/credit-risk", "local/fraud"]
    assert cli(home, "audit", "log", "--target", "credit", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert [e["entry"] for e in data] == [1, 2] and data[1]["reason"] == "won the A/B" and data[1]["hash"]
    assert cli(home, "audit", "log", "--target", "local/*", "--action", "cluster.traffic", "--json") == 0
    assert [e["target"] for e in json.loads(capsys.readouterr().out)] == ["local/fraud"]
    since = (NOW - timedelta(days=1)).strftime("%Y-%m-%dT%H:%MZ")
    assert cli(home, "audit", "log", "--since", since, "--limit", "1", "--json") == 0
    assert [e["action"] for e in json.loads(capsys.readouterr().out)] == ["cluster.traffic"]


def test_log_bad_since_is_a_clear_error(log, home, capsys):
    assert cli(home, "audit", "log", "--since", "yesterday") == 1
    assert "--since 'yesterday' is neither a duration nor an ISO 8601 time" in capsys.readouterr().err


def test_log_shows_what_it_can_of_a_damaged_log(log, home, capsys):
    with open(log.path, "a") as fh:
        fh.write("{garbage\n")
    assert cli(home, "audit", "log") == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 4 and "line(s) 4" in captured.err


def test_changes_made_by_the_cli_are_verified_by_the_cli(home):
    """A real subprocess: an alias change (audited) then verify, as a script would."""
    run = lambda *a: subprocess.run([sys.executable, "-m", "console.cli", "--home", str(home), *a],  # noqa: E731
                                    capture_output=True, text=True, env=subprocess_env(), timeout=60)
    AuditLog(home).append("cluster.deploy", "local/x", actor="ops@bastion")
    out = run("audit", "verify")
    assert out.returncode == 0 and "1 entry, chain intact" in out.stdout
    AuditLog(home).path.write_text("")
    out = run("audit", "verify")
    assert out.returncode == 1 and "entry 1: missing — the log was truncated after entry 0" in out.stderr
