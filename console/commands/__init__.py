"""Headless subcommands. Each module defines `register(subparsers, parents)`; heavy imports
happen inside the command's run function, never at module import."""

MODULES = ["console.commands.config_cmd", "console.commands.models_cmd", "console.commands.demo_cmd",
           "console.commands.graph_cmd"]
