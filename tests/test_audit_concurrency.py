"""Two processes (say the console and the runtime's supervisor) appending at once: nothing lost,
nothing interleaved, the chain and the head agree."""

import subprocess
import sys
from collections import Counter
from pathlib import Path

from console.governance.audit import AuditLog
from tests.conftest import subprocess_env

WRITER = """
import sys
from pathlib import Path
from console.governance.audit import AuditLog

log = AuditLog(Path(sys.argv[1]))
sys.stdin.readline()  # start together
for i in range(int(sys.argv[3])):
    log.append("traffic", f"{sys.argv[2]}/{i}", before="main 100", after="main 90 / canary 10", actor=sys.argv[2])
"""

PER_WRITER = 1000


def test_two_processes_append_a_thousand_entries_each(home):
    root = str(Path(__file__).resolve().parents[1])
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(home), name, str(PER_WRITER)],
                                stdin=subprocess.PIPE, cwd=root, env=subprocess_env(), text=True)
               for name in ("console", "supervisor")]
    for writer in writers:  # both are importing by now; release them as close together as we can
        writer.stdin.write("go\n")
        writer.stdin.flush()
    for writer in writers:
        assert writer.wait(timeout=180) == 0

    log = AuditLog(home)
    records = log.records()
    assert all(r.entry is not None for r in records)  # no torn or interleaved line
    entries = [r.entry for r in records]
    assert len(entries) == 2 * PER_WRITER
    assert Counter(e.actor for e in entries) == {"console": PER_WRITER, "supervisor": PER_WRITER}
    for name in ("console", "supervisor"):  # each writer's own entries kept its order
        assert [e.target for e in entries if e.actor == name] == [f"{name}/{i}" for i in range(PER_WRITER)]
    result = log.check()
    assert result.ok, result.message
    assert result.count == 2 * PER_WRITER
    # The writers really took turns (not one after the other), or the test proved little.
    switches = sum(1 for a, b in zip(entries, entries[1:], strict=False) if a.actor != b.actor)
    assert switches > 1
