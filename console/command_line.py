"""The k9s-style `:` command line: the commands, their aliases and how to parse them."""

from __future__ import annotations

from dataclasses import dataclass

from console.errors import InvalidSpec


@dataclass(frozen=True)
class ConsoleCommand:
    """One `:` command. `view` names the mode it opens; `arg` names its argument, if any."""

    name: str
    help: str
    aliases: tuple[str, ...] = ()
    view: str | None = None
    arg: str = ""
    arg_required: bool = False


COMMANDS: tuple[ConsoleCommand, ...] = (
    ConsoleCommand("overview", "deployments, models, rollouts, audit and backend health", ("home", "ov"),
                   view="overview"),
    ConsoleCommand("data", "explore a dataset (Parquet, CSV, JSONL)", ("ds",), view="data", arg="PATH"),
    ConsoleCommand("models", "the model registry", ("registry", "mo", "model"), view="registry"),
    ConsoleCommand("graphs", "inference graphs; with a PATH, open that manifest in the graph builder",
                   ("graph", "gr"), view="graphs", arg="PATH"),
    ConsoleCommand("deploy", "deployments on the cluster", ("deployments", "cluster", "dp"),
                   view="cluster"),
    ConsoleCommand("rollouts", "progressive deliveries", ("rollout", "ro"), view="rollouts"),
    ConsoleCommand("monitor", "live traffic, latency and errors", ("mon", "metrics"), view="monitor"),
    ConsoleCommand("audit", "the tamper-evident audit log", ("au",), view="audit"),
    ConsoleCommand("lineage", "a deployment's models, runs and training data, re-verified", ("lin",),
                   arg="NAME", arg_required=True),
    ConsoleCommand("card", "a model version's card: data, metrics, fairness, lineage, history",
                   ("modelcard",), arg="MODEL[@ALIAS|/VERSION]", arg_required=True),
    ConsoleCommand("ctx", "switch kubeconfig context ('local' for the embedded runtime; none: pick one)",
                   ("context",), arg="NAME"),
    ConsoleCommand("ns", "switch Kubernetes namespace", ("namespace",), arg="NAME", arg_required=True),
    ConsoleCommand("theme", "switch theme: mlconsole-dark or mlconsole-light", (), arg="NAME",
                   arg_required=True),
    ConsoleCommand("help", "the keys of this view", ("?", "keys")),
    ConsoleCommand("quit", "leave mlconsole", ("q", "q!", "exit")),
)

_BY_NAME = {alias: c for c in COMMANDS for alias in (c.name, *c.aliases)}


def parse(text: str) -> tuple[ConsoleCommand, str]:
    """'data /tmp/x.parquet' -> (the data command, '/tmp/x.parquet')."""
    text = text.strip().lstrip(":").strip()
    if not text:
        raise InvalidSpec("empty command", hint="type a command such as :models, or :help")
    word, _, arg = text.partition(" ")
    command = _BY_NAME.get(word.lower())
    if command is None:
        near = [c.name for c in COMMANDS if c.name.startswith(word[:2].lower())]
        hint = f"did you mean :{near[0]}?" if near else "press : and tab to see the commands"
        raise InvalidSpec(f"unknown command :{word}", hint=hint)
    arg = arg.strip()
    if command.arg_required and not arg:
        raise InvalidSpec(f":{command.name} needs {command.arg}", hint=f"e.g. :{command.name} {command.arg}")
    if arg and not command.arg:
        raise InvalidSpec(f":{command.name} takes no argument")
    return command, arg


def complete(prefix: str) -> list[ConsoleCommand]:
    """Commands whose name or an alias starts with the typed word (all of them when empty)."""
    word = prefix.strip().lstrip(":").split(" ")[0].lower()
    return [c for c in COMMANDS if not word or any(a.startswith(word) for a in (c.name, *c.aliases))]


def is_command(word: str) -> bool:
    """True if `word` is a command name or alias exactly."""
    return word.lower() in _BY_NAME
