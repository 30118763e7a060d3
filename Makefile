# Quick start:  make demo   (set up + analyse the shipped example ELF)
#               make test   (set up + run the whole test suite)
VENV    ?= .venv
PYTHON  ?= python3
BIN      = $(VENV)/bin
EXAMPLE  = src/geoelf/examples/h64_rs1.25_T1200.ELF.cube.gz
# The CPU build of PyTorch first: asking pip for "torch" alone may fetch GBs of CUDA packages.
TORCH   ?= torch==2.13.0

.PHONY: setup demo test bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

demo: setup
	$(BIN)/geoelf info $(EXAMPLE)
	$(BIN)/geoelf network $(EXAMPLE)
	$(BIN)/geoelf plot $(EXAMPLE) -o demo

test: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: setup
	$(BIN)/python benchmarks/bench_topology.py

clean:
	rm -rf $(VENV) demo_slice.png demo_hist.png
