"""Run inside `unshare -n` by bench/serving.py: Seldon's Python wrapper, loaded, then stopped.

seldon-core-microservice binds 0.0.0.0 and has no host flag, so it runs only here, in a
private network namespace whose sole interface is its own loopback. This script brings lo
up, starts the wrapper (HTTP, gRPC and metrics servers), checks one answer against the
expected probabilities, runs the same load client as the other targets, prints one
`BENCH-SELDON {json}` line per run, and kills the wrapper and every child of it by PID.

    unshare -n -- python bench/serving_netns.py CONFIG_JSON
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving_load import descendants, load, load_with_cpu, post_json, wait_http  # noqa: E402

MARK = "BENCH-SELDON "


def emit(kind: str, **data: object) -> None:
    print(MARK + json.dumps({"kind": kind, **data}), flush=True)


def main() -> int:
    config = json.loads(sys.argv[1])
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
    env["PATH"] = f"{config['venv_bin']}:{env.get('PATH', '')}"
    params = json.dumps([{"name": "model_path", "value": config["model_file"], "type": "STRING"}])
    port = int(config["port"])
    argv = [os.path.join(config["venv_bin"], "seldon-core-microservice"), "BenchModel", "--service-type", "MODEL",
            "--http-port", str(port), "--grpc-port", str(port + 1), "--metrics-port", str(port + 2),
            "--parameters", params, "--log-level", "WARNING"]
    pid_file = Path(config["pid_file"])
    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    with open(config["log"], "w") as log:
        wrapper = subprocess.Popen(argv, cwd=config["component_dir"], env=env, stdout=log, stderr=subprocess.STDOUT)
    pid_file.write_text(f"{wrapper.pid}\n")
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/health/ping", float(config.get("start_timeout", 90)), alive=lambda: wrapper.poll() is None)
        pid_file.write_text("\n".join(map(str, descendants(wrapper.pid))) + "\n")
        url = base + "/api/v1.0/predictions"
        answer = post_json(url, config["body"])
        got = answer["data"]["ndarray"][0]
        expected = config["expected"]
        ok = len(got) == len(expected) and all(abs(a - b) < 1e-9 for a, b in zip(got, expected, strict=True))
        emit("check", ok=ok, answer=answer.get("data"), version=config.get("version", ""))
        if not ok:
            return 1
        for connections in config["concurrency"]:
            load(url, config["body"], connections, float(config["warmup"]), int(config["threads"]))
            for round_ in range(int(config["rounds"])):
                result = load_with_cpu(url, config["body"], connections, float(config["duration"]),
                                       int(config["threads"]), {"wrapper": wrapper.pid})
                emit("load", connections=connections, round=round_, result=result.as_dict())
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the outer bench prints this as the reason Seldon is left out
        tail = Path(config["log"]).read_text(errors="replace").strip().splitlines()[-5:]
        emit("error", message=f"{type(exc).__name__}: {exc}", log=tail)
        return 1
    finally:
        pids = descendants(wrapper.pid) if wrapper.poll() is None else [wrapper.pid]
        for pid in reversed(pids):
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        deadline = time.monotonic() + 5
        while wrapper.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in pids:  # the gRPC and metrics children do not always follow their parent
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        wrapper.wait()


if __name__ == "__main__":
    sys.exit(main())
