"""The `mlconsole` entry point, run as a real subprocess."""

import json
import subprocess
import sys

from console import __version__
from tests.conftest import subprocess_env


def run(*args, **env):
    return subprocess.run([sys.executable, "-m", "console.cli", *args], capture_output=True, text=True,
                          env=subprocess_env(**env), timeout=60)


def test_version():
    out = run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"mlconsole {__version__}"


def test_help_lists_global_flags_and_commands():
    out = run("--help")
    assert out.returncode == 0
    for flag in ("--home", "--context", "--registry", "--metrics", "--readonly", "--theme", "config"):
        assert flag in out.stdout


def test_config_show_sources_and_masking(tmp_path):
    out = run("--home", str(tmp_path), "config", "show", "--json",
              MLFLOW_TRACKING_URI="http://bob:hunter2@127.0.0.1:5000", MLFLOW_TRACKING_TOKEN="t0ps3cret",
              MLCONSOLE_THEME="mlconsole-light")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    s = data["settings"]
    assert s["home"] == {"value": str(tmp_path), "source": "flag --home"}
    assert s["registry"]["source"] == "env MLFLOW_TRACKING_URI"
    assert "hunter2" not in out.stdout and "t0ps3cret" not in out.stdout
    assert data["credentials"]["MLFLOW_TRACKING_TOKEN"] == "****"
    assert s["theme"] == {"value": "mlconsole-light", "source": "env MLCONSOLE_THEME"}


def test_global_flags_after_the_subcommand(tmp_path):
    out = run("config", "show", "--home", str(tmp_path), "--readonly")
    assert out.returncode == 0
    assert str(tmp_path) in out.stdout and "flag --readonly" in out.stdout


def test_config_file_errors_exit_2_without_traceback(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text("home = [")
    out = run("config", "show", MLCONSOLE_CONFIG=str(cfg))
    assert out.returncode == 2
    assert "not valid TOML" in out.stderr and "Traceback" not in out.stderr


def test_unknown_flag_is_a_usage_error():
    out = run("--bogus")
    assert out.returncode == 2 and "unrecognized arguments" in out.stderr


def test_a_closed_pipe_is_not_an_internal_error(tmp_path):
    """`mlconsole ... | head`: the reader leaving early is normal; no 'internal error', no traceback."""
    import subprocess
    import sys

    from tests.conftest import subprocess_env

    proc = subprocess.Popen([sys.executable, "-m", "console.cli", "--home", str(tmp_path), "config", "show"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=subprocess_env())
    proc.stdout.close()  # the reader is gone before the first line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) in (0, 141), err
    assert "internal error" not in err and "Traceback" not in err and "BrokenPipe" not in err, err
