"""Cluster view listing at scale: 5,000 pods across 50 SeldonDeployments, against kubectl.

A kmock-emulated API server (tests/kubernetes/emulator.py: paged lists, resourceVersions, label
selectors as a real server answers them) holds 50 SeldonDeployments of two predictors each and
5,000 pods labelled as Seldon labels them, with the bulk of real pods (volumes, env, probes,
conditions). Through one generated kubeconfig, in the same run, alternating:

- mlconsole: a fresh process lists what the Cluster view shows (backends.kubernetes:
  SeldonDeployments, then every Seldon pod in pages of 500, counted into ready/desired per
  predictor): time from spawn to the rows, time of the listing itself, and peak RSS; then the
  view's refresh once its watches run (no request);
- kubectl: `kubectl get pods -A -o json` (discovery cache warmed first, as it is in daily use):
  time from spawn to the first byte and to the end, and peak RSS.

Memory is each process's peak resident set (GNU time's %M), the Python interpreter included.

    python bench/cluster.py [--pods 5000] [--deployments 50] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.kubernetes.emulator import PODS, SDEPS, EmulatorThread  # noqa: E402

CHILD = r"""
import json, sys, time
started = time.perf_counter()
sys.path.insert(0, sys.argv[1])
from backends.kubernetes.cluster import KubernetesCluster

def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1])

cluster = KubernetesCluster("kmock-ctx", "all")
imported = time.perf_counter()
baseline = rss("VmRSS:")
rows = cluster.list_deployments()
listed = time.perf_counter()
print(f"ROWS {len(rows)}", flush=True)
ready = sum(p.ready_replicas for d in rows for p in d.predictors)
cluster.list_deployments()  # the view's next refresh: this one starts the watches
mirror = cluster._pod_mirror()
while not (mirror.live and cluster._sdep_mirror().live):
    time.sleep(0.005)
t = time.perf_counter()
cluster.list_deployments()  # served from the watches
refresh = time.perf_counter() - t
print(json.dumps({"import": imported - started, "listing": listed - imported, "refresh": refresh,
                  "rows": len(rows), "ready": ready, "baseline_kb": baseline, "peak_kb": rss("VmHWM:")}),
      flush=True)
cluster.close()
"""


def realistic_pod(deployment: str, predictor: str, index: int, namespace: str) -> dict:
    """A pod as Seldon's operator and the kubelet leave it (~4 KB of JSON, as in `kubectl get -o json`)."""
    name = f"{deployment}-{predictor}-0-classifier-7d9f8b{index % 7}c-{index:05x}"
    containers = []
    for cname, image in (("classifier", "seldonio/sklearnserver:1.18.2"),
                         ("seldon-container-engine", "seldonio/seldon-core-executor:1.18.2")):
        containers.append({
            "name": cname, "image": image, "imagePullPolicy": "IfNotPresent",
            "ports": [{"name": "http", "containerPort": 9000, "protocol": "TCP"},
                      {"name": "metrics", "containerPort": 6000, "protocol": "TCP"}],
            "env": [{"name": "PREDICTIVE_UNIT_SERVICE_PORT", "value": "9000"},
                    {"name": "PREDICTIVE_UNIT_ID", "value": "classifier"},
                    {"name": "SELDON_DEPLOYMENT_ID", "value": deployment},
                    {"name": "SELDON_EXECUTOR_ENABLED", "value": "true"},
                    {"name": "PREDICTOR_ID", "value": predictor}],
            "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
            "readinessProbe": {"tcpSocket": {"port": "http"}, "initialDelaySeconds": 20, "periodSeconds": 5,
                               "failureThreshold": 3, "successThreshold": 1, "timeoutSeconds": 1},
            "livenessProbe": {"tcpSocket": {"port": "http"}, "initialDelaySeconds": 60, "periodSeconds": 5,
                              "failureThreshold": 3, "successThreshold": 1, "timeoutSeconds": 1},
            "volumeMounts": [{"name": "podinfo", "mountPath": "/etc/podinfo"},
                             {"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                              "readOnly": True}],
            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"})
    ready = index % 10 != 0
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "generateName": name[:-5],
                     "labels": {"seldon-deployment-id": deployment, "seldon-app": f"{deployment}-{predictor}",
                                "app": f"{deployment}-{predictor}-0-classifier", "version": predictor,
                                "fluentd": "true", "seldon.io/model": "true",
                                "app.kubernetes.io/managed-by": "seldon-core", "pod-template-hash": "7d9f8b"},
                     "annotations": {"prometheus.io/path": "/prometheus", "prometheus.io/scrape": "true"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "controller": True,
                                          "blockOwnerDeletion": True, "name": f"{deployment}-{predictor}-7d9f8b",
                                          "uid": "5f0c6a6e-6f7d-4c53-9d5e-4c1c6c1f0e2a"}]},
        "spec": {"containers": containers, "restartPolicy": "Always", "terminationGracePeriodSeconds": 20,
                 "dnsPolicy": "ClusterFirst", "serviceAccountName": "default", "nodeName": f"node-{index % 40}",
                 "schedulerName": "default-scheduler", "priority": 0, "enableServiceLinks": True,
                 "securityContext": {"runAsUser": 8888},
                 "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                                  "effect": "NoExecute", "tolerationSeconds": 300}],
                 "volumes": [{"name": "podinfo", "downwardAPI": {"items": [
                     {"path": "annotations", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.annotations"}}],
                     "defaultMode": 420}},
                     {"name": "kube-api-access", "projected": {"defaultMode": 420, "sources": [
                         {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}]}}]},
        "status": {
            "phase": "Running", "hostIP": "10.0.1.4", "podIP": f"10.1.{index // 250}.{index % 250}",
            "qosClass": "Burstable", "startTime": "2026-11-30T10:00:00Z",
            "conditions": [{"type": t, "status": "True" if ready or t in ("Initialized", "PodScheduled") else "False",
                            "lastTransitionTime": "2026-11-30T10:00:00Z"}
                           for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
            "containerStatuses": [{"name": c["name"], "image": c["image"], "imageID": f"docker-pullable://{c['image']}",
                                   "containerID": f"containerd://{index:064x}", "ready": ready,
                                   "restartCount": 0 if ready else 3, "started": ready,
                                   "state": {"running": {"startedAt": "2026-11-30T10:00:05Z"}}}
                                  for c in containers]},
    }


def seed(server: EmulatorThread, deployments: int, pods: int) -> None:
    per = pods // deployments
    sdeps, all_pods = [], []
    for d in range(deployments):
        name, namespace = f"model-{d:02d}", f"team-{d % 5}"
        preds = [{"name": p, "traffic": t, "replicas": per // 2,
                  "componentSpecs": [{"spec": {"containers": [{"name": "classifier",
                                                               "image": "seldonio/sklearnserver:1.18.2"}]}}],
                  "graph": {"name": "classifier", "type": "MODEL", "implementation": "SKLEARN_SERVER",
                            "modelUri": f"gs://models/{name}/{p}", "children": []}}
                 for p, t in (("main", 90), ("canary", 10))]
        sdeps.append({"apiVersion": "machinelearning.seldon.io/v1", "kind": "SeldonDeployment",
                      "metadata": {"name": name, "namespace": namespace}, "spec": {"predictors": preds},
                      "status": {"state": "Available"}})
        for i in range(per):
            all_pods.append(realistic_pod(name, "main" if i < per // 2 else "canary", d * per + i, namespace))
    server.seed(SDEPS, sdeps)
    server.seed(PODS, all_pods)


TIME = "/usr/bin/time"  # GNU time: a small process forks the measured one, so its peak RSS is its own


def run(command: list[str], env: dict[str, str], marker: bytes | None, work: Path) -> dict:
    """Spawn, note when the first output (or the marker line) arrives and when it ends, and its peak RSS.

    The peak comes from GNU time when present: a child forked straight from this (big) process would
    count our own pages, copied at fork, as its peak.
    """
    report = work / "time.out"
    measured = [TIME, "-f", "%M", "-o", str(report), *command] if os.path.exists(TIME) else command
    started = time.perf_counter()
    proc = subprocess.Popen(measured, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    first = None
    chunks: list[bytes] = []
    tail = b""
    fd = proc.stdout.fileno()
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
        if first is None:
            tail = (tail + chunk)[-4096:]
            if marker is None or marker in tail:
                first = time.perf_counter() - started
    _, status, usage = os.wait4(proc.pid, 0)
    ended = time.perf_counter() - started
    err = proc.stderr.read().decode(errors="replace")
    proc.stdout.close()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{command[0]} failed: {err[-800:]}")
    rss_kb = int(report.read_text().split()[-1]) if measured[0] == TIME else usage.ru_maxrss
    return {"first": first if first is not None else ended, "end": ended, "rss_kb": rss_kb,
            "out": b"".join(chunks)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=5000)
    parser.add_argument("--deployments", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    server = EmulatorThread().start()
    try:
        began = time.perf_counter()
        seed(server, args.deployments, args.pods)
        print(f"kmock at {server.url}: {args.deployments} SeldonDeployments, {args.pods} pods "
              f"(seeded in {time.perf_counter() - began:.1f}s)")
        config = server.write_kubeconfig(work / "kubeconfig")
        env = {**os.environ, "KUBECONFIG": str(config), "HOME": str(work), "MLFLOW_DISABLE_TELEMETRY": "true"}
        kubectl = ["kubectl", "--kubeconfig", str(config), "--context", "kmock-ctx", "--cache-dir",
                   str(work / "kube-cache"), "get", "pods", "-A", "-o", "json"]
        ours = [sys.executable, "-c", CHILD, str(ROOT)]
        warm = run(kubectl, env, None, work)  # discovery cache, as after a day's use
        items = len(json.loads(warm["out"])["items"])
        print(f"kubectl sees {items} pods ({len(warm['out']) / 1e6:.1f} MB of JSON)")

        results: dict[str, list[dict]] = {"mlconsole": [], "kubectl": []}
        for i in range(args.runs):
            mine = run(ours, env, b"ROWS", work)
            detail = json.loads(mine["out"].decode().splitlines()[-1])
            results["mlconsole"].append({**mine, **detail})
            theirs = run(kubectl, env, None, work)
            results["kubectl"].append(theirs)
            print(f"run {i + 1}: mlconsole rows at {mine['first'] * 1000:.0f} ms (listing "
                  f"{detail['listing'] * 1000:.0f} ms, {detail['rows']} deployments, {detail['ready']} ready pods), "
                  f"peak {mine['rss_kb'] / 1024:.0f} MiB; kubectl first byte {theirs['first'] * 1000:.0f} ms, "
                  f"done {theirs['end'] * 1000:.0f} ms, peak {theirs['rss_kb'] / 1024:.0f} MiB")
    finally:
        server.stop()

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in results[name])

    m_first, k_first, k_end = med("mlconsole", "first"), med("kubectl", "first"), med("kubectl", "end")
    m_list, m_refresh = med("mlconsole", "listing"), med("mlconsole", "refresh")
    m_rss, k_rss = med("mlconsole", "rss_kb") / 1024, med("kubectl", "rss_kb") / 1024
    m_base = med("mlconsole", "baseline_kb") / 1024
    print(f"\nCluster view over {args.pods} pods / {args.deployments} SeldonDeployments (median of {args.runs}):")
    print(f"  mlconsole: first rows {m_first * 1000:.0f} ms from spawn (the listing itself {m_list * 1000:.0f} ms), "
          f"refresh from the watch {m_refresh * 1000:.1f} ms; peak RSS {m_rss:.0f} MiB "
          f"({m_base:.0f} MiB before the kubernetes client loads)")
    print(f"  kubectl get pods -A -o json: first byte {k_first * 1000:.0f} ms, done {k_end * 1000:.0f} ms; "
          f"peak RSS {k_rss:.0f} MiB")
    print(f"  ratios (kubectl / mlconsole): time to first rows {k_first / m_first:.2f}x, "
          f"memory {k_rss / m_rss:.2f}x; refresh {k_end / max(m_refresh, 1e-6):.0f}x faster than re-running kubectl")
    return 0


if __name__ == "__main__":
    sys.exit(main())
