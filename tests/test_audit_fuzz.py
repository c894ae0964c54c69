"""Fuzzing the audit log's reader and verifier (console/governance/audit.py, audit_check.py, audit_query.py)
and the commands over them (`mlconsole audit verify`, `audit log`).

A genuine log is written once; each example damages a copy of it — lines replaced by arbitrary bytes or
JSON-ish text, fields edited, lines removed, swapped, duplicated, inserted, the file cut at any byte, the
head record replaced by anything — and then:
    * verification never raises and never hangs: it returns a verdict, intact or tampered with a named
      problem and (for a bad entry) the line of the first one;
    * a semantic change is always caught, at the entry that was changed (or the one after a removal);
    * `audit verify` exits 0 on an intact log and 1 on any other, with one line saying why ("audit log
      TAMPERED: ..."), never a traceback or an internal error, and no raw control characters;
    * `audit log` lists what it can read (exit 0), warns naming the lines that are not entries, and refuses
      a bad --since with a message (exit 1).
Examples are bounded (150 each, no deadline): a few seconds per property.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from console.cli import build_parser, main
from console.errors import InvalidSpec
from console.governance.audit import AuditLog
from console.governance.audit_check import ChainCheck
from console.governance.audit_query import AuditFilter, parse_since
from tests.conftest import subprocess_env
from tests.local_runtime import ROOT

pytestmark = pytest.mark.timeout(300)

FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
PROBLEMS = {"altered", "removed", "reordered", "inserted", "damaged", "truncated", "head"}
FIELDS = ("time", "actor", "action", "target", "before", "after", "reason", "prev_hash", "hash")
ENTRIES = 5
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _genuine() -> tuple[bytes, bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        log = AuditLog(Path(tmp))
        t0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
        for i in range(ENTRIES):
            log.append(f"cluster.{('deploy', 'scale', 'traffic')[i % 3]}", f"local/web-{i}", before=f"v{i}",
                       after={"replicas": i + 1}, reason="ship it" if i % 2 else "", now=t0 + timedelta(minutes=i))
        return log.path.read_bytes(), log.head_path.read_bytes()


GENUINE_LOG, GENUINE_HEAD = _genuine()
GENUINE_LINES = GENUINE_LOG.split(b"\n")[:-1]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True),
                    st.text(max_size=12))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                             st.dictionaries(st.text(max_size=6), inner, max_size=4)),
                           max_leaves=12)
junk_lines = st.one_of(
    st.binary(max_size=80).map(lambda b: b.replace(b"\n", b" ")),
    st.text(max_size=60).map(lambda t: t.replace("\n", " ").encode("utf-8", "surrogatepass")),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.sampled_from([b"{", b"[]", b"null", b'"text"', b"[" * 5000, b"{\"a\":" * 3000, b"\x1b[2K\rok",
                     b'{"time": "t", "action": "a", "target": "\\ud800", "prev_hash": "0", "hash": "0"}',
                     b'{"time": 1, "action": [], "target": {}, "prev_hash": null, "hash": 5}']),
)
heads = st.one_of(
    st.binary(max_size=60),
    st.fixed_dictionaries({}, optional={"count": scalars, "hash": scalars, "size": scalars}).map(
        lambda d: json.dumps(d).encode()),
    st.sampled_from([b"", b"[" * 5000, b'{"count": 1e999, "hash": "x", "size": 1}',
                     b'{"count": -3, "hash": "x", "size": 10}', b'{"count": 2, "hash": "x", "size": -1}',
                     b'{"count": "12", "hash": "x", "size": "9" }', b'{"count": 99999999999999999999999, '
                     b'"hash": "x", "size": 0}']),
    st.none(),  # the head file removed
)
mutation = st.one_of(
    st.tuples(st.just("replace"), st.integers(0, 20), junk_lines),
    st.tuples(st.just("edit"), st.integers(0, 20), st.sampled_from(FIELDS), json_values),
    st.tuples(st.just("delete"), st.integers(0, 20)),
    st.tuples(st.just("swap"), st.integers(0, 20), st.integers(0, 20)),
    st.tuples(st.just("duplicate"), st.integers(0, 20)),
    st.tuples(st.just("insert"), st.integers(0, 20), junk_lines),
    st.tuples(st.just("cut"), st.integers(0, len(GENUINE_LOG))),
    st.tuples(st.just("append"), st.binary(max_size=40)),
    st.tuples(st.just("head"), heads),
    st.tuples(st.just("whole"), st.binary(max_size=300)),
)


def damage(log: bytes, head: bytes | None, changes) -> tuple[bytes, bytes | None]:
    """Apply each change to (log bytes, head bytes); indices wrap around the lines there are."""
    for change in changes:
        kind = change[0]
        lines = log.split(b"\n")
        tail = lines.pop() if lines else b""  # what follows the last newline ('' for a whole file)
        n = len(lines)
        if kind == "head":
            head = change[1]
            continue
        if kind == "cut":
            log = log[:change[1]]
            continue
        if kind == "append":
            log = log + change[1]
            continue
        if kind == "whole":
            log = change[1]
            continue
        if kind == "insert":
            lines.insert(change[1] % (n + 1), change[2])
        elif n == 0:
            continue
        elif kind == "replace":
            lines[change[1] % n] = change[2]
        elif kind == "edit":
            i = change[1] % n
            try:
                data = json.loads(lines[i])
            except ValueError:
                continue
            if isinstance(data, dict):
                data[change[2]] = change[3]
                lines[i] = json.dumps(data, ensure_ascii=False).encode("utf-8", "surrogatepass")
        elif kind == "delete":
            del lines[change[1] % n]
        elif kind == "swap":
            i, j = change[1] % n, change[2] % n
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "duplicate":
            i = change[1] % n
            lines.insert(i, lines[i])
        log = b"\n".join([*lines, tail])
    return log, head


@contextlib.contextmanager
def home_with(log: bytes, head: bytes | None):
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        audit = AuditLog(home)
        audit.path.parent.mkdir(parents=True)
        audit.path.write_bytes(log)
        if head is not None:
            audit.head_path.write_bytes(head)
        yield home


def verdict_holds(result: ChainCheck, log: bytes) -> None:
    assert isinstance(result, ChainCheck) and isinstance(result.ok, bool)
    assert result.message and isinstance(result.message, str)
    if result.ok:
        assert result.problem == "" and result.first_bad is None
        return
    assert result.problem in PROBLEMS, result
    lines = log.count(b"\n") + 1
    assert result.first_bad is None or 1 <= result.first_bad <= lines + 1, (result, lines)
    if result.problem != "head":
        assert result.first_bad is not None, result


PARSER = build_parser()  # built once: argparse takes ~0.2 s to build it, more than the command takes


def cli(home: Path, *args: str) -> tuple[int, str, str]:
    """`mlconsole --home HOME ARGS` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            mock.patch("console.cli.build_parser", lambda: PARSER):
        try:
            code = main(["--home", str(home), *args])
        except SystemExit as exc:  # argparse's own refusals
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_the_genuine_log_verifies():
    with home_with(GENUINE_LOG, GENUINE_HEAD) as home:
        result = AuditLog(home).check()
        assert result.ok and result.count == ENTRIES, result


@FUZZ
@given(st.lists(mutation, min_size=1, max_size=3))
def test_verify_always_answers_with_a_verdict(changes):
    log, head = damage(GENUINE_LOG, GENUINE_HEAD, changes)
    with home_with(log, head) as home:
        audit = AuditLog(home)
        result = audit.check()
        verdict_holds(result, log)
        assert audit.verify() == (result.ok, result.message)
        records = audit.records()  # the reader itself: every line a record, damaged ones with a reason
        assert all(r.entry is not None or r.error for r in records)
        if (log, head) == (GENUINE_LOG, GENUINE_HEAD):
            assert result.ok


@FUZZ
@given(st.integers(0, ENTRIES - 1), st.sampled_from(FIELDS), json_values)
def test_an_edited_entry_is_named(index, field, value):
    data = json.loads(GENUINE_LINES[index])
    assume(str(value) != data[field] and not (field == "hash" and value is None))
    data[field] = value
    lines = list(GENUINE_LINES)
    lines[index] = json.dumps(data, ensure_ascii=False).encode("utf-8", "surrogatepass")
    log = b"\n".join(lines) + b"\n"
    with home_with(log, GENUINE_HEAD) as home:
        result = AuditLog(home).check()
    assert not result.ok and result.first_bad == index + 1, (field, value, result)
    assert result.problem in ("altered", "damaged"), result


@FUZZ
@given(st.one_of(st.tuples(st.just("delete"), st.integers(0, ENTRIES - 1)),
                 st.tuples(st.just("swap"), st.integers(0, ENTRIES - 1), st.integers(0, ENTRIES - 1)),
                 st.tuples(st.just("duplicate"), st.integers(0, ENTRIES - 1)),
                 st.tuples(st.just("cut"), st.integers(0, len(GENUINE_LOG) - 2))))
def test_removed_moved_or_cut_entries_are_caught(change):
    assume(not (change[0] == "swap" and change[1] == change[2]))
    log, head = damage(GENUINE_LOG, GENUINE_HEAD, [change])
    with home_with(log, head) as home:
        result = AuditLog(home).check()
    verdict_holds(result, log)
    assert not result.ok, (change, result)
    if change[0] == "delete":
        assert result.first_bad == min(change[1] + 1, ENTRIES), result


@FUZZ
@given(st.lists(mutation, min_size=1, max_size=3))
def test_the_commands_say_why_and_never_crash(changes):
    log, head = damage(GENUINE_LOG, GENUINE_HEAD, changes)
    with home_with(log, head) as home:
        ok = AuditLog(home).check().ok
        code, out, err = cli(home, "audit", "verify")
        assert "Traceback" not in err and "internal error" not in err, err
        if ok:
            assert code == 0 and out.startswith("audit log OK: "), (out, err)
        else:
            assert code == 1 and err.startswith("audit log TAMPERED: ") and err.count("\n") == 1, err
            assert not RAW_CONTROL.search(err), repr(err)
        code, out, err = cli(home, "audit", "verify", "--json")
        verdict = json.loads(out)
        assert code == (0 if ok else 1) and verdict["ok"] is ok and verdict["message"]
        code, out, err = cli(home, "audit", "log")
        assert code == 0 and "Traceback" not in err and "internal error" not in err, err
        assert not RAW_CONTROL.search(out), repr(out)
        damaged = [r.line for r in AuditLog(home).records() if r.entry is None]
        if damaged:
            assert "are not entries" in err and str(damaged[0]) in err, err
        code, out, err = cli(home, "audit", "log", "--json", "--limit", "3")
        assert code == 0 and len(json.loads(out)) <= 3, err


@FUZZ
@given(st.text(max_size=30), st.text(max_size=12), st.text(max_size=12))
def test_audit_log_filters_accept_or_refuse_with_a_message(since, target, action):
    assume("\x00" not in since + target + action)
    try:
        parse_since(since) if since else None
        valid = True
    except InvalidSpec as exc:
        assert "--since" in str(exc)
        valid = False
    with home_with(GENUINE_LOG, GENUINE_HEAD) as home:
        code, out, err = cli(home, "audit", "log", f"--since={since}", f"--target={target}", f"--action={action}")
        assert "Traceback" not in err and "internal error" not in err, err
        if valid:
            assert code == 0, err
            chosen = AuditFilter(since=parse_since(since) if since else None, target=target, action=action)
            shown = [e for e in AuditLog(home).entries() if chosen.matches(e)]
            assert all(f" {e.target} " in out for e in shown)
        else:
            assert code == 1 and err.startswith("mlconsole: --since"), err


@FUZZ
@given(st.text(max_size=40))
@example("0\x1f:" + "0" * 12)  # str.strip() drops \x1f, int() refuses it (found by this test in CI rehearsal)
def test_verify_expect_accepts_or_refuses_with_a_message(expect):
    assume("\x00" not in expect)
    with home_with(GENUINE_LOG, GENUINE_HEAD) as home:
        code, out, err = cli(home, "audit", "verify", f"--expect={expect}")
    assert code in (0, 1) and "Traceback" not in err and "internal error" not in err, err
    if code == 1:
        assert err.startswith(("mlconsole: --expect", "audit log TAMPERED: ")), err


# -- the real command, on the damage the fuzzing found ------------------------------------------------------

FOUND = {
    # a JSON escape for half a UTF-16 pair: the digest could not be computed (UnicodeEncodeError)
    "lone surrogate": lambda lines: lines[:1] + [lines[1].replace(b'"local/web-1"', b'"local/\\ud800"')] + lines[2:],
    # a line nested deeper than the JSON parser's recursion limit (RecursionError)
    "deep nesting": lambda lines: [*lines, b"[" * 100_000],
    # a terminal escape sequence in a target: must not reach the terminal raw
    "escape sequence": lambda lines: lines[:2] + [lines[2].replace(b"local/web-2", b"local/\\u001b[2K\\rok")]
    + lines[3:],
}
HEADS = {
    "head count infinite": b'{"count": 1e999, "hash": "x", "size": 1}',  # OverflowError
    "head count negative": b'{"count": -5, "hash": "x", "size": 10}',  # IndexError
    "head size negative": b'{"count": 5, "hash": "x", "size": -1}',  # the next append's seek failed
}


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "console.cli", "--home", str(home), *args], capture_output=True,
                          text=True, env=subprocess_env(), timeout=60, cwd=ROOT)


@pytest.mark.parametrize("case", [*FOUND, *HEADS])
def test_the_command_names_what_is_wrong(case, tmp_path):
    lines = list(GENUINE_LINES)
    log = b"\n".join(FOUND[case](lines) if case in FOUND else lines) + b"\n"
    head = HEADS.get(case, GENUINE_HEAD)
    audit = AuditLog(tmp_path)
    audit.path.parent.mkdir(parents=True)
    audit.path.write_bytes(log)
    audit.head_path.write_bytes(head)
    out = run_cli(tmp_path, "audit", "verify")
    assert out.returncode == 1 and out.stderr.startswith("audit log TAMPERED: "), (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr and "internal error" not in out.stderr
    assert not RAW_CONTROL.search(out.stderr), repr(out.stderr)
    if case in FOUND:
        assert re.search(r"entry \d", out.stderr), out.stderr
    else:
        assert "audit.head.json is damaged" in out.stderr, out.stderr
    listed = run_cli(tmp_path, "audit", "log")
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
    assert not RAW_CONTROL.search(listed.stdout), repr(listed.stdout)
    if case == "escape sequence":
        assert "\\x1b[2K\\x0dok" in listed.stdout + out.stderr
    # and the log still takes entries: a damaged file or head never stops the next audited change
    AuditLog(tmp_path).append("cluster.scale", "local/web", reason="after the damage \udcff")
    assert not AuditLog(tmp_path).check().ok  # the evidence stays


def test_a_reason_with_undecodable_bytes_is_written(tmp_path):
    """argv bytes that are not UTF-8 arrive as lone surrogates: the entry is written, with U+FFFD."""
    entry = AuditLog(tmp_path).append("cluster.scale", "local/web\udcff", reason="why \udcfe")
    assert "\ufffd" in entry.target and AuditLog(tmp_path).check().ok


def test_since_far_in_the_past_is_refused_with_a_message():
    with pytest.raises(InvalidSpec, match="--since"):
        parse_since("99999999999w")
