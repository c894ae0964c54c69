"""Container logs of a deployment's pods: tailed, followed, and the previous container's when it crashed."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from backends.kubernetes.api import KubeApi, StreamedLines
from backends.kubernetes.pods import ENGINE, PodRecord
from console.errors import ConsoleError, InvalidSpec, NotFound

RESCAN_SECONDS = 2.0  # pods come and go while we follow: look for new ones this often
MAX_TAIL = 100_000


@dataclass(frozen=True)
class LogSource:
    """One container of one pod."""

    namespace: str
    pod: str
    container: str
    crashed: bool = False  # its container is not running: the previous one's log says why
    restarts: int = 0

    @property
    def label(self) -> str:
        return f"{self.pod}/{self.container}"

    @property
    def path(self) -> str:
        return f"/api/v1/namespaces/{self.namespace}/pods/{self.pod}/log"


def sources(pods: Sequence[PodRecord], predictor: str | None, replica: int | None) -> list[LogSource]:
    """The chosen pods' containers: predictor 'gateway' means Seldon's executor sidecars."""
    chosen = sorted((p for p in pods if predictor in (None, "gateway") or p.predictor == predictor),
                    key=lambda p: (p.predictor, p.name))
    if replica is not None:
        per: dict[str, list[PodRecord]] = {}
        for p in chosen:
            per.setdefault(p.predictor, []).append(p)
        chosen = [group[replica] for group in per.values() if replica < len(group)]
        if not chosen:
            raise NotFound(f"no replica {replica}" + (f" of predictor {predictor!r}" if predictor else ""),
                           hint="`mlconsole get pods NAME` lists them", target=str(replica))
    out = []
    for p in chosen:
        if predictor == "gateway":
            containers = [c for c in p.containers if c == ENGINE]
        else:
            containers = [c for c in p.containers if c != ENGINE] or list(p.containers)
        out += [LogSource(p.namespace, p.name, c, c in p.crashed, p.restarts) for c in containers]
    return out


def _params(source: LogSource, tail: int | None, previous: bool, follow: bool = False) -> dict:
    params: dict = {"container": source.container, "previous": previous, "follow": follow}
    if tail is not None:
        params["tailLines"] = max(0, min(int(tail), MAX_TAIL))
    return params


def tail(api: KubeApi, source: LogSource, lines: int, previous: bool = False) -> list[str]:
    """The last `lines` lines of one container; with previous, of the container before its last restart.

    A crashed container's current log is empty or missing: the previous one's last lines come first.
    """
    out: list[str] = []
    if previous or (source.crashed and source.restarts):
        try:
            text = api.request("GET", source.path, f"logs of {source.label} (previous)",
                               _params(source, lines, True), raw=True)
            out += text.splitlines()
            if not previous:
                out.append(f"--- {source.container} restarted {source.restarts} time(s); the log above is the "
                           "previous container's, below the current one's ---")
        except (NotFound, InvalidSpec):  # 400/404: it never restarted
            if previous:
                raise
    if previous:
        return out
    try:
        text = api.request("GET", source.path, f"logs of {source.label}", _params(source, lines, False), raw=True)
    except InvalidSpec:  # 400: the container is waiting to start; nothing to read yet
        return out
    return out + text.splitlines()


def follow(api: KubeApi, list_pods: Callable[[], list[PodRecord]], predictor: str | None, replica: int | None,
           lines: int, stop: threading.Event, previous: bool = False) -> Iterator[str]:
    """The last `lines` lines of each chosen container, then new lines as they come, until `stop` is set.

    One reader thread per container; pods that appear later are followed too, pods that go are let go.
    """
    found = sources(list_pods(), predictor, replica)
    if not found:
        raise NotFound(f"no pods to follow{f' for predictor {predictor!r}' if predictor else ''}",
                       hint="the deployment has no running pods yet: `mlconsole get pods NAME`")
    lines_out: queue.Queue[str | None] = queue.Queue(maxsize=10_000)
    streams: dict[LogSource, StreamedLines] = {}
    lock = threading.Lock()
    several = len(found) > 1 or replica is None

    def read(source: LogSource) -> None:
        prefix = f"{source.label} | " if several else ""
        try:
            stream = api.stream(source.path, f"logs of {source.label}", _params(source, lines, previous, True),
                                read_timeout=3600.0)
        except ConsoleError as exc:
            lines_out.put(f"{prefix}✖ {exc}")
            return
        with lock:
            streams[source] = stream
        try:
            for line in stream:
                if stop.is_set():
                    break
                lines_out.put(prefix + line)
        except ConsoleError as exc:
            if not stop.is_set():
                lines_out.put(f"{prefix}✖ {exc}")
        finally:
            stream.close()

    readers: dict[LogSource, threading.Thread] = {}  # by pod and container

    def launch(current: list[LogSource]) -> None:
        # New pods and containers only: as with `kubectl logs -f`, a stream ends with its container.
        for source in current:
            key = LogSource(source.namespace, source.pod, source.container)
            if key not in readers:
                readers[key] = threading.Thread(target=read, args=(source,), daemon=True,
                                                name=f"logs {source.label}")
                readers[key].start()

    launch(found)
    waited = 0.0
    try:
        while not stop.is_set():
            try:
                line = lines_out.get(timeout=0.2)
            except queue.Empty:
                waited += 0.2
                if waited >= RESCAN_SECONDS:
                    waited = 0.0
                    try:
                        launch(sources(list_pods(), predictor, replica))
                    except NotFound:
                        if not any(t.is_alive() for t in readers.values()):
                            return  # the deployment (or its pods) went away
                    except ConsoleError:
                        pass  # the cluster blinked: the readers report their own trouble
                continue
            if line is not None:
                yield line
    finally:
        stop.set()
        with lock:
            for stream in streams.values():
                stream.close()
