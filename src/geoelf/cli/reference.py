"""The command-line reference as Markdown, generated from the argparse parsers themselves.

The documentation site renders it (``docs/gen_pages.py``), so it lists every subcommand and
option the ``geoelf`` command accepts, with their help, defaults and choices.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subcommand parsers of ``parser``, by name (empty when it has none)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def walk(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """(command path, parser) for ``parser`` and every subcommand below it, depth first."""
    yield path, parser
    for name, sub in subcommands(parser).items():
        yield from walk(sub, (*path, name))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def argument_rows(parser: argparse.ArgumentParser) -> list[str]:
    """One Markdown table row per argument of ``parser`` (subcommand choices and --help aside)."""
    rows = []
    for action in parser._actions:
        if isinstance(action, (argparse._SubParsersAction, argparse._HelpAction)):
            continue
        name = ", ".join(f"`{s}`" for s in action.option_strings) or f"`{action.metavar or action.dest}`"
        takes = (
            "" if action.nargs == 0 else str(action.metavar or (action.dest.upper() if action.option_strings else ""))
        )
        if action.choices is not None:
            takes = " / ".join(map(str, action.choices))
        default = (
            "" if action.default in (None, False, argparse.SUPPRESS) or action.nargs == 0 else f"`{action.default}`"
        )
        rows.append(f"| {name} | {_cell(takes)} | {default} | {_cell(action.help or '')} |")
    return rows


def cli_reference() -> str:
    """The whole reference: one section per command and subcommand, usage and an argument table."""
    from geoelf.cli.main import build_parser

    lines = ["# Command-line reference", "", "Generated from the `geoelf` command's own parsers.", ""]
    for path, parser in walk(build_parser()):
        title = " ".join(("geoelf", *path))
        lines += [f"{'#' * min(2 + len(path), 4)} `{title}`", ""]
        if parser.description:
            lines += [parser.description, ""]
        usage = parser.format_usage().removeprefix("usage: ").strip()
        lines += ["```text", " ".join(usage.split()), "```", ""]
        rows = argument_rows(parser)
        if rows:
            lines += ["| argument | value | default | what it does |", "|---|---|---|---|", *rows, ""]
        if subcommands(parser):
            lines += ["Subcommands: " + ", ".join(f"`{n}`" for n in subcommands(parser)), ""]
    return "\n".join(lines)
