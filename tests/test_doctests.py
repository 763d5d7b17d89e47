"""The examples in docstrings are part of the contract: run them (``pytest --doctest-modules``
on these modules does the same; the suite's ``testpaths`` only collects ``tests/``)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "train.rewards",  # TRL reward functions come with doctests (STYLE.md)
    "distill.agent.protocol",
    "train.report",
    "train.eval_metrics",  # pass@k
    "train.dynamic_sampling",  # the arithmetic of DAPO dynamic sampling on TRL batches
    "distill.gates",  # what counts as right in the gates
    "train.sft_select",  # which kept rollouts of a question reach SFT
    "train.rl_data",  # path entities of a QA pair
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0, result
