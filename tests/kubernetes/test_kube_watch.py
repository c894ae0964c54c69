"""List+watch mirrors: paged lists, watches that resume from their resourceVersion, relists on 410."""

from __future__ import annotations

from backends.kubernetes.pods import record
from backends.kubernetes.watch import Mirror, list_pages
from tests.kubernetes import objects as o
from tests.kubernetes.conftest import wait_for
from tests.kubernetes.emulator import PODS, SDEPS


def watches(kube) -> list:
    return [r for r in kube.requests("GET") if r.params.get("watch") == "true"]


def lists(kube, path_part: str) -> list:
    return [r for r in kube.requests("GET")
            if r.params.get("watch") != "true" and r.name is None and path_part in str(r.url)]


def test_lists_are_paged_with_limit_and_continue(kube, cluster):
    kube.seed(PODS, [o.pod("big", "main", i) for i in range(1200)])
    pages = list(list_pages(cluster.api, "/api/v1/namespaces/models/pods", "pods",
                            {"labelSelector": "seldon-deployment-id=big"}))
    assert [len(items) for items, _ in pages] == [500, 500, 200]
    sent = lists(kube, "/pods")
    assert [r.params.get("limit") for r in sent] == ["500"] * 3
    assert "continue" not in sent[0].params and sent[1].params["continue"] and sent[2].params["continue"]
    assert pages[-1][1] == str(kube.call(lambda e: e.rv))  # the list's resourceVersion
    assert len(cluster.list_replicas("big")) == 1200


def test_a_second_read_is_served_by_a_watch(kube, cluster):
    kube.seed(SDEPS, [o.sdep("iris")])
    assert [d.name for d in cluster.list_deployments()] == ["iris"]
    cluster.list_deployments()  # read again: a view that refreshes; the watches start
    mirror = cluster._sdep_mirror()
    wait_for(lambda: mirror.live)
    listed = len(lists(kube, "seldondeployments"))
    kube.seed(SDEPS, [o.sdep("wine")])
    wait_for(lambda: [d.name for d in cluster.list_deployments()] == ["iris", "wine"])
    kube.call(lambda e: e.objects[SDEPS, "models", "iris"].delete())  # behind kmock's API: no event
    cluster.delete("wine")
    wait_for(lambda: [d.name for d in cluster.list_deployments()] == ["iris"])
    assert len(lists(kube, "seldondeployments")) == listed  # no list request once the watch runs
    first = watches(kube)[0]
    assert first.params["resourceVersion"] and first.params["timeoutSeconds"] == "240"


def test_a_dropped_watch_resumes_from_the_last_version_it_saw(kube, cluster):
    kube.seed(PODS, [o.pod("iris", "main", i) for i in range(3)])
    mirror = Mirror(cluster.api, "/api/v1/namespaces/models/pods", "pods", record,
                    params={"labelSelector": "seldon-deployment-id"}, watch_after_reads=1)
    try:
        assert len(mirror.items()) == 3
        wait_for(lambda: mirror.live)
        kube.seed(PODS, [o.pod("iris", "main", 3)])
        wait_for(lambda: len(mirror.items()) == 4)
        seen = kube.call(lambda e: e.rv)
        kube.drop_streams()  # the connection drops (a proxy timeout, an API server restart)
        kube.seed(PODS, [o.pod("iris", "main", 4)])  # while it may be reconnecting
        wait_for(lambda: len(mirror.items()) == 5)
        assert mirror.lists == 1  # resumed, never listed again
        resumed = watches(kube)[-1]
        assert int(resumed.params["resourceVersion"]) == seen  # from where it was: nothing twice, nothing lost
        assert sorted(p.name[-5:] for p in mirror.items()) == ["00000", "00001", "00002", "00003", "00004"]
    finally:
        mirror.close()


def test_an_expired_version_lists_again(kube, cluster):
    kube.seed(PODS, [o.pod("iris", "main", 0)])
    mirror = Mirror(cluster.api, "/api/v1/namespaces/models/pods", "pods", record, watch_after_reads=1)
    try:
        mirror.items()
        wait_for(lambda: mirror.live)
        kube.compact()  # etcd compacted and the stream dropped: resuming at its version answers 410
        wait_for(lambda: mirror.lists == 2)
        kube.seed(PODS, [o.pod("iris", "main", 1)])
        wait_for(lambda: len(mirror.items()) == 2)
        assert mirror.lists == 2
    finally:
        mirror.close()


def test_label_selectors_are_applied_even_where_a_server_ignores_them(kube, cluster):
    other = o.pod("iris", "main", 7)
    other["metadata"]["labels"]["seldon-deployment-id"] = "iris-v2"  # a prefix match must not count
    kube.seed(PODS, [o.pod("iris", "main", 0), other])
    assert [r.name for r in cluster.list_replicas("iris")] == ["iris-main-0-classifier-7d9f8b-00000"]
