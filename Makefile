# The two commands of the README's Quick start. Both install what they need first.
SHELL := /bin/bash
export HF_HUB_OFFLINE := 1
export SEEKFORGE_DATA_DIR ?= $(CURDIR)/data
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: setup demo test

setup:
	@./scripts/setup.sh

# (a) install, then run the main job (data, training, evaluation) on the embedded defaults (offline mini-web).
demo: setup
	@mkdir -p "$(DAGSTER_HOME)" "$(SEEKFORGE_DATA_DIR)"
	.venv/bin/dagster job execute -m pipelines.definitions -j full_job -c pipelines/configs/demo.yaml -c pipelines/configs/demo_train.yaml

# (b) install, then run the test suite.
test: setup
	@mkdir -p "$(DAGSTER_HOME)"
	.venv/bin/python -m pytest -q
