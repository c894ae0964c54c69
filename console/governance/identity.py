"""Who a cluster knows the actor as, for the audit log: '' for the local runtime.

A cluster backend may say itself (an `identity` attribute or method, e.g. from a
SelfSubjectReview); otherwise the kubeconfig context names its user, which is what kubectl
would authenticate as. Never asks the API server here: audit writes must not wait on it.
"""

from __future__ import annotations

from typing import Any


def cluster_identity(cluster: Any) -> str:
    """'kind-admin via context kind-prod', or '' when the cluster has no identity to speak of."""
    if getattr(cluster, "kind", "") != "kubernetes":
        return ""
    own = getattr(cluster, "identity", None)
    try:
        value = own() if callable(own) else own
    except Exception:  # an identity lookup failing must not stop the audit entry
        value = None
    if isinstance(value, str) and value:
        return value
    context = getattr(cluster, "context", "") or ""
    if not context:
        return ""
    try:
        from backends.kubernetes.kubeconfig import list_contexts

        user = next((c.user for c in list_contexts() if c.name == context), "")
    except Exception:  # no kubeconfig or no kubernetes library: the context alone still says something
        user = ""
    return f"{user} via context {context}" if user else f"context {context}"
