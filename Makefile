# One entry point for people and CI. `make run` and `make test` install what they need first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Portable llama.cpp build (no -march=native), so a cached wheel runs on any x86-64 machine.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF
export HF_HUB_OFFLINE := 1

.PHONY: install run test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python
	./scripts/system-deps.sh
	$(BIN)/pip install -q -e '.[local,dev]'

run: install
	$(BIN)/voiceagent run agents/support.yaml

test: install
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache
