"""`mlconsole local up|down|status`: the embedded local runtime's supervisor."""

from __future__ import annotations

import argparse
import time

from console.commands.cluster_common import age, first_line, ready, replica_dict, summary_dict
from console.commands.output import print_json, print_table
from console.config import Settings


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    local = sub.add_parser("local", help="the embedded local runtime: start, stop, status", parents=parents)
    lsub = local.add_subparsers(dest="local_command", metavar="COMMAND", required=True)

    up = lsub.add_parser("up", help="start the supervisor (it serves every deployment on disk)", parents=parents)
    up.add_argument("--reason", default="", help="recorded in the audit log")
    up.set_defaults(run=run_up)

    down = lsub.add_parser("down", help="stop the supervisor and every serving process "
                                        "(deployments are kept for the next `local up`)", parents=parents)
    down.add_argument("--reason", default="", help="recorded in the audit log")
    down.set_defaults(run=run_down)

    recover = lsub.add_parser(
        "recover", parents=parents,
        help="after a damaged state file: stop this runtime's processes, keep the damaged file aside, "
             "and serve every deployment again from its saved manifest")
    recover.add_argument("--reason", default="", help="recorded in the audit log")
    recover.set_defaults(run=run_recover)

    status = lsub.add_parser("status", help="the supervisor, deployments and their processes", parents=parents)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(run=run_status)


def _local(settings: Settings):
    from backends.local.cluster import LocalCluster

    return LocalCluster(settings.home, settings.registry)


def run_up(args: argparse.Namespace, settings: Settings) -> int:
    from console.cluster_changes import ClusterChanges

    record = ClusterChanges(settings, _local(settings)).runtime_up(args.reason)
    state = "already running" if record["already_running"] else "started"
    print(f"local runtime {state}: supervisor pid {record['pid']}, API on 127.0.0.1:{record['port']}")
    return 0


def run_down(args: argparse.Namespace, settings: Settings) -> int:
    from console.cluster_changes import ClusterChanges

    result = ClusterChanges(settings, _local(settings)).runtime_down(args.reason)
    if not result["was_running"] and not result["stopped"]:
        print("local runtime was not running")
    else:
        print(f"local runtime stopped ({result['stopped']} serving processes); "
              "deployments are kept: `mlconsole local up` serves them again")
    return 0


def run_recover(args: argparse.Namespace, settings: Settings) -> int:
    from backends.local.recover import recover
    from console.errors import ReadOnly
    from console.governance.audit import AuditLog

    if settings.readonly:
        raise ReadOnly("recover the local runtime")
    done = recover(settings.home, settings.registry)
    if done.state_was_readable:
        print("the local runtime's state is readable: nothing to recover")
        return 0
    AuditLog(settings.home).append("cluster.recover", "local runtime", before=f"damaged state, moved to "
                                   f"{done.damaged_copy}", after=f"deployments {', '.join(done.deployments) or '-'}",
                                   reason=args.reason)
    print(f"stopped {len(done.stopped)} processes of this runtime; damaged state kept as {done.damaged_copy}")
    print(f"recovered {len(done.deployments)} deployments from their saved manifests: "
          f"{', '.join(done.deployments) or '-'} (rollouts in flight were only in the damaged file)")
    print("`mlconsole local up` serves them again")
    return 0


def run_status(args: argparse.Namespace, settings: Settings) -> int:
    cluster = _local(settings)
    supervisor = cluster.supervisor()
    deployments = cluster.list_deployments()
    pods = {d.name: cluster.list_replicas(d.name) for d in deployments}
    if supervisor and supervisor.get("registry"):
        from console.secrets import mask_uri

        supervisor = {**supervisor, "registry": mask_uri(str(supervisor["registry"]))}
    if args.json:
        print_json({"home": str(settings.home), "running": supervisor is not None, "supervisor": supervisor,
                    "deployments": [summary_dict(d) for d in deployments],
                    "processes": {name: [replica_dict(r) for r in rs] for name, rs in pods.items()}})
        return 0
    now = time.time()
    if supervisor:
        print(f"supervisor: running, pid {supervisor['pid']}, API 127.0.0.1:{supervisor['port']}, "
              f"up {age(supervisor.get('started_at'), now)}")
    else:
        print("supervisor: not running (`mlconsole local up` starts it; `deploy` does too)")
    print(f"home: {settings.home}")
    if not deployments:
        print("\nno deployments")
        return 0
    print()
    print_table(["deployment", "phase", "ready", "url", "traffic"],
                [(d.name, d.phase, ready(d), d.url, d.traffic_label) for d in deployments])
    print()
    print_table(["process", "pid", "port", "status", "ready", "restarts", "age"],
                [(r.name, r.pid or "", r.port or "", r.phase, "1/1" if r.ready else "0/1", r.restarts,
                  age(r.started_at, now) if r.pid else "") for rs in pods.values() for r in rs])
    problems = [(r.name, first_line(r.message)) for rs in pods.values() for r in rs
                if r.phase == "CrashLoopBackOff"]
    for name, message in problems:
        print(f"\n{name}: {message}")
    return 0
