"""The peers of bench/serving.py: MLServer and Seldon's Python wrapper, each in its own venv.

The venvs live under the bench cache (~/.cache/mlconsole-bench, or $XDG_CACHE_HOME), never in
the project's venv: MLServer pins fastapi<0.116 and Seldon's wrapper numpy<2. They are built
once and reused while their requirements stay the same. Both peers load the very model.pkl
that MLflow logged; scikit-learn is pinned to the project's version so it unpickles alike.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
MLSERVER_VERSION = "1.7.1"
SELDON_ON_312 = "seldon-core==1.19.0"  # 1.19 needs Python >= 3.12
SELDON_ON_311 = "seldon-core==1.18.2"  # the last release that installs on 3.11 (pins numpy<2)


def cache_dir() -> Path:
    base = os.environ.get("MLCONSOLE_BENCH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mlconsole-bench")
    return Path(base)


def free_port() -> int:
    """A port free on 127.0.0.1 right now (the peers take a number, not a port file)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Venv:
    """A virtualenv built from a Python and a list of requirements."""

    path: Path
    python: str
    requirements: list[str]

    @property
    def bin(self) -> Path:
        return self.path / "bin"

    def ready(self) -> bool:
        marker = self.path / ".bench-installed"
        return marker.exists() and marker.read_text() == "\n".join(self.requirements)

    def build(self, log: Path, register: Callable[[subprocess.Popen], object] = lambda p: p) -> None:
        """Create the venv and install the requirements (output to log); RuntimeError on failure.
        register receives each child process, so that the bench can stop it on exit."""
        if self.ready():
            return
        shutil.rmtree(self.path, ignore_errors=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "w") as out:
            steps = [[self.python, "-m", "venv", str(self.path)],
                     [str(self.bin / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                      *self.requirements]]
            for argv in steps:
                out.write("$ " + " ".join(argv) + "\n")
                out.flush()
                process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
                register(process)
                code = process.wait(900)
                if code != 0:
                    tail = log.read_text(errors="replace").strip().splitlines()[-3:]
                    raise RuntimeError(f"{' '.join(argv[:4])}... exited {code}: {' | '.join(tail)}")
        (self.path / ".bench-installed").write_text("\n".join(self.requirements))


def _venv(kind: str, python: str, requirements: list[str]) -> Venv:
    key = hashlib.sha1((python + "\n" + "\n".join(requirements)).encode()).hexdigest()[:10]
    return Venv(cache_dir() / "venvs" / f"{kind}-{key}", python, requirements)


def sklearn_pin() -> str:
    import sklearn

    return f"scikit-learn=={sklearn.__version__}"


def mlserver_venv() -> Venv:
    # uvloop<0.22 as well as parallel_workers 0: the newest uvloop crashes MLServer's worker.
    return _venv("mlserver", sys.executable, [f"mlserver=={MLSERVER_VERSION}", f"mlserver-sklearn=={MLSERVER_VERSION}",
                                              "uvloop<0.22", sklearn_pin()])


def python_312() -> str | None:
    """A Python >= 3.12 on this machine (pyenv's first), or None."""
    found = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[2-9]*/bin/python3")))
    for candidate in [*found, shutil.which("python3.12"), shutil.which("python3.13")]:
        if candidate and os.access(candidate, os.X_OK):
            try:
                out = subprocess.run([candidate, "-c", "import sys; print(sys.version_info >= (3, 12))"],
                                     capture_output=True, text=True, timeout=30).stdout.strip()
            except (OSError, subprocess.SubprocessError):
                continue
            if out == "True":
                return candidate
    return None


def seldon_venv() -> Venv:
    """Seldon 1.19 on a Python >= 3.12 when there is one, else 1.18.2 on this Python."""
    py312 = python_312()
    if py312:
        return _venv("seldon", py312, [SELDON_ON_312, sklearn_pin()])
    return _venv("seldon", sys.executable, [SELDON_ON_311, sklearn_pin()])


# -- MLServer --------------------------------------------------------------------------------


@dataclass
class MLServer:
    """A running MLServer: its process and HTTP port."""

    process: subprocess.Popen
    port: int
    log: Path
    model: str

    @property
    def infer_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v2/models/{self.model}/infer"

    def alive(self) -> bool:
        return self.process.poll() is None


def start_mlserver(venv: Venv, model_file: Path, workdir: Path, model: str = "bench-model") -> MLServer:
    """Serve model_file with MLServer's scikit-learn runtime on 127.0.0.1 (not yet waited for)."""
    workdir.mkdir(parents=True, exist_ok=True)
    http_port, grpc_port, metrics_port = free_port(), free_port(), free_port()
    # The best settings measured on these machines: the model in the server's own process.
    settings = {"host": "127.0.0.1", "http_port": http_port, "grpc_port": grpc_port,
                "metrics_port": metrics_port, "parallel_workers": 0, "debug": False}
    (workdir / "settings.json").write_text(json.dumps(settings, indent=2))
    (workdir / "model-settings.json").write_text(json.dumps({
        "name": model, "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": str(model_file), "version": "v1", "extra": {"predict_fn": "predict_proba"}},
    }, indent=2))
    log = workdir / "mlserver.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
    env["PATH"] = f"{venv.bin}:{env.get('PATH', '')}"
    with open(log, "w") as out:
        process = subprocess.Popen([str(venv.bin / "mlserver"), "start", str(workdir)], stdout=out,
                                   stderr=subprocess.STDOUT, cwd=workdir, env=env, start_new_session=True)
    return MLServer(process, http_port, log, model)


# -- Seldon's Python wrapper, inside a private network namespace -----------------------------

COMPONENT = '''\
"""The bench's model as a Seldon Python component: the MLflow-logged model.pkl, predict_proba."""
import joblib


class BenchModel:
    def __init__(self, model_path):
        self.model = joblib.load(model_path)

    def predict(self, X, features_names=None):
        return self.model.predict_proba(X)
'''


def can_unshare() -> str | None:
    """Why a private network namespace cannot be made here, or None when it can."""
    if os.geteuid() != 0:
        return "not root: `unshare -n` needs root to make a private network namespace"
    for tool in ("unshare", "ip"):
        if not shutil.which(tool):
            return f"`{tool}` is not installed"
    probe = subprocess.run(["unshare", "-n", "--", "ip", "link", "set", "lo", "up"], capture_output=True,
                           text=True, timeout=30)
    if probe.returncode != 0:
        return f"`unshare -n` failed: {probe.stderr.strip()}"
    return None


def start_seldon_run(venv: Venv, model_file: Path, workdir: Path, config: dict) -> subprocess.Popen:
    """Run bench/serving_netns.py in a fresh network namespace: it starts Seldon's wrapper there,
    checks it, loads it with the same client, prints result lines and cleans up after itself."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "BenchModel.py").write_text(COMPONENT)
    config = {**config, "venv_bin": str(venv.bin), "component_dir": str(workdir), "model_file": str(model_file),
              "pid_file": str(workdir / "pids"), "log": str(workdir / "seldon.log")}
    return subprocess.Popen(["unshare", "-n", "--", sys.executable, str(HERE / "serving_netns.py"),
                             json.dumps(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=HERE.parent, start_new_session=True)


def kill_pids_in(pid_file: Path) -> None:
    """SIGKILL every PID the namespace script recorded (its wrapper and gRPC children)."""
    try:
        pids = [int(p) for p in pid_file.read_text().split()]
    except (OSError, ValueError):
        return
    for pid in pids:
        try:
            os.kill(pid, 9)
        except OSError:
            pass


def wait_exit(process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
