"""LLM-judge accuracy on benchmarks: a fixed, versioned prompt over the data pipeline's judge machinery.

Why a prompt of its own: the ``answer_judge`` prompt decides which *training* trajectories
are kept, and its wording is tuned with the data; a benchmark number must mean the same
thing across months of runs, so the evaluation judge (DeepResearcher style: does the
prediction state the gold answer or one of its aliases, in meaning; yes / no) lives in
``distill/prompts/eval_judge.{system,user}.j2`` under an explicit version. The request, its
caching and the verdict parsing are :func:`distill.answer_judge.judge_answers`: one code path
for every judge call.

The version rule: :data:`EVAL_JUDGE_VERSION` names the wording whose content hash is
:data:`EVAL_JUDGE_SHA`. :func:`judge_prompt_id` refuses to run when the template files no
longer hash to it, so an edited prompt cannot report under the old version: bump both.
Results record :func:`judge_prompt_id` (``eval_judge@v1:<hash>``).

Verdicts: ``True`` / ``False``, or ``None`` when the judge gave none (LLM error, malformed
reply). ``None`` is counted apart by :mod:`train.eval_metrics`, never as right or wrong. An
empty prediction is ``False`` without a request (nothing was answered).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from distill.answer_judge import JudgeItem, judge_answers
from distill.llm.client import LLMClient
from distill.prompt import load_prompt
from train.benchmarks import BenchmarkRecord

__all__ = ["EVAL_JUDGE_PROMPT", "EVAL_JUDGE_SHA", "EVAL_JUDGE_VERSION", "judge_items", "judge_prompt_id",
           "judge_runs"]

EVAL_JUDGE_PROMPT: Final = "eval_judge"
EVAL_JUDGE_VERSION: Final = "v1"
#: ``load_prompt("eval_judge").version`` of the v1 wording.
EVAL_JUDGE_SHA: Final = "2d427af13bb6"


def judge_prompt_id() -> str:
    """``eval_judge@<version>:<hash>``, for results; raises when the template changed without a new version."""
    version = load_prompt(EVAL_JUDGE_PROMPT).version
    if version != EVAL_JUDGE_SHA:
        raise RuntimeError(f"the {EVAL_JUDGE_PROMPT} prompt templates hash to {version}, not {EVAL_JUDGE_SHA} "
                           f"({EVAL_JUDGE_VERSION}): set a new EVAL_JUDGE_VERSION and EVAL_JUDGE_SHA in "
                           f"train/eval_judge.py, results judged by different wordings are not comparable")
    return f"{EVAL_JUDGE_PROMPT}@{EVAL_JUDGE_VERSION}:{version}"


def judge_items(record: BenchmarkRecord, predictions: Sequence[str | None]) -> list[JudgeItem]:
    """One judge item per sample (id ``<record id>#<sample>``); gold answer and aliases from the record."""
    return [JudgeItem(f"{record.id}#{i}", record.question, record.answers[0], record.answers[1:], p or "")
            for i, p in enumerate(predictions)]


async def judge_runs(client: LLMClient, runs: Sequence[tuple[BenchmarkRecord, Sequence[str | None]]], *,
                     role: str = "judge") -> list[list[bool | None]]:
    """Verdicts per sample for each ``(record, predictions)``, in order, in one batch (identical
    question / answer pairs are asked once). Pass the result to :func:`train.eval_metrics.score_predictions`
    with ``judge_prompt=judge_prompt_id()``."""
    judge_prompt_id()  # fail before any request when the prompt is not the versioned one
    items = [judge_items(record, preds) for record, preds in runs]
    verdicts = await judge_answers(client, [i for group in items for i in group], role=role,
                                   prompt=EVAL_JUDGE_PROMPT)
    out: list[list[bool | None]] = []
    at = 0
    for group in items:
        out.append([v.correct for v in verdicts[at:at + len(group)]])
        at += len(group)
    return out
