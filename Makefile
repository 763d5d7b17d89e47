# The two commands of the README's Quick start. Both install what they need first.
SHELL := /bin/bash
export HF_HUB_OFFLINE := 1
export SEEKFORGE_DATA_DIR ?= $(CURDIR)/data
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: setup demo test

setup:
	@./scripts/setup.sh

# (a) install, then run the main job (data, training, evaluation) on the embedded defaults (offline mini-web),
# with the Atom-Searcher recipe.
demo: setup
	@mkdir -p "$(DAGSTER_HOME)" "$(SEEKFORGE_DATA_DIR)"
	.venv/bin/dagster job execute -m pipelines.definitions -j full_job -c pipelines/configs/demo.yaml \
		-c pipelines/configs/recipes/atom_searcher.yaml -c pipelines/configs/demo_train.yaml

# (b) install, then lint (ruff), type-check (mypy) and run the test suite; config in pyproject.toml.
test: setup
	@mkdir -p "$(DAGSTER_HOME)"
	.venv/bin/ruff check .
	.venv/bin/mypy
	.venv/bin/python -m pytest -q
