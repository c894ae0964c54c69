"""Headless subcommands. Each module defines `register(subparsers, parents)`; heavy imports
happen inside the command's run function, never at module import."""

MODULES = ["console.commands.config_cmd", "console.commands.models_cmd", "console.commands.demo_cmd",
           "console.commands.graph_cmd", "console.commands.local_cmd", "console.commands.deploy_cmd",
           "console.commands.get_cmd", "console.commands.delete_cmd", "console.commands.scale_cmd",
           "console.commands.restart_cmd", "console.commands.traffic_split_cmd", "console.commands.logs_cmd",
           "console.commands.traffic_cmd", "console.commands.data_cmd",
           "console.commands.metrics_cmd", "console.commands.rollout_cmd", "console.commands.audit_cmd",
           "console.commands.lineage_cmd", "console.commands.fairness_cmd", "console.commands.explain_cmd",
           "console.commands.card_cmd"]
