"""The README's Python examples run verbatim on shipped files, and its numbers are what they print."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_has_python_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_a_readme_python_block_runs_verbatim(index, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # whatever a block writes lands here
    code = BLOCKS[index]
    if "SLURMCluster" in code:
        pytest.skip("needs a SLURM cluster (dask-jobqueue)")
    exec(compile(code, f"README.md python block {index}", "exec"), {"__name__": "__main__"})
    printed = {f"{float(x):.3f}" for x in re.findall(r"\d+\.\d+", capsys.readouterr().out)}
    for claim in re.findall(r"# (\d\.\d{3})$", code, flags=re.M):  # a printed value the README quotes
        assert claim in printed
