from console.secrets import MASK, is_secret_name, mask_uri, mask_value, redact_mapping


def test_secret_names():
    for name in ("AWS_SECRET_ACCESS_KEY", "MLFLOW_TRACKING_TOKEN", "db_password", "API_KEY"):
        assert is_secret_name(name)
    for name in ("HOME", "MLFLOW_TRACKING_URI", "KUBECONFIG"):
        assert not is_secret_name(name)


def test_mask_uri_keeps_sqlite_paths_intact():
    assert mask_uri("sqlite:////abs/path/mlflow.db") == "sqlite:////abs/path/mlflow.db"
    assert mask_uri("http://u:p@h:1/x") == f"http://u:{MASK}@h:1/x"
    assert "t0k" not in mask_uri("http://h/?access_token=t0k&a=1")


def test_mask_value_and_mapping():
    assert mask_value("MY_TOKEN", "abc") == MASK
    assert redact_mapping({"PASSWORD": "x", "USER": "bob"}) == {"PASSWORD": MASK, "USER": "bob"}
