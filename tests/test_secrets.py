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


def test_mask_line_hides_secret_assignments_and_url_passwords():
    from console.secrets import mask_line

    assert mask_line("MLFLOW_TRACKING_TOKEN=abc123 next") == "MLFLOW_TRACKING_TOKEN=**** next"
    assert mask_line('{"api_key": "xyz", "n": 1}') == '{"api_key": "****", "n": 1}'
    assert mask_line("password: s3cret") == "password: ****"
    assert mask_line("to https://bob:hunter2@host/x") == "to https://bob:****@host/x"
    assert mask_line("POST /api/v1.0/predictions 200 2.1ms") == "POST /api/v1.0/predictions 200 2.1ms"


def test_mask_manifest_hides_secret_env_values_only():
    from console.secrets import mask_manifest

    manifest = {"spec": {"containers": [{"env": [
        {"name": "AWS_SECRET_ACCESS_KEY", "value": "abc"}, {"name": "MODEL_NAME", "value": "Model"},
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]}]},
        "uri": "s3://user:pw@bucket/model"}
    masked = mask_manifest(manifest)
    env = masked["spec"]["containers"][0]["env"]
    assert env[0]["value"] == "****" and env[1]["value"] == "Model"
    assert env[2]["valueFrom"] == {"secretKeyRef": {"name": "db", "key": "password"}}
    assert masked["uri"] == "s3://user:****@bucket/model"
    assert manifest["spec"]["containers"][0]["env"][0]["value"] == "abc"  # a copy
