"""`mlconsole audit verify|log`: check the tamper-evident audit log, and read it from scripts."""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import asdict

from console.commands.output import print_json, print_table
from console.config import Settings
from console.errors import InvalidSpec

EXIT_TAMPERED = 1
# Control characters (C0 but tab, DEL, C1) from a log that may have been tampered with: shown as \xNN, so
# that no escape sequence in an entry can move the cursor or rewrite the verdict printed beside it.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    audit = sub.add_parser("audit", help="the tamper-evident audit log: verify it, read it", parents=parents,
                           description="Every change to a cluster, the registry or a rollout is appended to "
                                       "HOME/audit/audit.jsonl, each entry chained to the previous one by SHA-256.")
    asub = audit.add_subparsers(dest="audit_command", metavar="COMMAND", required=True)

    verify = asub.add_parser(
        "verify", parents=parents, help="check the hash chain; exit 1 naming the first bad entry",
        description="Walks the chain and compares its end with the head record. Exits 0 when every entry "
                    "holds; 1 when an entry was altered, removed, reordered or the log truncated (the first "
                    "bad entry is named). Reports only: a tampered log is never repaired.")
    verify.add_argument("--expect", metavar="N:HASH", default=None,
                        help="also require entry N to have this hash (a prefix of 12+ hex digits), as "
                             "recorded elsewhere earlier: catches a log rewritten from entry N on")
    verify.add_argument("--json", action="store_true", help="machine-readable output")
    verify.set_defaults(run=run_verify)

    log = asub.add_parser("log", parents=parents, help="entries, oldest first, filtered",
                          description="Print audit entries oldest first. Filters combine.")
    log.add_argument("--since", metavar="WHEN", default=None,
                     help="a duration ago (90s, 15m, 1h, 2d, 1w) or an ISO 8601 time (UTC unless it says)")
    log.add_argument("--target", metavar="T", default="",
                     help="targets containing T (or matching a glob such as 'local/credit-*')")
    log.add_argument("--action", metavar="A", default="",
                     help="action A or its sub-actions ('cluster' matches cluster.deploy), or a glob")
    log.add_argument("--limit", type=int, default=0, metavar="N", help="only the newest N that match")
    log.add_argument("--json", action="store_true", help="machine-readable output (with hashes)")
    log.set_defaults(run=run_log)


def _expectation(text: str | None) -> tuple[int, str] | None:
    if not text:
        return None
    number, _, digest = text.partition(":")
    number = number.strip()  # str.strip() drops \x1c-\x1f too, which int() refuses: convert what was checked
    digest = digest.strip().lower().removeprefix("sha256:")
    # ASCII digits only: str.isdigit() also takes '²', which int() refuses
    if not re.fullmatch(r"[0-9]+", number) or int(number) < 1 or len(digest) < 12 \
            or any(c not in "0123456789abcdef" for c in digest):
        raise InvalidSpec(f"--expect {text!r}: write N:HASH with the entry number and 12+ hex digits of its hash",
                          hint="`mlconsole audit verify` prints the newest entry's number and hash")
    return int(number), digest


def run_verify(args: argparse.Namespace, settings: Settings) -> int:
    from console.governance.audit import AuditLog

    expect = _expectation(args.expect)
    log = AuditLog(settings.home)
    result = log.check(expect=expect)
    if args.json:
        print_json({**result.to_dict(), "path": str(log.path)})
    elif result.ok:
        newest = f"; newest entry {result.count} sha256:{result.last_hash}" if result.count else ""
        print(f"audit log OK: {result.message}{newest} ({log.path})")
    else:
        print(f"audit log TAMPERED: {printable(result.message)} ({log.path})", file=sys.stderr)
    return 0 if result.ok else EXIT_TAMPERED


def run_log(args: argparse.Namespace, settings: Settings) -> int:
    from console.governance.audit import AuditLog
    from console.governance.audit_query import AuditFilter, parse_since

    chosen = AuditFilter(since=parse_since(args.since) if args.since else None, target=args.target,
                         action=args.action)
    log = AuditLog(settings.home)
    records = log.records()
    damaged = [r.line for r in records if r.entry is None]
    shown = [r for r in records if r.entry is not None and chosen.matches(r.entry)]
    if args.limit > 0:
        shown = shown[-args.limit:]
    if args.json:
        print_json([{"entry": r.line, **asdict(r.entry)} for r in shown])
    else:
        print_table(["#", "time (utc)", "actor", "action", "target", "before", "after", "reason"],
                    [(r.line, printable(r.entry.time.replace("T", " ").removesuffix("Z")), printable(r.entry.actor),
                      printable(r.entry.action), printable(r.entry.target), _short(r.entry.before),
                      _short(r.entry.after), _short(r.entry.reason)) for r in shown])
    if damaged:
        print(f"mlconsole: warning: line(s) {', '.join(map(str, damaged[:5]))} of {log.path} are not entries "
              "— run `mlconsole audit verify`", file=sys.stderr)
    return 0


def _short(text: str, width: int = 48) -> str:
    text = printable(" ".join(text.split()))
    return text if len(text) <= width else text[:width - 1] + "…"
