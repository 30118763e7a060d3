"""The documentation's generated parts: the CLI reference covers every subcommand and option."""

from __future__ import annotations

from geoelf.cli.main import build_parser
from geoelf.cli.reference import cli_reference, walk


def test_the_cli_reference_lists_every_subcommand_and_option():
    text = cli_reference()
    commands = list(walk(build_parser()))
    names = {" ".join(path) for path, _ in commands}
    # the top level, the twelve commands and the subcommands of dft and dataset
    assert {"", "predict", "screen", "dft elf", "dft md", "dft relax", "dataset split"} <= names
    for path, parser in commands:
        assert f"`{' '.join(('geoelf', *path))}`" in text
        for action in parser._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"`{option}`" in text.split(f"`{' '.join(('geoelf', *path))}`", 1)[1], (path, option)


def test_a_choice_and_a_default_reach_the_reference():
    text = cli_reference()
    screen = text.split("`geoelf screen`", 1)[1].split("`geoelf dft`", 1)[0]
    assert "| `--chunk` | CHUNK | `4` | frames per task |" in screen
    assert "| `--format` | cube / vasp / xsf / npz / sample |" in text
