"""Registry changes are refused under --readonly and audited with before/after."""

import pytest

from backends.mlflow.registry import MlflowRegistry
from console.config import load_settings
from console.errors import ReadOnly
from console.governance.audit import AuditLog
from console.registry_changes import RegistryChanges


@pytest.fixture
def changes(seeded_server, home):
    settings = load_settings({"home": str(home), "registry": seeded_server.url}, env={})
    return RegistryChanges(settings, MlflowRegistry(seeded_server.url))


def test_alias_move_records_before_and_after(changes, home):
    registry = changes.registry
    summary = changes.set_alias("fraud-detector", "shadow", "1")
    assert summary == "fraud-detector@shadow → v1"
    changes.delete_alias("fraud-detector", "shadow")
    entries = AuditLog(home).entries()
    assert [(e.action, e.before, e.after) for e in entries] == [
        ("registry.alias.set", "", "v1"), ("registry.alias.delete", "v1", "")]
    assert AuditLog(home).verify()[0]
    assert "shadow" not in registry.get_model("fraud-detector").aliases


def test_tag_and_description_are_audited(changes, home):
    changes.set_tag("fraud-detector", "owner", "risk", version="1")
    changes.delete_tag("fraud-detector", "owner", version="1")
    old = changes.registry.get_version("fraud-detector", "1").description
    changes.set_description("fraud-detector", "retrained weekly", version="1")
    changes.set_description("fraud-detector", old, version="1")
    actions = [e.action for e in AuditLog(home).entries()]
    assert actions == ["registry.tag.set", "registry.tag.delete", "registry.description.set",
                       "registry.description.set"]


def test_readonly_refuses_before_touching_the_registry(seeded_server, home):
    settings = load_settings({"home": str(home), "registry": seeded_server.url, "readonly": True}, env={})
    changes = RegistryChanges(settings, MlflowRegistry(seeded_server.url))
    with pytest.raises(ReadOnly):
        changes.set_alias("fraud-detector", "x", "1")
    assert "x" not in changes.registry.get_model("fraud-detector").aliases
    assert AuditLog(home).entries() == []
