"""The `mlconsole` entry point: the TUI by default, headless subcommands otherwise.

Keep this module light: `--version` and `--help` must answer without importing
Textual or any heavy library.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from console import __version__
from console.commands import MODULES

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def _global_flags(suppress: bool) -> argparse.ArgumentParser:
    """Flags accepted before or after a subcommand (the copy after it must not reset them)."""
    default = argparse.SUPPRESS if suppress else None
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("global options")
    g.add_argument("--home", metavar="DIR", default=default,
                   help="all embedded state: registry store, runtime state, audit log "
                        "(env MLCONSOLE_HOME; default the XDG data dir)")
    g.add_argument("--context", metavar="NAME", default=default,
                   help="kubeconfig context; selecting one switches the cluster backend to Kubernetes")
    g.add_argument("--namespace", "-n", metavar="NS", default=default,
                   help="Kubernetes namespace (default: the context's)")
    g.add_argument("--registry", metavar="URI", default=default,
                   help="MLflow tracking URI (env MLFLOW_TRACKING_URI; default the sqlite store under home)")
    g.add_argument("--metrics", metavar="URL", default=default,
                   help="Prometheus base URL (default: the embedded runtime metrics)")
    g.add_argument("--readonly", action="store_true", default=default,
                   help="refuse every action that changes a cluster, the registry or a rollout")
    g.add_argument("--theme", metavar="NAME", default=default,
                   help="mlconsole-dark (default) or mlconsole-light")
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlconsole",
        description="A keyboard-driven terminal console for operating machine-learning services. "
                    "With no command, starts the console.",
        parents=[_global_flags(suppress=False)],
    )
    parser.add_argument("--version", action="version", version=f"mlconsole {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parents = [_global_flags(suppress=True)]
    for name in MODULES:
        importlib.import_module(name).register(sub, parents)
    return parser


class _QuietParser(argparse.ArgumentParser):
    def error(self, message: str):  # type: ignore[override]
        raise argparse.ArgumentError(None, message)


def _console_only(argv: list[str]) -> argparse.Namespace | None:
    """The global flags when argv starts the console (no command, no --help or --version), else None.

    Registering every command imports every command module; the console needs none of them,
    and its first frame is the startup that users wait for.
    """
    light = _QuietParser(prog="mlconsole", add_help=False, parents=[_global_flags(suppress=False)])
    try:
        args, rest = light.parse_known_args(argv)
    except argparse.ArgumentError:  # a malformed global flag: the full parser says so, with the usage
        return None
    return None if rest else args


def _flags(args: argparse.Namespace) -> dict:
    return {k: getattr(args, k, None) for k in
            ("home", "context", "namespace", "registry", "metrics", "readonly", "theme")}


def main(argv: list[str] | None = None) -> int:
    """Parse, load settings, then run a subcommand or the TUI. Returns the exit code."""
    args = _console_only(sys.argv[1:] if argv is None else argv)
    if args is None:
        args = build_parser().parse_args(argv)

    from console.config import load_settings
    from console.errors import ConsoleError, InvalidSpec

    try:
        settings = load_settings(_flags(args))
    except InvalidSpec as exc:
        print(f"mlconsole: {exc}", file=sys.stderr)
        return EXIT_USAGE

    run = getattr(args, "run", None)
    try:
        if run is not None:
            return int(run(args, settings) or 0)
        from console.commands.demo_cmd import first_run_seed, needs_first_run_seed

        if needs_first_run_seed(settings):  # fresh embedded registry, not --readonly, no MLCONSOLE_NO_DEMO
            first_run_seed(settings)
        from console.app import MLConsoleApp

        MLConsoleApp(settings).run()
        return EXIT_OK
    except ConsoleError as exc:
        print(f"mlconsole: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `mlconsole ... --json | head`: the reader left, as it may. Point stdout at /dev/null so the
        # interpreter's final flush does not complain again, and exit as a closed pipe does (SIGPIPE).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + 13
    except Exception as exc:
        if os.environ.get("MLCONSOLE_DEBUG"):
            raise
        print(f"mlconsole: internal error: {type(exc).__name__}: {exc}\n"
              "rerun with MLCONSOLE_DEBUG=1 to see the traceback, and report it", file=sys.stderr)
        return EXIT_ERROR


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
