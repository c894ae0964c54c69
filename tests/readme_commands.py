"""The commands README.md shows, read the way a newcomer reads them.

Each ```sh block line that starts with `mlconsole ` or `make `, each inline code span that does
(`mlconsole demo`, also across a line break), and the commands a block's comment adds
(`# also: restart NAME [PREDICTOR], traffic-split ...`, `` `get events [NAME]` too``). A command
is normalized with mlconsole's own argument parser into its key — the global flags that take a
value as `--flag ...`, then the subcommand words (`rollout start`, `--context ... get deployments`)
— and the flags it shows (optional `[...]` parts included, plus those its comment mentions).
"""

from __future__ import annotations

import argparse
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

GLOBAL_VALUE_FLAGS = ("--home", "--context", "--namespace", "-n", "--registry", "--metrics", "--theme")
FENCE = re.compile(r"^(\s*)```(\S*)\s*$")
SPAN = re.compile(r"(?<!`)`([^`]+)`(?!`)", re.S)
FLAG = re.compile(r"^(--?[A-Za-z][\w-]*)")


@dataclass
class ReadmeCommand:
    """One command as the README shows it."""

    text: str  # as written (whitespace collapsed), without its comment
    line: int  # where it starts in README.md
    program: str  # "mlconsole" or "make"
    key: str = ""  # "rollout start", "--context ... get deployments", "make test"
    flags: set[str] = field(default_factory=set)  # canonical option strings it shows
    problems: list[str] = field(default_factory=list)  # flags or words mlconsole does not accept
    leaf: argparse.ArgumentParser | None = field(default=None, repr=False)

    def where(self) -> str:
        return f"README.md:{self.line}: `{self.text}`"


def _strip_brackets(text: str) -> str:
    """Drop the `[` `]` that mark optional parts, but not those inside quotes (JSON examples)."""
    out, quote = [], ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[]":
            out.append(" ")
            continue
        out.append(ch)
    return "".join(out)


def _split_comment(line: str) -> tuple[str, str]:
    """A shell line's command and its `# comment` (a # outside quotes, after a space)."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip(), line[i + 1:].strip()
    return line.rstrip(), ""


def tokens(text: str) -> list[str]:
    """A command's words as a shell splits them, with the `[` `]` of optional parts dropped."""
    try:
        return shlex.split(_strip_brackets(text))
    except ValueError:  # an unbalanced quote: still name the command by its words
        return _strip_brackets(text).split()


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    return next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)


def canonical_flag(parser: argparse.ArgumentParser, flag: str) -> str | None:
    """The first long option string of the action `flag` names in parser, or None if it has none."""
    action = parser._option_string_actions.get(flag.split("=", 1)[0])
    if action is None:
        return None
    longs = [s for s in action.option_strings if s.startswith("--")]
    return (longs or action.option_strings)[0]


def walk(parser: argparse.ArgumentParser, tokens: list[str]) -> tuple[list[str], argparse.ArgumentParser, list[str]]:
    """(key words, the leaf parser, the remaining tokens) of a command's tokens after `mlconsole`.

    Alternatives (`local status|up|down`) must have been expanded before."""
    key: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in GLOBAL_VALUE_FLAGS and _subparsers(parser) is not None:
            key += [canonical_flag(parser, tok) or tok, "..."]
            i += 2
            continue
        if tok in ("--readonly", "--version") and _subparsers(parser) is not None:
            key.append(tok)
            i += 1
            continue
        sub = _subparsers(parser)
        if sub is not None and tok in sub.choices:
            key.append(tok)
            parser = sub.choices[tok]
            i += 1
            continue
        break
    return key, parser, tokens[i:]


def _expand(parser: argparse.ArgumentParser, words: list[str]) -> list[list[str]]:
    """`local status|up|down` -> three commands; `|` in an argument's value stays as it is."""
    key, leaf, rest = walk(parser, words)
    if rest and "|" in rest[0]:
        sub = _subparsers(leaf)
        choices = rest[0].split("|")
        if sub is not None and all(c in sub.choices for c in choices):
            done = words[:len(words) - len(rest)]
            out: list[list[str]] = []
            for choice in choices:
                out += _expand(parser, [*done, choice, *rest[1:]])
            return out
    return [words]


def _describe(parser: argparse.ArgumentParser, text: str, line: int, comment: str) -> list[ReadmeCommand]:
    words = tokens(text)
    if words[0] == "make":
        return [ReadmeCommand(text, line, "make", key=" ".join(words[:2]))]
    out = []
    alternatives = _expand(parser, words[1:])
    for args in alternatives:
        key, leaf, rest = walk(parser, args)
        cmd = ReadmeCommand(text if len(alternatives) == 1 else "mlconsole " + " ".join(args),
                            line, "mlconsole", key=" ".join(key), leaf=leaf)
        sub = _subparsers(leaf)
        if sub is not None and rest and not rest[0].startswith("-") and "--version" not in key:
            cmd.problems.append(f"`{rest[0]}` is not a subcommand of `mlconsole {cmd.key}` "
                                f"(it has: {', '.join(sub.choices)})")
        for tok in rest:
            match = FLAG.match(tok)
            if not match or re.fullmatch(r"-\d.*", tok):
                continue
            canon = canonical_flag(leaf, match.group(1))
            if canon is None:
                cmd.problems.append(f"`{match.group(1)}` is not an option of `mlconsole {cmd.key}`")
            else:
                cmd.flags.add(canon)
        for word in comment.replace(",", " ").replace(";", " ").replace("(", " ").split():
            match = FLAG.match(word.rstrip(":.)"))
            if match:  # a flag the comment mentions: counted when this command accepts it
                canon = canonical_flag(leaf, match.group(1))
                if canon is not None:
                    cmd.flags.add(canon)
        out.append(cmd)
    return out


def _comment_commands(comment: str) -> list[str]:
    """The commands a block comment adds: `# also: A, B` and `` `get events [NAME]` too``."""
    found = [span.strip() for span in SPAN.findall(comment)]
    if comment.startswith("also:"):  # `also: A, B` up to the end of the sentence
        listed = re.split(r"[;.](\s|$)", comment[len("also:"):])[0]
        found += [part.strip() for part in listed.split(",") if part.strip() and "`" not in part]
    return ["mlconsole " + c if not c.startswith(("mlconsole ", "make ")) else c for c in found]


def parse_readme(text: str, parser: argparse.ArgumentParser) -> list[ReadmeCommand]:
    """Every command the README shows, in README order (one entry per alternative)."""
    commands: list[ReadmeCommand] = []
    prose: list[tuple[int, str]] = []
    fence: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        match = FENCE.match(raw)
        if match:
            fence = None if fence is not None else match.group(2)
            prose.append((number, ""))
            continue
        if fence is None:
            prose.append((number, raw))
            continue
        if fence not in ("sh", "bash", "shell", "console"):
            continue
        line = raw.strip().removeprefix("$ ")
        if not line.startswith(("mlconsole ", "make ")):
            continue
        command, comment = _split_comment(line)
        commands += _describe(parser, " ".join(command.split()), number, comment)
        for extra in _comment_commands(comment):
            commands += _describe(parser, " ".join(extra.split()), number, "")
    # Inline spans may wrap across lines: search the prose as one text, mapping offsets to lines.
    joined, starts = "", []
    for number, raw in prose:
        starts.append((len(joined), number))
        joined += raw + "\n"
    for match in SPAN.finditer(joined):
        span = " ".join(match.group(1).split())
        if not span.startswith(("mlconsole ", "make ")):
            continue
        line = max(n for offset, n in starts if offset <= match.start())
        commands += _describe(parser, span, line, "")
    return commands


def readme_commands(path: Path = README) -> list[ReadmeCommand]:
    from console.cli import build_parser

    return parse_readme(path.read_text(encoding="utf-8"), build_parser())


def flags_of(args: list[str] | tuple[str, ...]) -> tuple[str, set[str]]:
    """The key and canonical flags of an invocation (the words after `mlconsole`)."""
    from console.cli import build_parser

    parser = build_parser()
    key, leaf, rest = walk(parser, list(args))
    flags = {canonical_flag(parser, t) for t in args[:len(args) - len(rest)] if t.startswith("-")}
    for tok in rest:
        match = FLAG.match(tok)
        if match and not re.fullmatch(r"-\d.*", tok):
            flags.add(canonical_flag(leaf, match.group(1)) or match.group(1))
    return " ".join(key), {f for f in flags if f}
