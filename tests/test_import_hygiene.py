"""Startup imports nothing heavy; layers import only downwards."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("mlflow", "kubernetes", "pandas", "duckdb", "pyarrow", "sklearn", "numpy", "plotext")


def loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_console_cli_imports_nothing_heavy():
    loaded = loaded_after("import console.cli")
    assert not loaded & set(HEAVY), loaded & set(HEAVY)
    assert "textual" not in loaded, "--version/--help must not import Textual"


def test_version_and_help_import_nothing_heavy():
    loaded = loaded_after("import sys; sys.argv=['mlconsole','--help']\nimport console.cli\n"
                          "try:\n    console.cli.main(['--version'])\nexcept SystemExit:\n    pass")
    assert not loaded & (set(HEAVY) | {"textual", "rich", "httpx"})


def test_starting_the_console_registers_no_command():
    """The console's first frame waits for nothing the subcommands need."""
    probe = ("import sys, console.cli as cli\n"
             "args = cli._console_only(['--home', '/tmp/x', '--readonly'])\n"
             "assert args.home == '/tmp/x' and args.readonly, args\n"
             "for argv in (['--home', '/tmp/x', 'models', 'list'], ['--home'], ['--help'], ['--version']):\n"
             "    assert cli._console_only(argv) is None, argv\n"
             "print(sorted(m for m in sys.modules if m.startswith('console.commands.')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_app_module_imports_nothing_heavy():
    loaded = loaded_after("import console.app")
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "backends").rglob("*.py")), ids=lambda p: p.name)
def test_backends_never_import_textual_or_rich(path):
    assert not _imports(path) & {"textual", "rich", "screens"}


@pytest.mark.parametrize("path", sorted((ROOT / "screens").rglob("*.py")), ids=lambda p: p.name)
def test_screens_never_import_io_libraries_or_backends(path):
    assert not _imports(path) & {"httpx", "kubernetes", "mlflow", "duckdb", "backends"}


@pytest.mark.parametrize("path", sorted((ROOT / "console").rglob("*.py")), ids=lambda p: p.name)
def test_console_imports_backends_only_lazily(path):
    """console/ reaches backends through console.wiring's importlib, never at import time."""
    tree = ast.parse(path.read_text())
    top_level = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    for node in top_level:
        module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
        assert not (module or "").startswith("backends"), f"{path.name} imports {module} at import time"


def test_loading_every_backend_keeps_textual_out():
    loaded = loaded_after("import backends.local.cluster, backends.local.metrics, backends.mlflow.registry,"
                          " backends.prometheus.metrics, backends.kubernetes.cluster")
    assert not loaded & {"textual", "rich"}
