"""The minimal audit writer: hash chain, tamper detection, concurrent writers."""

import json
import multiprocessing

from console.governance.audit import GENESIS, AuditLog


def test_append_chains_entries(home):
    log = AuditLog(home)
    a = log.append("alias.set", "credit-risk@champion", before="3", after="4", actor="t@h")
    b = log.append("deploy", "demo", actor="t@h")
    assert a.prev_hash == GENESIS and b.prev_hash == a.hash
    assert [e.action for e in log.tail(5)] == ["deploy", "alias.set"]
    assert log.verify() == (True, "2 entries, chain intact")


def test_verify_finds_altered_and_removed_entries(home):
    log = AuditLog(home)
    for i in range(3):
        log.append("scale", f"d{i}", actor="t@h")
    lines = log.path.read_text().splitlines()
    altered = json.loads(lines[1])
    altered["target"] = "evil"
    log.path.write_text("\n".join([lines[0], json.dumps(altered), lines[2]]) + "\n")
    ok, message = log.verify()
    assert not ok and message.startswith("entry 2") and "altered" in message
    log.path.write_text("\n".join([lines[0], lines[2]]) + "\n")
    ok, message = log.verify()
    assert not ok and "entry 2" in message and "removed or reordered" in message


def test_damaged_line_is_reported_not_raised_by_verify(home):
    log = AuditLog(home)
    log.append("x", "y", actor="t@h")
    with open(log.path, "a") as fh:
        fh.write("{not json\n")
    ok, message = log.verify()
    assert not ok and "line 2" in message


def _writer(home, n):
    log = AuditLog(home)
    for i in range(n):
        log.append("traffic", f"w{i}")


def test_concurrent_writers_keep_the_chain(home):
    procs = [multiprocessing.Process(target=_writer, args=(home, 25)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    log = AuditLog(home)
    assert len(log.entries()) == 75
    assert log.verify()[0]
