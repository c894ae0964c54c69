"""The gateway's choice of replica when replicas are in backoff: the others first, and when every
replica is, the one whose backoff ends first (a stalled connect must not become a second of 503s)."""

from aiohttp.test_utils import make_mocked_request

from backends.local.serving.gateway import Gateway, _now
from tests.serving_helpers import write_routes


def gateway(tmp_path, predictors) -> Gateway:
    write_routes(tmp_path / "routes.json", predictors)
    return Gateway("risk", tmp_path / "routes.json", home=None)


def test_a_replica_in_backoff_is_skipped_while_another_serves(tmp_path):
    gw = gateway(tmp_path, [("main", 50, False, ["http://127.0.0.1:1", "http://127.0.0.1:2"]),
                            ("canary", 50, False, ["http://127.0.0.1:3"])])
    main, canary = gw.by_name["main"], gw.by_name["canary"]
    main.endpoints[0].failed(_now())
    assert {main.endpoint(_now()).url for _ in range(4)} == {"http://127.0.0.1:2"}
    canary.endpoints[0].failed(_now())
    request = make_mocked_request("POST", "/api/v1.0/predictions")
    assert {gw.choose(request).name for _ in range(50)} == {"main"}  # canary has no usable replica


def test_when_every_replica_is_in_backoff_the_soonest_back_is_tried(tmp_path):
    gw = gateway(tmp_path, [("main", 100, False, ["http://127.0.0.1:1", "http://127.0.0.1:2"])])
    main = gw.by_name["main"]
    first, second = main.endpoints
    second.failed(_now())
    first.failed(_now())
    first.failed(_now())  # a longer backoff
    request = make_mocked_request("POST", "/api/v1.0/predictions")
    assert gw.choose(request) is main
    assert main.endpoint(_now()) is None
    assert main.endpoint(_now(), last_resort=True) is second
    # Once tried (excluded), nothing is left: the caller answers 503.
    assert gw.choose(request, ("main",)) is None
