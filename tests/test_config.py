"""Settings precedence: flags > env > config file > defaults, with sources."""

from pathlib import Path

import pytest

from console.config import default_registry_uri, load_settings
from console.errors import InvalidSpec


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_use_xdg_data_dir_and_sqlite_registry(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    s = load_settings({}, env={"XDG_DATA_HOME": str(tmp_path / "data")}, config_path=tmp_path / "none.toml")
    assert s.home == tmp_path / "data" / "mlconsole"
    assert s.registry == default_registry_uri(s.home)
    assert s.registry.startswith("sqlite:////")
    assert s.cluster_kind == "local" and s.metrics_kind == "local"
    assert s.sources["home"].startswith("default")
    assert not s.readonly and s.theme == "mlconsole-dark"


def test_precedence_flag_over_env_over_file(tmp_path):
    cfg = write(tmp_path / "c.toml", 'home = "/from/file"\ntheme = "mlconsole-light"\nreadonly = true\n'
                                     'metrics = "http://file:9090"\n')
    env = {"MLCONSOLE_HOME": "/from/env", "MLCONSOLE_METRICS": "http://env:9090"}
    s = load_settings({"home": "/from/flag"}, env=env, config_path=cfg)
    assert s.home == Path("/from/flag") and s.sources["home"] == "flag --home"
    assert s.metrics == "http://env:9090" and s.sources["metrics"] == "env MLCONSOLE_METRICS"
    assert s.theme == "mlconsole-light" and s.sources["theme"].startswith("file ")
    assert s.readonly is True
    # registry defaults under the effective home, whichever source gave the home
    assert s.registry == "sqlite:////from/flag/registry/mlflow.db"


def test_mlflow_tracking_uri_is_honoured(tmp_path):
    s = load_settings({}, env={"MLFLOW_TRACKING_URI": "http://127.0.0.1:5000"}, config_path=tmp_path / "x")
    assert s.registry == "http://127.0.0.1:5000" and s.sources["registry"] == "env MLFLOW_TRACKING_URI"
    assert not s.registry_is_embedded


def test_context_switches_cluster_to_kubernetes(tmp_path):
    s = load_settings({"context": "prod"}, env={}, config_path=tmp_path / "x")
    assert s.cluster_kind == "kubernetes"


def test_readonly_env_parsing(tmp_path):
    assert load_settings({}, env={"MLCONSOLE_READONLY": "yes"}, config_path=tmp_path / "x").readonly
    with pytest.raises(InvalidSpec, match="true or false"):
        load_settings({}, env={"MLCONSOLE_READONLY": "maybe"}, config_path=tmp_path / "x")


def test_no_color(tmp_path):
    assert load_settings({}, env={"NO_COLOR": "1"}, config_path=tmp_path / "x").no_color


@pytest.mark.parametrize("text, message", [
    ("home = [unclosed", "not valid TOML"),
    ("hme = '/x'", "unknown key"),
    ("readonly = 'perhaps'", "true or false"),
    ("home = 3", "must be a string"),
    ("theme = 'neon'", "unknown theme"),
    ("metrics = 'prom:9090'", "must start with http"),
])
def test_bad_config_file_is_a_clear_error(tmp_path, text, message):
    cfg = write(tmp_path / "c.toml", text)
    with pytest.raises(InvalidSpec, match=message):
        load_settings({}, env={}, config_path=cfg)


def test_describe_masks_credentials_in_uris(tmp_path):
    s = load_settings({"registry": "https://alice:s3cret@mlflow.example/?token=abc"}, env={},
                      config_path=tmp_path / "x")
    shown = dict((k, v) for k, v, _ in s.describe())
    assert "s3cret" not in shown["registry"] and "abc" not in shown["registry"]
    assert "alice" in shown["registry"]
