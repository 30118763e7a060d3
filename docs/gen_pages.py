"""Pages generated when the site builds (mkdocs-gen-files): the CLI reference from the argparse
parsers and one API page per geoelf module, rendered by mkdocstrings from the docstrings."""

from pathlib import Path

import mkdocs_gen_files

from geoelf.cli.reference import cli_reference

with mkdocs_gen_files.open("reference/cli.md", "w") as out:
    out.write(cli_reference())

SRC = Path("src")
nav = mkdocs_gen_files.Nav()
for path in sorted((SRC / "geoelf").rglob("*.py")):
    parts = path.relative_to(SRC).with_suffix("").parts
    if parts[-1].startswith("_") and parts[-1] != "__init__":
        continue
    module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    if module.startswith("geoelf.cli"):
        continue  # the command line has its own reference
    if parts[-1] == "__init__":  # a package: the index page of its folder
        page = Path("reference/api", *parts[1:-1], "index.md")
    else:
        page = Path("reference/api", *parts[1:]).with_suffix(".md")
    nav[tuple(module.split(".")[1:]) or ("geoelf",)] = page.relative_to("reference/api").as_posix()
    with mkdocs_gen_files.open(page, "w") as out:
        out.write(f"# `{module}`\n\n::: {module}\n")
with mkdocs_gen_files.open("reference/api/SUMMARY.md", "w") as out:
    out.writelines(nav.build_literate_nav())
