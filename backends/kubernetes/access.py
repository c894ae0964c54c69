"""What the current identity may do, asked of the API server (SelfSubjectAccessReview), cached briefly.

Screens show an action the cluster would refuse as disabled, with the reason, before anyone
presses its key; the request itself still meets RBAC, and its 403 still becomes Forbidden.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from backends.kubernetes.api import KubeApi
from backends.kubernetes.seldon import GROUP, PLURAL
from console.errors import ConsoleError

REVIEW_PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
TTL = 60.0  # RBAC rarely changes while a console runs; a minute keeps it honest and cheap


@dataclass(frozen=True)
class Permission:
    """One verb on one resource (group '' is the core API)."""

    verb: str
    resource: str
    group: str = ""
    subresource: str = ""

    def describe(self) -> str:
        what = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        return f"{self.verb} {what}" + (f".{self.group}" if self.group else "")


SDEP_PATCH = Permission("patch", PLURAL, GROUP)
# The console's actions (the keys screens bind) and the permissions each needs.
ACTIONS: dict[str, tuple[Permission, ...]] = {
    "deploy": (Permission("create", PLURAL, GROUP), SDEP_PATCH),
    "scale": (SDEP_PATCH,),
    "restart": (SDEP_PATCH,),
    "traffic": (SDEP_PATCH,),
    "rollout": (SDEP_PATCH,),
    "delete": (Permission("delete", PLURAL, GROUP),),
    "logs": (Permission("get", "pods", "", "log"),),
}


def review_body(permission: Permission, namespace: str) -> dict:
    """The SelfSubjectAccessReview asking whether we may do `permission` in `namespace`."""
    attributes = {"verb": permission.verb, "resource": permission.resource, "group": permission.group,
                  "namespace": namespace}
    if permission.subresource:
        attributes["subresource"] = permission.subresource
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attributes}}


class AccessReview:
    """SelfSubjectAccessReviews of one identity in one namespace ('' = every namespace)."""

    def __init__(self, api: KubeApi, namespace: str, ttl: float = TTL) -> None:
        self.api = api
        self.namespace = namespace
        self.ttl = ttl
        self._cache: dict[Permission, tuple[float, bool, str]] = {}
        self._lock = threading.Lock()

    def check(self, permission: Permission) -> tuple[bool | None, str]:
        """(allowed, the server's reason); allowed None when the review itself failed (unknown)."""
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(permission)
            if hit is not None and now - hit[0] < self.ttl:
                return hit[1], hit[2]
        try:
            answer = self.api.request("POST", REVIEW_PATH, "selfsubjectaccessreviews",
                                      body=review_body(permission, self.namespace), timeout=5.0)
        except ConsoleError:
            return None, ""
        status = (answer or {}).get("status") or {}
        allowed = bool(status.get("allowed")) and not status.get("denied")
        reason = str(status.get("reason") or status.get("evaluationError") or "")
        with self._lock:
            self._cache[permission] = (now, allowed, reason)
        return allowed, reason

    def refusals(self) -> dict[str, str]:
        """Console action -> why the cluster would refuse it, for the actions it would refuse."""
        out: dict[str, str] = {}
        where = f"namespace {self.namespace}" if self.namespace else "any namespace"
        for action, needs in ACTIONS.items():
            for permission in needs:
                allowed, reason = self.check(permission)
                if allowed is False:
                    out[action] = (f"RBAC: you may not {permission.describe()} in {where}"
                                   + (f" ({reason})" if reason else "")
                                   + " — ask your cluster admin for a Role that allows it")
                    break
        return out
