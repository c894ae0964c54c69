"""Alias, tag and description keys shared by the versions and version-detail screens.

Each action: refuse at once under --readonly; ask for the value; confirm; run the
change in a worker (audited by console.registry_changes); toast the result; reload.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.binding import Binding

from console.errors import ConsoleError
from console.registry_changes import RegistryChanges
from screens.confirm import ConfirmScreen
from screens.text_prompt import TextPrompt

REGISTRY_BINDINGS = [
    Binding("a", "set_alias", "Set alias", id="registry.set_alias"),
    Binding("A", "delete_alias", "Delete alias", id="registry.delete_alias", show=False),
    Binding("t", "set_tag", "Tag", id="registry.set_tag"),
    Binding("T", "delete_tag", "Untag", id="registry.delete_tag", show=False),
    Binding("e", "edit_description", "Describe", id="registry.edit_description", show=False),
]


class RegistryActions:
    """Mixin for a Screen that knows its selected (model name, version)."""

    def selected_version(self) -> tuple[str, str] | None:  # pragma: no cover - overridden
        raise NotImplementedError

    def current_aliases(self) -> dict[str, str]:
        """alias -> version of the model on screen, for prompts and confirmations."""
        return {}

    def current_tags(self) -> dict[str, str]:
        return {}

    def current_description(self) -> str:
        return ""

    def _target(self, action: str) -> tuple[str, str] | None:
        if self.app.settings.readonly:
            self.notify(f"{action} refused: mlconsole runs with --readonly", severity="error")
            return None
        target = self.selected_version()
        if target is None:
            self.notify("select a version first", severity="warning")
        return target

    def _ask(self, prompt: TextPrompt, then: Callable[[str], None]) -> None:
        self.app.push_screen(prompt, lambda value: then(value.strip()) if value and value.strip() else None)

    def _confirm(self, question: str, detail: str, yes: str, change: Callable[[RegistryChanges], str]) -> None:
        def answered(ok: bool | None) -> None:
            if ok:
                self._run_change(change)

        self.app.push_screen(ConfirmScreen(question, detail, yes=yes), answered)

    def _run_change(self, change: Callable[[RegistryChanges], str]) -> None:
        changes = RegistryChanges(self.app.settings, self.app.backends.registry)

        def work() -> None:
            try:
                summary = change(changes)
            except ConsoleError as exc:
                self.app.call_from_thread(self.notify, str(exc), severity="error", timeout=8)
            except Exception as exc:  # never a traceback
                self.app.call_from_thread(self.notify, f"unexpected error: {type(exc).__name__}: {exc}",
                                          severity="error", timeout=8)
            else:
                self.app.call_from_thread(self.notify, f"{summary} (audited)", timeout=5)
                self.app.call_from_thread(self.refresh_data)

        self.run_worker(work, thread=True, group="registry-change", exit_on_error=False)

    # -- the actions ------------------------------------------------------------------

    def action_set_alias(self) -> None:
        target = self._target("set alias")
        if target is None:
            return
        name, version = target

        def chosen(alias: str) -> None:
            alias = alias.lstrip("@")
            before = self.current_aliases().get(alias)
            detail = (f"@{alias} now points at version {before}; it will move."
                      if before and before != version else "Recorded in the audit log.")
            self._confirm(f"Point {name}@{alias} at version {version}?", detail, "Set alias",
                          lambda ch: ch.set_alias(name, alias, version))

        self._ask(TextPrompt(f"Alias for {name} version {version}", placeholder="champion",
                             hint="letters, digits, - and _; an existing alias moves here"), chosen)

    def action_delete_alias(self) -> None:
        target = self._target("delete alias")
        if target is None:
            return
        name, version = target
        mine = sorted(a for a, v in self.current_aliases().items() if v == version)
        if not mine:
            self.notify(f"version {version} has no alias", severity="warning")
            return

        def chosen(alias: str) -> None:
            alias = alias.lstrip("@")
            self._confirm(f"Delete alias {name}@{alias}?",
                          "Anything resolving models:/" + f"{name}@{alias} will stop resolving.",
                          "Delete", lambda ch: ch.delete_alias(name, alias))

        self._ask(TextPrompt(f"Delete which alias of {name} version {version}?", value=mine[0],
                             hint="aliases here: " + ", ".join(f"@{a}" for a in mine)), chosen)

    def action_set_tag(self) -> None:
        target = self._target("set tag")
        if target is None:
            return
        name, version = target

        def chosen(text: str) -> None:
            key, sep, value = text.partition("=")
            if not sep or not key.strip():
                self.notify("type key=value, e.g. validated_by=risk-team", severity="error")
                return
            key, value = key.strip(), value.strip()
            self._confirm(f"Tag {name} version {version} with {key}={value}?", "Recorded in the audit log.",
                          "Tag", lambda ch: ch.set_tag(name, key, value, version))

        self._ask(TextPrompt(f"Tag for {name} version {version}", placeholder="key=value"), chosen)

    def action_delete_tag(self) -> None:
        target = self._target("delete tag")
        if target is None:
            return
        name, version = target
        tags = self.current_tags()
        if not tags:
            self.notify(f"version {version} has no tags", severity="warning")
            return

        def chosen(key: str) -> None:
            self._confirm(f"Remove tag {key} from {name} version {version}?", "Recorded in the audit log.",
                          "Remove", lambda ch: ch.delete_tag(name, key, version))

        self._ask(TextPrompt(f"Remove which tag of {name} version {version}?", value=sorted(tags)[0],
                             hint="tags here: " + ", ".join(sorted(tags))), chosen)

    def action_edit_description(self) -> None:
        target = self._target("edit description")
        if target is None:
            return
        name, version = target

        def chosen(text: str) -> None:
            self._confirm(f"Set the description of {name} version {version}?", text[:200], "Save",
                          lambda ch: ch.set_description(name, text, version))

        self._ask(TextPrompt(f"Description of {name} version {version}", value=self.current_description()),
                  chosen)
