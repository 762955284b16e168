# Two entry points (see README): `make demo` and `make test`. Idempotent: the venv is rebuilt only when a
# requirement file or pyproject.toml changes (stamp keyed on their hash).
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
REQS   := requirements/base.txt requirements/radiomics.txt requirements/test.txt pyproject.toml
HASH   := $(shell cat $(REQS) | sha256sum | cut -c1-16)
STAMP  := $(VENV)/.installed-$(HASH)
DEMO_N ?= 60
DEMO_OUT ?= hccrad-demo

.PHONY: install demo test clean

install: $(STAMP)

$(STAMP): $(REQS)
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet pip==26.3
	$(BIN)/python -m pip install --quiet -r requirements/base.txt
	$(BIN)/python -m pip install --quiet --no-build-isolation -r requirements/radiomics.txt
	$(BIN)/python -c "import radiomics._cmatrices, radiomics._cshape" || (echo "PyRadiomics C extensions did not build" && exit 1)
	$(BIN)/python -m pip install --quiet -r requirements/test.txt
	$(BIN)/python -m pip install --quiet --no-build-isolation --no-deps -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

demo: install
	$(BIN)/hccrad demo --n $(DEMO_N) --out $(DEMO_OUT)

test: install
	$(BIN)/python -m pytest -n 2 -q

clean:
	rm -rf $(VENV) $(DEMO_OUT)
