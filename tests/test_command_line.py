import pytest

from console.command_line import COMMANDS, complete, is_command, parse
from console.errors import InvalidSpec


def test_parse_aliases_and_arguments():
    assert parse(":models")[0].view == "registry"
    assert parse("dp")[0].view == "cluster"
    cmd, arg = parse(":data  /tmp/x.parquet ")
    assert cmd.name == "data" and arg == "/tmp/x.parquet"
    assert parse("ctx prod")[1] == "prod"


@pytest.mark.parametrize("text, message", [
    ("", "empty"), (":nope", "unknown command"), (":ns", "needs NAME"), (":models extra", "no argument"),
])
def test_parse_errors_are_actionable(text, message):
    with pytest.raises(InvalidSpec, match=message):
        parse(text)


def test_completion():
    assert [c.name for c in complete("ro")] == ["rollouts"]
    assert len(complete("")) == len(COMMANDS)
    assert is_command("registry") and not is_command("regis")


def test_every_view_is_reachable_by_a_command():
    views = {c.view for c in COMMANDS if c.view}
    assert views == {"overview", "data", "registry", "graphs", "cluster", "rollouts", "monitor", "audit"}
