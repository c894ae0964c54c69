"""Tampering with the audit log: each way of changing the file is reported, naming the first bad entry,
and nothing repairs it — not verify, not the next append."""

import json
from datetime import UTC, datetime

import pytest

from console.governance.audit import AuditLog

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture
def log(home):
    log = AuditLog(home)
    for i in range(5):
        log.append("cluster.scale", f"local/d{i}", before=f"main replicas {i}", after=f"main replicas {i + 1}",
                   actor="ops@bastion", now=AT.replace(minute=i))
    return log


def lines(log):
    return log.path.read_text().splitlines()


def write(log, rows):
    log.path.write_text("".join(row + "\n" for row in rows))


def test_an_untouched_log_verifies(log):
    result = log.check()
    assert result.ok and result.count == 5 and result.first_bad is None
    assert result.message == "5 entries, chain intact"
    assert result.last_hash == json.loads(lines(log)[-1])["hash"]


def test_an_edited_field_is_named(log):
    rows = lines(log)
    entry = json.loads(rows[2])
    entry["after"] = "main replicas 30"
    rows[2] = json.dumps(entry)
    write(log, rows)
    result = log.check()
    assert not result.ok and result.first_bad == 3 and result.problem == "altered"
    assert result.message.startswith("entry 3 (cluster.scale local/d2): contents altered")


def test_an_edit_with_its_hash_recomputed_breaks_the_next_link(log):
    from console.governance.audit import entry_digest

    rows = lines(log)
    entry = json.loads(rows[1])
    entry["actor"] = "someone-else@laptop"
    entry["hash"] = entry_digest(entry)
    rows[1] = json.dumps(entry)
    write(log, rows)
    result = log.check()
    assert not result.ok and result.first_bad == 3 and result.problem == "removed"
    assert "entry 2 was rewritten" in result.message


def test_a_deleted_line_is_named(log):
    rows = lines(log)
    del rows[1]
    write(log, rows)
    result = log.check()
    assert not result.ok and result.first_bad == 2 and result.problem == "removed"
    assert result.message.startswith("entry 2 (cluster.scale local/d2): previous entry removed or reordered")


def test_deleting_the_first_line_is_named(log):
    write(log, lines(log)[1:])
    result = log.check()
    assert not result.ok and result.first_bad == 1 and "beginning was cut" in result.message


def test_two_swapped_lines_are_named(log):
    rows = lines(log)
    rows[1], rows[2] = rows[2], rows[1]
    write(log, rows)
    result = log.check()
    assert not result.ok and result.first_bad == 2 and result.problem == "reordered"
    assert "written right after entry 3, which now comes after it" in result.message
    assert result.bad_lines == {2, 3}


def test_a_line_moved_earlier_is_named_as_inserted(log):
    rows = lines(log)
    rows.insert(1, rows.pop(3))  # entry 4 moved to position 2
    write(log, rows)
    result = log.check()
    assert not result.ok and result.first_bad == 2


def test_truncating_whole_entries_is_named_by_the_head(log):
    write(log, lines(log)[:3])
    result = log.check()
    assert not result.ok and result.first_bad == 4 and result.problem == "truncated"
    assert result.message.startswith("entry 4: missing — the log was truncated after entry 3")


def test_truncating_mid_line_is_named(log):
    data = log.path.read_bytes()
    log.path.write_bytes(data[:len(data) - 40])
    result = log.check()
    assert not result.ok and result.first_bad == 5 and result.problem == "truncated"
    assert "cut short" in result.message


def test_truncating_everything_is_named(log):
    log.path.write_text("")
    result = log.check()
    assert not result.ok and result.first_bad == 1 and result.problem == "truncated"


def test_a_removed_head_is_reported(log):
    log.head_path.unlink()
    result = log.check()
    assert not result.ok and result.problem == "head" and "missing" in result.message


def test_appending_after_tampering_repairs_nothing(log):
    write(log, lines(log)[:3])
    log.append("cluster.deploy", "local/after", actor="ops@bastion", now=AT.replace(hour=10))
    result = log.check()
    # The new entry chains onto entry 3, but the head still remembers that 5 were written.
    assert not result.ok and result.problem == "truncated" and result.first_bad == 5
    rows = lines(log)
    rows[0] = rows[0].replace("local/d0", "local/x0")
    write(log, rows)
    assert log.check().first_bad == 1  # still reported, at the first bad entry


def test_a_damaged_line_in_the_middle_is_named_and_survives_appends(log):
    rows = lines(log)
    rows[1] = "{not json"
    write(log, rows)
    log.append("cluster.deploy", "local/next", actor="ops@bastion")
    result = log.check()
    assert not result.ok and result.first_bad == 2 and result.problem == "damaged"
    assert "line 2" in result.message
    assert [e.target for e in log.tail(2)] == ["local/next", "local/d4"]  # readers skip the damaged line


def test_a_crash_between_log_and_head_is_not_tampering(log):
    head = log.head_path.read_text()
    log.append("cluster.deploy", "local/x", actor="ops@bastion")
    log.head_path.write_text(head)  # as if the head write after the last append was lost
    assert log.check().ok
    log.append("cluster.deploy", "local/y", actor="ops@bastion")
    assert json.loads(log.head_path.read_text())["count"] == 7 and log.check().ok


def test_an_outside_anchor_catches_a_log_rewritten_whole(log, home):
    anchor = (3, json.loads(lines(log)[2])["hash"][:16])
    assert log.check(expect=anchor).ok
    # Rewrite the whole log consistently from scratch: chain and head agree with each other again.
    rewritten = AuditLog(home / "elsewhere")
    for i in range(5):
        rewritten.append("cluster.scale", f"local/d{i}", after="forged", actor="ops@bastion", now=AT.replace(minute=i))
    log.path.write_bytes(rewritten.path.read_bytes())
    log.head_path.write_bytes(rewritten.head_path.read_bytes())
    assert log.check().ok
    result = log.check(expect=anchor)
    assert not result.ok and result.first_bad == 3 and "rewritten at or before entry 3" in result.message


def test_secrets_never_reach_the_file(home):
    log = AuditLog(home)
    log.append("cluster.deploy", "local/x", before={"env": [{"name": "AWS_SECRET_ACCESS_KEY", "value": "AKIAxyz"}]},
               after="MLFLOW_TRACKING_TOKEN=tok123 and https://bob:hunter2@host/x", reason="db_password: pw1",
               actor="ops@bastion")
    text = log.path.read_text()
    for secret in ("AKIAxyz", "tok123", "hunter2", "pw1"):
        assert secret not in text
    assert log.check().ok


def test_kubernetes_identity_joins_the_actor(home):
    entry = AuditLog(home).append("cluster.scale", "prod/x", actor="alice@ops", identity="oidc:alice")
    assert entry.actor == "alice@ops (k8s oidc:alice)"
