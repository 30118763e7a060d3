# Quick start:  make demo   (set up + predict the ELF of a shipped 64-atom structure, network analysis)
#               make test   (set up + run the whole test suite)
# Also:         make lint   (ruff + mypy on src/)   make docs   (the documentation site, warnings as errors)
VENV    ?= .venv
PYTHON  ?= python3
BIN      = $(VENV)/bin
EXAMPLES = src/geoelf/examples
# a fluid snapshot (rs 1.33 bohr, 2800 K, 291 GPa) and its DFT ELF (protocol v1)
STRUCTURE = $(EXAMPLES)/h64_rs1.33_T2800.extxyz
REFERENCE = $(EXAMPLES)/h64_rs1.33_T2800.ELF.cube.gz
# The CPU build of PyTorch first: asking pip for "torch" alone may fetch GBs of CUDA packages.
TORCH   ?= torch==2.13.0

.PHONY: setup demo test lint docs bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

# the embedded default model (dense-h-v2): the ELF with its error bars, its network descriptors, then the
# same prediction scored against the DFT ELF of that snapshot (R², errors, φ, critical points)
demo: setup
	$(BIN)/geoelf predict $(STRUCTURE) --network --uncertainty -o demo_elf.cube.gz
	$(BIN)/geoelf evaluate $(REFERENCE) --plots demo
	$(BIN)/geoelf plot demo_elf.cube.gz -o demo

test: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider

$(VENV)/.tools: $(VENV)/.installed pyproject.toml
	$(BIN)/python -m pip install -q -e ".[test,lint,docs]"
	touch $@

lint: $(VENV)/.tools
	$(BIN)/ruff check src
	$(BIN)/ruff format --check src
	$(BIN)/mypy

# the site in site/: CLI and API reference generated, the tutorial notebook executed
docs: $(VENV)/.tools
	DISABLE_MKDOCS_2_WARNING=true NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

bench: setup
	$(BIN)/python benchmarks/bench_topology.py

clean:
	rm -rf $(VENV) site demo demo_elf.cube.gz demo_elf_sigma.cube.gz demo_slice.png demo_hist.png
