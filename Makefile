# One entry point for people and CI. `make run` and `make test` install what they need first.
# Installs come from requirements.lock (every dependency pinned), so a new machine gets exactly
# what CI tested; pyproject.toml keeps the ranges users install with. `make lock` re-resolves
# after a pyproject change (keeping pins where possible), `make upgrade` moves every pin forward.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Portable llama.cpp build (no -march=native), so a cached wheel runs on any x86-64 machine.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF
export HF_HUB_OFFLINE := 1
LOCK_ARGS := pyproject.toml --extra local --extra dev --extra device --python-version 3.11 \
             --python-platform x86_64-unknown-linux-gnu -o requirements.lock -q

.PHONY: install run test lint typecheck check lock upgrade bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python
	./scripts/system-deps.sh
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .

run: install
	$(BIN)/voiceagent run agents/support.yaml

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

check: lint typecheck test

lock: install
	$(BIN)/uv pip compile $(LOCK_ARGS)

upgrade: install
	$(BIN)/uv pip compile --upgrade $(LOCK_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
