"""`mlconsole demo`: seed the registry with a realistic demo workspace (models, runs, datasets)."""

from __future__ import annotations

import argparse
import os
import sys

from console.config import Settings, default_registry_uri
from console.errors import ConsoleError, ReadOnly
from console.secrets import mask_uri

NO_DEMO_VAR = "MLCONSOLE_NO_DEMO"


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser(
        "demo", parents=parents,
        help="seed the registry with demo models, runs and datasets",
        description="Train small scikit-learn models on synthetic credit-risk and fraud data and "
                    "register them (credit-risk v1-v3 with champion/challenger aliases, "
                    "fraud-detector v1-v2) in the configured registry; datasets go under home.",
    )
    demo.add_argument("--force", action="store_true",
                      help="seed again even if the demo models exist (adds new versions)")
    demo.set_defaults(run=run_demo)


def run_demo(args: argparse.Namespace, settings: Settings) -> int:
    if settings.readonly:
        raise ReadOnly("seeding the demo workspace")
    from backends.mlflow.demo_seed import CREDIT_MODEL, demo_exists

    where = mask_uri(settings.registry)
    if not args.force and _guarded(lambda: demo_exists(settings.registry), where):
        print(f"{where} already holds the demo model {CREDIT_MODEL!r}: nothing to do "
              "(use --force to add new versions)")
        return 0
    _seed(settings)
    return 0


def needs_first_run_seed(settings: Settings, env: dict[str, str] | None = None) -> bool:
    """True on the very first start: embedded registry not created yet, not readonly, not opted out."""
    env = os.environ if env is None else env
    if settings.readonly or env.get(NO_DEMO_VAR, "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    if not settings.registry_is_embedded:
        return False
    return not os.path.exists(default_registry_uri(settings.home)[len("sqlite:///"):])


def first_run_seed(settings: Settings) -> None:
    """Seed the demo into a fresh embedded registry before the console opens; never fatal."""
    print(f"First start: seeding a demo workspace into {settings.home} "
          f"(run `mlconsole demo` to do this again elsewhere; {NO_DEMO_VAR}=1 skips it)…", flush=True)
    # The console is still useful without the demo: on failure or ctrl+c, say so and go on.
    try:
        _seed(settings)
    except ConsoleError as exc:
        print(f"mlconsole: demo seeding failed: {exc}; run `mlconsole demo --force` to retry",
              file=sys.stderr)
    except KeyboardInterrupt:
        print("mlconsole: demo seeding interrupted; run `mlconsole demo --force` to seed later",
              file=sys.stderr)


def _seed(settings: Settings) -> None:
    """Seed, audit, and turn any backend failure into a ConsoleError (one line, no traceback)."""
    from backends.mlflow.demo_seed import seed_demo
    from console.governance.audit import AuditLog

    def progress(line: str) -> None:
        print(f"  {line}", flush=True)

    summary = _guarded(lambda: seed_demo(settings.registry, settings.home, progress=progress),
                       mask_uri(settings.registry))
    from backends.mlflow.demo_seed import CREDIT_MODEL
    from console.graph.demo_graph import write_demo_graph, write_demo_rollouts

    graph = _guarded(lambda: write_demo_graph(settings.home), mask_uri(settings.registry))
    progress(f"demo graph: {graph} (application -> bureau -> outliers -> A/B champion|challenger -> decision)")
    challenger = summary.aliases.get(CREDIT_MODEL, {}).get("challenger")
    if challenger:
        strategies = _guarded(lambda: write_demo_rollouts(settings.home, challenger), mask_uri(settings.registry))
        progress(f"demo rollouts: {', '.join(p.name for p in strategies)} in {strategies[0].parent} "
                 "(a canary of the challenger, and a rollback drill)")
    AuditLog(settings.home).append("registry.seed", "demo workspace", after=summary.describe())
    print(f"demo workspace ready in {mask_uri(settings.registry)}: {summary.describe()}")


def _guarded(call, where: str):
    """Run call; a library exception becomes the registry's typed, human-readable error."""
    from backends.mlflow.errors import translate

    try:
        return call()
    except ConsoleError:
        raise
    except OSError as exc:
        if not getattr(exc, "filename", None):
            raise translate(exc, where, "demo workspace") from exc
        raise ConsoleError(f"cannot write the demo workspace: {exc.strerror}: {exc.filename}",
                           hint="check that --home is writable") from exc
    except Exception as exc:
        raise translate(exc, where, "demo workspace") from exc
