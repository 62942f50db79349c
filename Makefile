# Two entry points that set everything up on a machine with only Python 3.10+:
#   make demo   - a quick sweep (seconds), then the filter's answer
#   make test   - ruff and mypy, then the whole test suite
#   make bench  - the proxy-grid benchmark (about 10 minutes)
#   make screenshot - docs/report.png from the report of REPORT (needs chromium)
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: demo test bench screenshot clean

REPORT ?= output/reference-study
REPORT_ARGS ?= --max-gap 1

$(BIN)/sweep-nn: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,dask]"
	touch $@

demo: $(BIN)/sweep-nn
	$(BIN)/sweep-nn run configs/quick.yaml
	$(BIN)/sweep-nn filter output/quick --min-acc 95 --max-gap 1

test: $(BIN)/sweep-nn
	$(BIN)/ruff check sweep_nn tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest

bench: $(BIN)/sweep-nn
	$(BIN)/python benchmarks/bench.py --grid proxy --repeats 3

screenshot: $(BIN)/sweep-nn
	$(BIN)/sweep-nn report $(REPORT) $(REPORT_ARGS)
	$(BIN)/python benchmarks/screenshot_report.py $(REPORT)/report.html docs/report.png

clean:
	rm -rf $(VENV) .pytest_cache   # never output/: results are kept
