# Two entry points (see README): `make demo` and `make test`. Idempotent: the venv is rebuilt only when a
# requirement file or pyproject.toml changes (stamp keyed on their hash).
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
REQS   := requirements/base.txt requirements/radiomics.txt requirements/deep.txt \
          requirements/constraints-deep.txt requirements/serve.txt requirements/radiogenomics.txt \
          requirements/dask.txt requirements/test.txt requirements/nnunet.txt pyproject.toml
HASH   := $(shell cat $(REQS) | sha256sum | cut -c1-16)
STAMP  := $(VENV)/.installed-$(HASH)
# the one accepted pip-check line (requirements/nnunet.txt says why timm is not installed)
TIMM_OK := dynamic-network-architectures 0.4.4 requires timm, which is not installed.
DEMO_N ?= 60
DEMO_OUT ?= hccrad-demo

.PHONY: install browser demo test clean references

install: $(STAMP)

$(STAMP): $(REQS)
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet pip==26.3
	$(BIN)/python -m pip install --quiet -r requirements/base.txt
	$(BIN)/python -m pip install --quiet --no-build-isolation -r requirements/radiomics.txt
	$(BIN)/python -c "import radiomics._cmatrices, radiomics._cshape" || (echo "PyRadiomics C extensions did not build" && exit 1)
	$(BIN)/python -m pip install --quiet -c requirements/constraints-deep.txt -r requirements/deep.txt
	$(BIN)/python -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
	$(BIN)/python -m pip install --quiet -r requirements/serve.txt
	$(BIN)/python -m pip install --quiet -r requirements/radiogenomics.txt
	$(BIN)/python -m pip install --quiet -r requirements/dask.txt
	$(BIN)/python -m pip install --quiet -r requirements/test.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements/nnunet.txt
	$(BIN)/python -m pip install --quiet --no-build-isolation --no-deps -e .
	$(BIN)/python -m pip check > $(VENV)/pip-check.txt || true
	@if grep -v -x -e "No broken requirements found." -e "$(TIMM_OK)" $(VENV)/pip-check.txt; then \
	  echo "pip check found the problems above"; exit 1; fi
	touch $(STAMP)

demo: install
	$(BIN)/hccrad demo --n $(DEMO_N) --out $(DEMO_OUT)

# Headless Chromium + ChromeDriver for the browser tests (Debian packages; installed when missing and root).
browser:
	@{ command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	      || echo "warning: could not install chromium; the browser tests will be skipped"; \
	  else echo "warning: chromium missing and not root; the browser tests will be skipped"; fi; }

test: install browser
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -n 2 -q

clean:
	rm -rf $(VENV) $(DEMO_OUT)

# R reference numbers (statsmodels style): tests/reference/r/*.R and tests/survival/R/*.R write the committed
# CSVs under .../results that the tests read; the test suite itself never needs R. apt-get needs root: as
# another user, install R_DEBS first (sudo apt-get install -y ...), then `make references` runs the scripts.
R_DEBS := r-base-core r-cran-proc r-cran-survival r-cran-riskregression r-cran-rms r-cran-glmnet
references:
	@if dpkg -s $(R_DEBS) >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(R_DEBS) >/dev/null; \
	else echo "missing Debian packages and not root: run 'sudo apt-get install -y $(R_DEBS)'"; exit 1; fi
	@for f in tests/reference/r/*.R tests/survival/R/*.R; do echo "Rscript $$f"; Rscript "$$f" || exit 1; done

# Python reference implementations (not hccrad dependencies), installed into a throwaway folder:
# dcurves 1.1.7 for the survival and case-control decision curves (tests/reference/python/results/).
.PHONY: references-python
references-python: $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps --target /tmp/hccrad_dcurves_ref dcurves==1.1.7
	PYTHONPATH=/tmp/hccrad_dcurves_ref $(BIN)/python tests/reference/python/dcurves_reference.py
