"""Security review, as tests: what listens where, where secrets can show up, and no shell anywhere.

(a) Every listening socket of a real local runtime (supervisor API, gateways, graph servers) is bound to
    127.0.0.1 (or ::1): read from /proc/net/{tcp,tcp6,udp,udp6} for the socket inodes the runtime's
    processes hold. Its API also wants its token, and its files are private to the user.
(b) Secrets: credentials in the environment (MLFLOW_TRACKING_TOKEN, MLFLOW_TRACKING_PASSWORD, a component's
    FOO_API_KEY), a password in the registry URI, a graph parameter and a container env value named like
    secrets, a secret-looking --reason, and a secret in a malformed request never appear in the runtime's
    process logs, the audit log, the processes' command lines (visible to every user of the machine),
    `get`/`describe` (get manifest)/`deploy`'s diff, `config show`, `local status`, `logs` (a component
    that prints a credential has it masked, as the console's log view does) — nor in any committed snapshot
    SVG (known test secrets, and `token=`-like assignments that are not masked).
    What console/secrets.py masks: names containing KEY, TOKEN, PASSWORD, PASSWD, SECRET or CREDENTIAL
    (settings, env entries {name, value}, mapping keys), NAME=value / NAME: value / "name": "value"
    assignments in free text, user:password@ in URLs and secret-named query parameters.
(c) No shell with user input: an AST scan of console/, screens/ and backends/ finds no subprocess call with
    shell=True, no os.system/os.popen/subprocess.getoutput/asyncio.create_subprocess_shell, and no
    subprocess command given as one string (formatted or not): commands are argv lists. No exceptions.
"""

from __future__ import annotations

import ast
import html
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from backends.local.state import TOKEN_HEADER, read_state, supervisor_running
from tests.conftest import subprocess_env
from tests.local_runtime import ROOT, runtime_pids, stop_runtime, wait_for

pytestmark = pytest.mark.timeout(300)

# Distinctive values: each may appear only where it was put (the environment, the manifest, state files).
TOKEN = "sekret-token-7f3a91"
PASSWORD = "sekret-password-2b6e"
API_KEY = "sekret-apikey-91c2d4"
URI_PASSWORD = "sekret-uripw-5d1e08"
PARAM = "sekret-param-c0ffee"
ENV_VALUE = "sekret-envval-77aa19"
REASON = "sekret-reason-3141"
REQUEST = "sekret-request-8080"
CHATTY = "sekret-chatty-4242"
SECRETS = (TOKEN, PASSWORD, API_KEY, URI_PASSWORD, PARAM, ENV_VALUE, REASON, REQUEST, CHATTY)
REGISTRY = f"http://bob:{URI_PASSWORD}@127.0.0.1:9/mlflow"  # never reached: the graphs load no registry model
ENV = {"MLFLOW_TRACKING_TOKEN": TOKEN, "MLFLOW_TRACKING_PASSWORD": PASSWORD, "MLFLOW_TRACKING_USERNAME": "bob",
       "FOO_API_KEY": API_KEY, "CHATTY_TOKEN": CHATTY, "MLCONSOLE_NO_DEMO": "1"}

COMPONENTS = '''
import os


class Vault:
    """Holds a password parameter and never says it."""

    def __init__(self, api_password="", weight=1.0):
        self.api_password = api_password

    def predict(self, X, feature_names=None):
        return [[float(sum(row))] for row in X]


class Chatty:
    """Like a library with debug logging on: prints a credential at load."""

    def load(self):
        print(f"connecting with MLFLOW_TRACKING_TOKEN={os.environ.get('CHATTY_TOKEN')} as bob", flush=True)

    def predict(self, X, feature_names=None):
        return X
'''


def vault_manifest(weight: str = "1.0") -> str:
    return f"""apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata:
  name: vault
spec:
  predictors:
  - name: main
    traffic: 100
    componentSpecs:
    - spec:
        containers:
        - name: model
          env:
          - name: FOO_API_KEY
            value: {ENV_VALUE}
    graph:
      name: model
      type: MODEL
      implementation: secret_components.Vault
      parameters:
      - {{name: api_password, value: "{PARAM}", type: STRING}}
      - {{name: weight, value: "{weight}", type: FLOAT}}
"""


CHATTY_MANIFEST = """apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata:
  name: chatty
spec:
  predictors:
  - name: main
    traffic: 100
    graph:
      name: model
      type: MODEL
      implementation: secret_components.Chatty
"""


def cli(home: Path, *args: str, cwd: Path = ROOT, timeout: float = 150) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "console.cli", "--home", str(home), "--registry", REGISTRY, *args],
                          capture_output=True, text=True, env=subprocess_env(**ENV), timeout=timeout, cwd=cwd)


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    """Two deployments on a real local runtime started by a CLI holding every credential above."""
    home = tmp_path_factory.mktemp("security") / "home"
    home.mkdir()
    graphs = tmp_path_factory.mktemp("security-graphs")
    (graphs / "secret_components.py").write_text(COMPONENTS)
    (graphs / "vault.yaml").write_text(vault_manifest())
    (graphs / "chatty.yaml").write_text(CHATTY_MANIFEST)
    outputs: dict[str, str] = {}
    try:
        for name in ("vault", "chatty"):
            out = cli(home, "deploy", str(graphs / f"{name}.yaml"), "--wait", "--reason", f"rotate token={REASON}")
            assert out.returncode == 0, out.stdout + out.stderr
            outputs[f"deploy {name}"] = out.stdout + out.stderr
        url = read_state(home)["deployments"]["vault"]["url"]
        ok = httpx.post(f"{url}/api/v1.0/predictions", json={"data": {"ndarray": [[1.0, 2.0]]}}, timeout=10)
        assert ok.status_code == 200, ok.text
        for body in ({"data": {"ndarray": f"password={REQUEST}"}}, {"data": {"names": [f"token={REQUEST}"]}},
                     {"jsonData": {"password": REQUEST}, "data": 5}):
            httpx.post(f"{url}/api/v1.0/predictions", json=body, timeout=10)
        # an update: deploy prints the diff against what runs
        (graphs / "vault.yaml").write_text(vault_manifest(weight="2.0"))
        out = cli(home, "deploy", str(graphs / "vault.yaml"), "--wait")
        assert out.returncode == 0, out.stdout + out.stderr
        outputs["deploy vault (update)"] = out.stdout + out.stderr
        assert "weight" in out.stdout  # the diff was printed
        wait_for(lambda: settled(home), timeout=90, what="one ready replica per deployment, the old one gone")
        wait_for(lambda: CHATTY in "".join(p.read_text() for p in (home / "runtime" / "logs").rglob("chatty/*.log")),
                 timeout=60, what="the chatty component's line in its own log")
        yield home, graphs, outputs
    finally:
        stop_runtime(home)


def settled(home: Path) -> bool:
    """Every deployment Available with exactly its ready replicas (an update's old replica stopped)."""
    deployments = read_state(home)["deployments"]
    return all(d.get("phase") == "Available" and len(d.get("replicas") or []) == 1
               and all(r.get("ready") and r.get("port") for r in [d.get("gateway") or {}, *d["replicas"]])
               for d in deployments.values())


# -- (a) sockets ---------------------------------------------------------------------------------------------


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir() if fd_dir.exists() else []:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    return inodes


def ipv4(hex_addr: str) -> str:
    return ".".join(str(b) for b in reversed(bytes.fromhex(hex_addr)))


def ipv6(hex_addr: str) -> str:
    import ipaddress

    raw = b"".join(bytes.fromhex(hex_addr[i:i + 8])[::-1] for i in range(0, 32, 8))
    return str(ipaddress.IPv6Address(raw))


def bound_sockets(inodes: set[str]) -> list[tuple[str, str, int, str]]:
    """(protocol, address, port, state) of every TCP/UDP socket with one of these inodes."""
    out = []
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        path = Path(f"/proc/net/{proto}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] not in inodes:
                continue
            addr, port = fields[1].split(":")
            address = ipv4(addr) if proto in ("tcp", "udp") else ipv6(addr)
            out.append((proto, address, int(port, 16), fields[3]))
    return out


LOOPBACK = ("127.0.0.1", "::1", "::ffff:127.0.0.1")
TCP_LISTEN = "0A"


def test_every_listening_socket_is_on_loopback(runtime):
    home, _, _ = runtime
    state = read_state(home)
    pids = set(runtime_pids(home))
    expected = {supervisor_running(home)["pid"]}
    for dep in state["deployments"].values():
        expected |= {r["pid"] for r in [dep["gateway"], *dep["replicas"]]}
    assert expected <= pids, (expected, pids)
    listening = {}
    for pid in pids:
        for proto, address, port, st in bound_sockets(socket_inodes(pid)):
            if proto.startswith("udp") or st == TCP_LISTEN:
                assert address in LOOPBACK, f"pid {pid} ({proto}) listens on {address}:{port}"
                listening.setdefault(pid, []).append(port)
    # supervisor API, 2 gateways, 2 graph servers: each listens, and only on loopback
    assert expected <= set(listening), {p: listening.get(p) for p in expected}
    print(f"\n{sum(map(len, listening.values()))} listening sockets, all on loopback: {listening}")


def test_the_supervisor_api_wants_its_token_and_the_runtime_files_are_private(runtime):
    home, _, _ = runtime
    port = supervisor_running(home)["port"]
    for headers in ({}, {TOKEN_HEADER: "not-the-token"}):
        resp = httpx.get(f"http://127.0.0.1:{port}/v1/status", headers=headers, timeout=5)
        assert resp.status_code in (401, 403), resp.status_code
    resp = httpx.post(f"http://127.0.0.1:{port}/v1/deployments/vault/scale", json={"predictor": "main",
                                                                                   "replicas": 3}, timeout=5)
    assert resp.status_code in (401, 403)
    assert (home / "runtime").stat().st_mode & 0o077 == 0
    assert (home / "runtime" / "supervisor.token").stat().st_mode & 0o077 == 0


# -- (b) secrets ---------------------------------------------------------------------------------------------


def leaks(text: str, secrets=SECRETS) -> list[str]:
    return [s for s in secrets if s in text]


def test_secrets_stay_out_of_logs_audit_and_command_lines(runtime):
    home, _, _ = runtime
    chatty_logs = set((home / "runtime" / "logs" / "chatty").glob("*-*.log"))  # the component's own output
    for path in (home / "runtime" / "logs").rglob("*"):
        if path.is_file():
            found = leaks(path.read_text(errors="replace"), [s for s in SECRETS if s != CHATTY or
                                                              path not in chatty_logs])
            assert not found, f"{path.relative_to(home)} holds {found}"
    audit = (home / "audit" / "audit.jsonl").read_text()
    assert "cluster.deploy" in audit and not leaks(audit), leaks(audit)
    assert "token=****" in audit  # the reason was kept, its secret masked
    for pid in runtime_pids(home):
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").replace("\0", " ")
        assert not leaks(argv), f"pid {pid}'s command line (readable by every user) holds {leaks(argv)}: {argv}"


@pytest.mark.parametrize("args", [
    ("get", "deployments"), ("get", "deployments", "--json"), ("get", "pods", "vault", "--json"),
    ("get", "events"), ("get", "manifest", "vault"), ("local", "status", "--json"), ("config", "show"),
    ("config", "show", "--json"), ("logs", "vault"), ("logs", "chatty"), ("audit", "log", "--json"),
    ("audit", "verify"), ("deploy", "VAULT", "--dry-run"),
], ids=" ".join)
def test_secrets_stay_out_of_command_output(runtime, args):
    home, graphs, _ = runtime
    if "VAULT" in args:  # a changed parameter: the dry run prints the diff
        (graphs / "vault-v3.yaml").write_text(vault_manifest(weight="3.0").replace(PARAM, PARAM + "-rotated"))
        args = tuple(str(graphs / "vault-v3.yaml") if a == "VAULT" else a for a in args)
    out = cli(home, *args)
    assert out.returncode == 0, out.stderr
    text = out.stdout + out.stderr
    assert not leaks(text), f"`mlconsole {' '.join(args)}` shows {leaks(text)}:\n{text}"
    if args[:2] == ("logs", "chatty"):
        assert "MLFLOW_TRACKING_TOKEN=****" in text  # masked, not dropped
    if args[:2] == ("get", "manifest"):
        assert "api_password" in text and "FOO_API_KEY" in text and "****" in text


def test_deploy_output_shows_no_secret(runtime):
    _, _, outputs = runtime
    for what, text in outputs.items():
        assert not leaks(text), f"`{what}` printed {leaks(text)}:\n{text}"


# Secrets the test suite plants in fixtures (logs, URIs, request bodies, audit entries), and mine.
KNOWN_TEST_SECRETS = ("s3cr3t", "hunter2", "t0ps3cret", "s3cret", "AKIAxyz", "tok123", "pw123", "sekret")
ASSIGNMENT = re.compile(r"(?i)\b[\w.-]*(token|password|passwd|secret|api_?key|credential)[\w.-]*"
                        r"[\"']?\s*[=:]\s*[\"']?(?!\*\*\*\*)([^\s\"',;}]+)")


def snapshot_texts() -> list[tuple[Path, str]]:
    folder = ROOT / "tests" / "screens" / "__snapshots__"
    out = []
    for path in sorted(folder.rglob("*.svg")):
        raw = path.read_text(errors="replace")
        lines = re.findall(r"<text[^>]*>(.*?)</text>", raw, flags=re.S)
        out.append((path, html.unescape(" ".join(re.sub(r"<[^>]+>", "", t) for t in lines)).replace("\xa0", " ")))
    return out


def test_no_snapshot_shows_a_secret():
    texts = snapshot_texts()
    assert texts, "no snapshots found"
    for path, text in texts:
        assert not leaks(text, KNOWN_TEST_SECRETS), f"{path.name} shows {leaks(text, KNOWN_TEST_SECRETS)}"
        unmasked = [m.group(0) for m in ASSIGNMENT.finditer(text)]
        assert not unmasked, f"{path.name} shows unmasked assignments: {unmasked}"


def test_the_snapshot_check_would_catch_a_leak():
    assert ASSIGNMENT.search("connecting with MLFLOW_TRACKING_TOKEN=abc123 to host")
    assert ASSIGNMENT.search('"api_key": "xyz"')
    assert not ASSIGNMENT.search("MLFLOW_TRACKING_TOKEN=**** and password: ****")


# -- (c) no shell ---------------------------------------------------------------------------------------------

SHELL_CALLS = {("os", "system"), ("os", "popen"), ("subprocess", "getoutput"), ("subprocess", "getstatusoutput"),
               ("asyncio", "create_subprocess_shell")}
PROCESS_CALLS = {"run", "Popen", "call", "check_call", "check_output"}
EXEC_CALLS = {("asyncio", "create_subprocess_exec")}


def dotted(node: ast.AST) -> tuple[str, ...]:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return tuple(reversed(parts))


def shell_problems(source: str, filename: str) -> list[str]:
    """Calls that run a shell, or hand a process its command as one string."""
    problems = []
    tree = ast.parse(source, filename)
    imported = {}  # `from subprocess import run as r` -> r: ("subprocess", "run")
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("subprocess", "os", "asyncio"):
            for alias in node.names:
                imported[alias.asname or alias.name] = (node.module, alias.name)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = dotted(node.func)
        if len(name) == 1 and name[0] in imported:
            name = imported[name[0]]
        where = f"{filename}:{node.lineno}"
        if name[-2:] in SHELL_CALLS or (len(name) == 2 and name in SHELL_CALLS):
            problems.append(f"{where}: {'.'.join(name)} runs a shell")
            continue
        is_process = (len(name) >= 2 and name[-2] == "subprocess" and name[-1] in PROCESS_CALLS) \
            or name[-2:] in EXEC_CALLS
        if not is_process:
            continue
        for kw in node.keywords:
            if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                problems.append(f"{where}: shell={ast.unparse(kw.value)}")
        command = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "args"), None)
        if isinstance(command, ast.JoinedStr | ast.BinOp) or (
                isinstance(command, ast.Constant) and isinstance(command.value, str)) or (
                isinstance(command, ast.Call) and isinstance(command.func, ast.Attribute)
                and command.func.attr in ("format", "join")):
            problems.append(f"{where}: command given as one string: {ast.unparse(command)[:60]}")
    return problems


def test_no_shell_and_no_command_strings_in_the_product():
    files = [p for folder in ("console", "screens", "backends") for p in sorted((ROOT / folder).rglob("*.py"))]
    assert len(files) > 50
    problems = [p for path in files for p in shell_problems(path.read_text(), str(path.relative_to(ROOT)))]
    assert not problems, "\n".join(problems)


def test_the_shell_scan_finds_what_it_looks_for():
    bad = """
import os, subprocess, asyncio
from subprocess import check_output as co
subprocess.run(f"git log {ref}", shell=True)
subprocess.Popen("ls " + path)
co("cat {}".format(name))
os.system("rm -rf x")
os.popen("ls")
asyncio.create_subprocess_shell("ls")
subprocess.run(["git", "log"], shell=flag)
"""
    found = shell_problems(bad, "bad.py")
    assert len(found) == 8, found
    assert shell_problems('subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True)', "ok.py") == []


async def test_the_console_shows_no_secret(runtime):
    """The same home in the console: the status bar's registry, describe (y) and a deploy's diff dialog."""
    from console.app import MLConsoleApp
    from console.config import load_settings
    from tests.screens.helpers import settle

    home, graphs, _ = runtime
    (graphs / "vault-v4.yaml").write_text(vault_manifest(weight="4.0").replace(PARAM, PARAM + "-rotated"))
    app = MLConsoleApp(load_settings({"home": str(home), "registry": REGISTRY}, env={}))
    seen = []
    async with app.run_test(size=(140, 50)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        seen.append(app.export_screenshot())
        table = app.screen.query_one("#cluster-deployments").table
        table.move_cursor(row=[str(k.value) for k in table.rows].index("vault"))
        await pilot.press("y")
        await settle(pilot)
        assert type(app.screen).__name__ == "DescribeScreen"
        seen.append(app.export_screenshot())
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("a", *str(graphs / "vault-v4.yaml"), "enter")
        await settle(pilot)
        for _ in range(100):
            if type(app.screen).__name__ == "DiffConfirm":
                break
            await pilot.pause(0.2)
        assert type(app.screen).__name__ == "DiffConfirm", [n.message for n in app._notifications]
        seen += [app.export_screenshot(), app.screen.diff]
        assert "weight" in app.screen.diff and "****" in app.screen.diff
        await pilot.press("n")
        await settle(pilot)
    text = html.unescape("\n".join(seen)).replace("\xa0", " ")
    assert "api_password" in text and "bob" in text  # what was on screen: the names, not the values
    assert not leaks(text), leaks(text)
