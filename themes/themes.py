"""The console's Textual themes: a dark and a light one, selectable with --theme."""

from __future__ import annotations

from textual.theme import Theme

DARK = Theme(
    name="mlconsole-dark",
    primary="#5FA8D3",
    secondary="#7A9CC6",
    accent="#F2A541",
    warning="#F2C14E",
    error="#E5534B",
    success="#57AB5A",
    foreground="#D8DEE9",
    background="#161B22",
    surface="#1C2230",
    panel="#252D3D",
    dark=True,
)

LIGHT = Theme(
    name="mlconsole-light",
    primary="#1F6FA8",
    secondary="#4A6A94",
    accent="#B5651D",
    warning="#9A6700",
    error="#C62828",
    success="#2E7D32",
    foreground="#1F2328",
    background="#F6F8FA",
    surface="#FFFFFF",
    panel="#E6EBF1",
    dark=False,
)

THEMES = (DARK, LIGHT)
