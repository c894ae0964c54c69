"""Themes and Textual CSS for mlconsole."""
