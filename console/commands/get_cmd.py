"""`mlconsole get deployments|pods|events|manifest`: what the cluster runs, as kubectl shows it."""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict

from console.commands.cluster_common import age, cluster, first_line, ready, replica_dict, summary_dict
from console.commands.output import print_json, print_table
from console.config import Settings


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    get = sub.add_parser("get", help="list deployments, their processes (pods) and events", parents=parents)
    gsub = get.add_subparsers(dest="get_command", metavar="RESOURCE", required=True)

    deps = gsub.add_parser("deployments", aliases=["deployment", "deploy"], parents=parents,
                           help="deployments: phase, replicas ready/desired, gateway URL, traffic")
    deps.add_argument("name", nargs="?", default=None, help="only this deployment")
    deps.add_argument("--json", action="store_true", help="machine-readable output")
    deps.set_defaults(run=run_deployments)

    pods = gsub.add_parser("pods", aliases=["pod", "replicas"], parents=parents,
                           help="a deployment's serving processes: gateway and predictor replicas")
    pods.add_argument("name", help="the deployment")
    pods.add_argument("--json", action="store_true", help="machine-readable output")
    pods.set_defaults(run=run_pods)

    events = gsub.add_parser("events", aliases=["event"], parents=parents,
                             help="what the cluster did and saw, oldest first")
    events.add_argument("name", nargs="?", default=None, help="only this deployment's")
    events.add_argument("--json", action="store_true", help="machine-readable output")
    events.set_defaults(run=run_events)

    manifest = gsub.add_parser("manifest", parents=parents, help="the manifest as deployed (YAML)")
    manifest.add_argument("name", help="the deployment")
    manifest.set_defaults(run=run_manifest)


def run_deployments(args: argparse.Namespace, settings: Settings) -> int:
    backend = cluster(settings, "get_deployment")
    items = [backend.get_deployment(args.name).summary] if args.name else backend.list_deployments()
    if args.json:
        print_json({"cluster": backend.endpoint, "deployments": [summary_dict(d) for d in items]})
        return 0
    if not items:
        print(f"no deployments in {backend.endpoint}")
        return 0
    now = time.time()
    print_table(["name", "phase", "ready", "url", "traffic", "age", "message"],
                [(d.name, d.phase, ready(d), d.url, d.traffic_label, age(d.created_at, now),
                  first_line(d.message) if d.phase != "Available" else "") for d in items])
    return 0


def run_pods(args: argparse.Namespace, settings: Settings) -> int:
    replicas = cluster(settings, "list_replicas").list_replicas(args.name)
    if args.json:
        print_json({"deployment": args.name, "pods": [replica_dict(r) for r in replicas]})
        return 0
    now = time.time()
    print_table(["name", "ready", "status", "restarts", "age", "pid", "port", "message"],
                [(r.name, "1/1" if r.ready else "0/1", r.phase, r.restarts,
                  age(r.started_at, now) if r.pid else "", r.pid or "", r.port or "", first_line(r.message))
                 for r in replicas])
    return 0


def run_events(args: argparse.Namespace, settings: Settings) -> int:
    backend = cluster(settings, "get_deployment", "events")
    if args.name:
        backend.get_deployment(args.name)  # NotFound for a name that never existed
    events = backend.events(args.name)
    if args.json:
        print_json({"events": [asdict(e) for e in events]})
        return 0
    now = time.time()
    print_table(["last seen", "type", "reason", "object", "message"],
                [(age(e.time, now), e.kind, e.reason,
                  f"{e.deployment}/{e.object}" if e.object else e.deployment, e.message) for e in events])
    return 0


def run_manifest(args: argparse.Namespace, settings: Settings) -> int:
    from console.secrets import mask_manifest_text

    detail = cluster(settings, "get_deployment").get_deployment(args.name)
    text = mask_manifest_text(detail.manifest)  # as describe (y) shows it: secret values masked
    print(text, end="" if text.endswith("\n") else "\n")
    return 0
