"""kubeconfig as kubectl reads it: KUBECONFIG (several files, merged), contexts, namespaces, in-cluster.

The kubernetes client reads KUBECONFIG once, when it is imported; we read it on every call so a
console whose environment (or tests) changed it sees the same files kubectl would. Token, client
certificate and exec-plugin credentials are the client's own: we hand it the merged file list.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console.errors import BackendUnavailable

IN_CLUSTER = "in-cluster"
"""The context name that means: the service account of the pod we run in (`rollout controller`)."""
SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
ALL_NAMESPACES = ("all", "*", "_all")
"""Namespace values that mean every namespace (k9s says `:ns all`)."""


@dataclass(frozen=True)
class ContextInfo:
    """One kubeconfig context, for pickers and `config show`."""

    name: str
    cluster: str = ""
    user: str = ""
    namespace: str = ""
    current: bool = False


def config_files(env: dict[str, str] | None = None) -> str:
    """The kubeconfig path list kubectl would read: $KUBECONFIG (os.pathsep-separated) or ~/.kube/config."""
    env = os.environ if env is None else env
    value = env.get("KUBECONFIG", "")
    files = [p for p in value.split(os.pathsep) if p.strip()] if value else []
    if not files:
        files = [str(Path("~/.kube/config").expanduser())]
    return os.pathsep.join(str(Path(p).expanduser()) for p in files)


def in_cluster_available() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and (SERVICE_ACCOUNT / "token").exists()


def _config_error(exc: BaseException, context: str) -> BackendUnavailable:
    return BackendUnavailable(f"kubeconfig problem for context {context!r}: {exc}",
                              hint="check KUBECONFIG and the context name (`kubectl config get-contexts`)",
                              target=context)


def list_contexts() -> list[ContextInfo]:
    """Every context of the merged kubeconfig (empty when there is none)."""
    from kubernetes import config

    files = config_files()
    if not any(Path(p).exists() for p in files.split(os.pathsep)):
        return [ContextInfo(IN_CLUSTER, current=True)] if in_cluster_available() else []
    try:
        contexts, active = config.list_kube_config_contexts(config_file=files)
    except Exception:  # noqa: BLE001 - an unreadable kubeconfig lists nothing; loading says why
        return []
    current = (active or {}).get("name")
    out = []
    for c in contexts or []:
        ctx = c.get("context") or {}
        out.append(ContextInfo(c.get("name", ""), ctx.get("cluster", ""), ctx.get("user", ""),
                               ctx.get("namespace", ""), c.get("name") == current))
    return out


def context_namespace(context: str) -> str:
    """The namespace a context names (as `kubectl` uses it), 'default' when it names none."""
    if context == IN_CLUSTER:
        try:
            return (SERVICE_ACCOUNT / "namespace").read_text().strip() or "default"
        except OSError:
            return "default"
    for c in list_contexts():
        if c.name == context:
            return c.namespace or "default"
    return "default"


def new_api_client(context: str) -> Any:
    """An ApiClient for one context (or the pod's service account for 'in-cluster')."""
    from kubernetes import client, config

    configuration = client.Configuration()
    # urllib3 retrying a refused connection would hide, for seconds, a cluster that is gone.
    configuration.retries = False
    try:
        if context == IN_CLUSTER:
            config.load_incluster_config(client_configuration=configuration)
        else:
            files = config_files()
            if not any(Path(p).exists() for p in files.split(os.pathsep)):
                raise BackendUnavailable(f"no kubeconfig found ({files}) for context {context!r}",
                                         hint="set KUBECONFIG, or run inside a pod with --context in-cluster",
                                         target=context)
            config.load_kube_config(config_file=files, context=context, client_configuration=configuration)
    except BackendUnavailable:
        raise
    except Exception as exc:  # ConfigException, a failing exec plugin, unreadable files
        raise _config_error(exc, context) from exc
    return client.ApiClient(configuration)


def is_all_namespaces(namespace: str | None) -> bool:
    return (namespace or "").strip().lower() in ALL_NAMESPACES
