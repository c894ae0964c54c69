"""Verify an audit log: walk the hash chain, then compare its end with the head record.

The first entry that does not hold is named, with what happened to it: altered (its hash no
longer matches its fields), removed (the entry it was chained to is gone), reordered (that
entry now comes later), inserted (entries sit between it and the one it was chained to),
damaged (not an entry at all, e.g. cut mid-line) or truncated (the head says more were written).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from console.governance.audit import GENESIS, AuditRecord, AuditSnapshot, entry_digest
from console.types import AuditEntry


@dataclass(frozen=True)
class ChainCheck:
    """What verification found: ok, or the first bad entry (its line number) and what is wrong."""

    ok: bool
    count: int  # entries in the log (valid lines)
    message: str
    first_bad: int | None = None  # line number of the first entry that does not hold
    problem: str = ""  # altered, removed, reordered, inserted, damaged, truncated, head
    last_hash: str = ""  # the newest entry's hash: record it elsewhere to anchor the log
    bad_lines: frozenset[int] = field(default_factory=frozenset)  # lines to flag on screen

    def to_dict(self) -> dict:
        return {"ok": self.ok, "entries": self.count, "message": self.message, "first_bad_entry": self.first_bad,
                "problem": self.problem or None, "last_hash": self.last_hash}


def label(entry: AuditEntry) -> str:
    return f"{entry.action} {entry.target}".strip()


def _bad(count: int, line: int | None, problem: str, message: str, last_hash: str = "",
         lines: tuple[int, ...] | None = None) -> ChainCheck:
    flagged = lines if lines is not None else ((line,) if line else ())
    return ChainCheck(False, count, message, line, problem, last_hash, frozenset(flagged))


def check_chain(snapshot: AuditSnapshot, head_name: str = "the head record",
                expect: tuple[int, str] | None = None) -> ChainCheck:
    """Walk the chain oldest first; stop at the first entry that does not hold.

    expect: (entry number, hash prefix) that entry must have — an anchor kept outside the log.
    """
    records = snapshot.records
    valid = [r for r in records if r.entry is not None]
    count = len(valid)
    written_after = {r.entry.hash: r.line for r in valid}  # hash -> the line holding that entry
    prev, prev_line = GENESIS, 0
    for index, record in enumerate(records):
        entry = record.entry
        if entry is None:
            return _damaged(record, index == len(records) - 1 and not snapshot.ends_with_newline, count)
        name = f"entry {record.line} ({label(entry)})"
        if entry_digest({k: getattr(entry, k) for k in AuditEntry.__dataclass_fields__}) != entry.hash:
            return _bad(count, record.line, "altered",
                        f"{name}: contents altered — its hash no longer matches its fields")
        if entry.prev_hash != prev:
            return _out_of_place(record, name, prev_line, written_after, count)
        prev, prev_line = entry.hash, record.line
    result = _against_head(snapshot, valid, head_name, prev)
    if result.ok and expect is not None:
        return _against_anchor(result, valid, *expect)
    return result


def _against_anchor(result: ChainCheck, valid: list[AuditRecord], number: int, digest: str) -> ChainCheck:
    """A log rewritten whole (every hash recomputed, the head too) still differs from an outside record."""
    if number > len(valid):
        return _bad(result.count, len(valid) + 1, "truncated",
                    f"entry {len(valid) + 1}: missing — expected entry {number} (sha256:{digest}) but the log "
                    f"ends at entry {len(valid)}", result.last_hash, lines=())
    entry = valid[number - 1].entry
    assert entry is not None
    if not entry.hash.startswith(digest.lower()):
        return _bad(result.count, number, "altered",
                    f"entry {number} ({label(entry)}): hash sha256:{entry.hash[:16]} is not the expected "
                    f"sha256:{digest[:16]} — the log was rewritten at or before entry {number}", result.last_hash)
    return ChainCheck(True, result.count, f"{result.message}; entry {number} matches the expected hash",
                      last_hash=result.last_hash)


def _damaged(record: AuditRecord, cut_short: bool, count: int) -> ChainCheck:
    if cut_short:
        return _bad(count, record.line, "truncated",
                    f"entry {record.line} (line {record.line}): cut short — the file ends mid-entry "
                    f"({record.error})")
    return _bad(count, record.line, "damaged",
                f"entry {record.line} (line {record.line}) is not a valid entry: {record.error}")


def _out_of_place(record: AuditRecord, name: str, prev_line: int, written_after: dict[str, int],
                  count: int) -> ChainCheck:
    """The entry is intact but not chained to the one before it: say what moved."""
    entry = record.entry
    assert entry is not None
    line = record.line
    origin = written_after.get(entry.prev_hash)
    lead = f"{name}: previous entry removed or reordered"
    if entry.prev_hash == GENESIS:
        return _bad(count, 1, "inserted",
                    f"{lead} — it was the log's first entry, yet entries {1}–{line - 1} come before it "
                    "(added at the start)", lines=tuple(range(1, line)))
    if origin is not None and origin > line:
        return _bad(count, line, "reordered",
                    f"{lead} — it was written right after entry {origin}, which now comes after it "
                    "(lines reordered)", lines=(line, origin))
    if origin is not None and origin < prev_line:
        return _bad(count, origin + 1, "inserted",
                    f"{lead} — it was written right after entry {origin}; entries {origin + 1}–{line - 1} "
                    "were put in between (inserted or moved)", lines=tuple(range(origin + 1, line)))
    if prev_line == 0:
        return _bad(count, line, "removed",
                    f"{lead} — the entries written before it are missing (the log's beginning was cut)")
    return _bad(count, line, "removed",
                f"{lead} — the entry written just before it is missing (deleted, or entry {prev_line} "
                "was rewritten)", lines=(line,))


def _against_head(snapshot: AuditSnapshot, valid: list[AuditRecord], head_name: str, last: str) -> ChainCheck:
    """An intact chain may still have lost its newest entries: the head record says how many there were."""
    count = len(valid)
    head = snapshot.head
    if snapshot.head_error:
        return _bad(count, None, "head", f"{head_name} is damaged ({snapshot.head_error}): "
                    "cannot tell whether the newest entries were removed", last)
    if head is None:
        if count == 0:
            return ChainCheck(True, 0, "0 entries, chain intact", last_hash=last)
        return _bad(count, None, "head", f"{head_name} is missing: the chain of {count} entries is intact, but "
                    "the newest entries may have been removed", last)
    if count < head.count:
        gone = f"entry {count + 1}" if count + 1 == head.count else f"entries {count + 1}–{head.count}"
        return _bad(count, count + 1, "truncated",
                    f"entry {count + 1}: missing — the log was truncated after entry {count} "
                    f"({gone} of {head.count} written are gone)", last, lines=())
    anchor = valid[head.count - 1].entry if head.count else None
    if head.count and anchor is not None and anchor.hash != head.hash:
        line = valid[head.count - 1].line
        return _bad(count, line, "truncated",
                    f"entry {line} ({label(anchor)}): not the entry {head_name} names — entries were "
                    "removed from the end and others written in their place", last)
    if count == 0 and head.count == 0:
        return ChainCheck(True, 0, "0 entries, chain intact", last_hash=last)
    return ChainCheck(True, count, f"{count} {'entry' if count == 1 else 'entries'}, chain intact", last_hash=last)
