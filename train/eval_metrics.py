"""Benchmark scores of a search agent: per question, per benchmark, overall; and how the agent behaved.

Why this exists: users compare agents on NQ, TriviaQA, PopQA, HotpotQA, 2Wiki, MuSiQue and
Bamboogle with a handful of standard numbers, and those numbers are only comparable when they
are computed the way the papers compute them. What is reported, and how:

``em`` / ``f1``
    The official HotpotQA rules (:mod:`filters.metrics`, checked against the official script),
    best over the gold answer and its aliases. ``variant="deepresearcher"`` selects
    DeepResearcher's token-set F1 instead.
``cover_em``
    Search-R1 / ASearcher's "the gold answer occurs in the prediction as whole tokens"
    (:func:`filters.metrics.cover_em`), best over aliases. It suits agents that answer in
    sentences, where EM is 0 for a right answer.
``pass@k``
    With ``n`` samples per question of which ``c`` are correct, the unbiased estimator
    ``1 - C(n-c, k) / C(n, k)`` (the probability that k samples drawn without replacement
    hold a correct one), averaged over questions; ``pass@1`` is then the mean correctness of
    all samples. "Correct" is the ``criterion``: ``em`` (default), ``cover_em`` or ``judge``.
``judge_acc``
    The LLM judge's share of "yes" among the samples it gave a verdict on
    (:mod:`train.eval_judge`, whose prompt id every judged row records). Samples without a
    verdict (an LLM error) are ``judge_missing``: never counted as right or wrong. Under the
    ``judge`` criterion a question with a missing verdict has no pass@k; it is left out of
    the pass@k means and counted in ``pass_undefined``.
``answer_rate`` / ``format_valid``
    Shares of samples that ended with a non-empty answer, and whose every assistant turn
    followed the protocol (:func:`train.rewards.check_format`); ``format_valid`` is ``None``
    for scores made from bare predictions (no trajectory to check).

Averaging: a question's EM / F1 / cover-EM / answer rate / format validity is the mean over
its samples (one sample: its score); a benchmark's is the mean over its questions, every
question weighing the same, so a missing prediction scores 0 and counts, as in the official
evaluation. The ``overall`` row of :func:`aggregate` is the micro average: the mean over all
questions of all benchmarks (a big benchmark weighs more than Bamboogle's 125 questions).
Judge counts are pooled over samples.

Entry points: :func:`score_run` (one benchmark's records and one run's trajectories -> one
:class:`QuestionResult` per question), :func:`score_predictions` (bare predictions),
:func:`aggregate` (the table), :func:`behaviour` (how the run behaved).

Behaviour (:func:`behaviour`) is per run: response tokens, thinking tokens, tool calls and
turns per trajectory, as mean / p50 / p90 / max and the raw values for histograms. The unit
is named in the output: response tokens are the ``usage`` the server reported when every
step has it, else counted by the tokenizer given, else whitespace ``words``; thinking tokens
are always counted (servers report one completion total, not the thinking part).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

import numpy as np

from distill.agent.trajectory import Trajectory
from filters.metrics import Metric, best_em, best_f1, cover_em
from train.agent_eval import assistant_turns
from train.benchmarks import BenchmarkRecord
from train.rewards import AGENT_TOOLS, check_format

log = logging.getLogger(__name__)

__all__ = ["CRITERIA", "WORDS", "Behaviour", "Criterion", "Distribution", "QuestionResult", "TokenCounter",
           "aggregate", "behaviour", "best_cover_em", "group_by_question", "pass_at_k", "run_predictions",
           "score_predictions", "score_run", "score_trajectories", "tokenizer_counter", "trajectory_prediction"]

Criterion = Literal["em", "cover_em", "judge"]
#: What makes a sample correct for pass@k.
CRITERIA: Final[tuple[str, ...]] = get_args(Criterion)
#: Defaults (declared once): the official HotpotQA rules, EM as the pass@k criterion, pass@1.
VARIANT: Final[Metric] = "hotpotqa"
CRITERION: Final[Criterion] = "em"
KS: Final[tuple[int, ...]] = (1,)
#: Name of the micro-average row of :func:`aggregate`.
OVERALL: Final = "overall"


# ---------------------------------------------------------------------------
# One question
# ---------------------------------------------------------------------------


def best_cover_em(prediction: str, answers: Sequence[str]) -> float:
    """cover-EM, best over the gold answer and its aliases (0.0 for no aliases)."""
    if isinstance(answers, str):
        raise TypeError("answers must be a list of answers, not one string")
    return max((cover_em(prediction, a) for a in answers), default=0.0)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from ``n`` samples with ``c`` correct: ``1 - C(n-c, k) / C(n, k)``.

    >>> pass_at_k(5, 0, 1), pass_at_k(5, 2, 1), pass_at_k(5, 4, 2)
    (0.0, 0.4, 1.0)
    """
    if not 1 <= k <= n:
        raise ValueError(f"pass@{k} needs 1 <= k <= n samples (n = {n})")
    if not 0 <= c <= n:
        raise ValueError(f"correct samples {c} outside 0..{n}")
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)  # exact integers; one correctly rounded division


@dataclass(frozen=True, slots=True)
class QuestionResult:
    """One question's scores over its samples (module docstring).

    ``correct``: samples correct under ``criterion`` (``None``: undefined, a judge verdict is
    missing). ``judge_*``: samples the judge said yes / no to, or gave no verdict on;
    ``judge_prompt`` is ``""`` when the question was not judged.
    """

    id: str
    samples: int
    em: float
    f1: float
    cover_em: float
    answered: float
    correct: int | None
    criterion: str
    valid_format: float | None = None
    judge_yes: int = 0
    judge_no: int = 0
    judge_missing: int = 0
    judge_prompt: str = ""

    def pass_at(self, k: int) -> float | None:
        """Unbiased pass@k (:func:`pass_at_k`), ``None`` when ``correct`` is undefined."""
        if k > self.samples:
            raise ValueError(f"pass@{k} needs at least {k} samples; question {self.id!r} has {self.samples}")
        return None if self.correct is None else pass_at_k(self.samples, self.correct, k)


def score_predictions(record: BenchmarkRecord, predictions: Sequence[str | None], *, variant: Metric = VARIANT,
                      criterion: Criterion = CRITERION, verdicts: Sequence[bool | None] | None = None,
                      judge_prompt: str = "", valid_format: Sequence[bool] | None = None) -> QuestionResult:
    """Score one question's samples. ``predictions``: one answer per sample, ``None`` or blank when
    the sample gave none (it scores 0). ``verdicts``: the judge's per sample
    (:func:`train.eval_judge.judge_runs`), with the ``judge_prompt`` id they came from.
    ``valid_format``: per sample, when the samples are trajectories (:func:`score_trajectories`)."""
    if isinstance(predictions, str):
        raise TypeError("predictions must be a list (one per sample), not one string")
    n = len(predictions)
    if n == 0:
        raise ValueError(f"question {record.id!r}: no samples to score")
    if criterion not in CRITERIA:
        raise ValueError(f"unknown criterion {criterion!r}; choose one of {', '.join(CRITERIA)}")
    for name, per_sample in (("verdicts", verdicts), ("valid_format", valid_format)):
        if per_sample is not None and len(per_sample) != n:
            raise ValueError(f"question {record.id!r}: {len(per_sample)} {name} for {n} samples")
    if verdicts is not None and not judge_prompt:
        raise ValueError("verdicts need the judge_prompt id they were made with (train.eval_judge.judge_prompt_id)")
    if criterion == "judge" and verdicts is None:
        raise ValueError("the judge criterion needs verdicts")

    texts = [p if p is not None and p.strip() else "" for p in predictions]
    ems = [best_em(t, record.answers, variant=variant) if t else 0.0 for t in texts]
    covers = [best_cover_em(t, record.answers) if t else 0.0 for t in texts]
    f1s = [best_f1(t, record.answers, variant=variant) if t else 0.0 for t in texts]
    yes = sum(v is True for v in verdicts or ())
    no = sum(v is False for v in verdicts or ())
    missing = sum(v is None for v in verdicts or ())
    correct: int | None
    if criterion == "judge":
        correct = None if missing else yes
    else:
        correct = sum(s == 1.0 for s in (ems if criterion == "em" else covers))
    return QuestionResult(
        id=record.id, samples=n, em=_mean(ems), f1=_mean(f1s), cover_em=_mean(covers),
        answered=_mean([float(bool(t)) for t in texts]), correct=correct, criterion=criterion,
        valid_format=None if valid_format is None else _mean([float(v) for v in valid_format]),
        judge_yes=yes, judge_no=no, judge_missing=missing, judge_prompt=judge_prompt if verdicts is not None else "")


def trajectory_prediction(t: Trajectory) -> str | None:
    """The answer a rollout gave: its final answer when it finished by answering, else ``None``."""
    return t.final_answer if t.finish_reason == "answer" and t.final_answer.strip() else None


def score_trajectories(record: BenchmarkRecord, trajectories: Sequence[Trajectory], *,
                       tool_names: Iterable[str] = AGENT_TOOLS, variant: Metric = VARIANT,
                       criterion: Criterion = CRITERION, verdicts: Sequence[bool | None] | None = None,
                       judge_prompt: str = "") -> QuestionResult:
    """:func:`score_predictions` over one question's rollouts, with their format validity.

    Gold answers come from ``record``, not from the trajectories; a trajectory of another
    question is an error (a mixed-up grouping would score against the wrong gold answer).
    """
    wrong = [t.question_id for t in trajectories if t.question_id != record.id]
    if wrong:
        raise ValueError(f"question {record.id!r}: trajectories of other questions ({', '.join(sorted(set(wrong)))})")
    tools = frozenset(tool_names)
    return score_predictions(record, [trajectory_prediction(t) for t in trajectories], variant=variant,
                             criterion=criterion, verdicts=verdicts, judge_prompt=judge_prompt,
                             valid_format=[check_format(assistant_turns(t), tools).valid for t in trajectories])


def group_by_question(records: Sequence[BenchmarkRecord],
                      trajectories: Iterable[Trajectory]) -> dict[str, list[Trajectory]]:
    """Each record's rollouts in sample order (``sample_index``, then ``seed``), ``[]`` for a record
    without any; a rollout of a question not in ``records`` is an error (wrong benchmark file?)."""
    groups: dict[str, list[Trajectory]] = {r.id: [] for r in records}
    unknown: set[str] = set()
    for t in trajectories:
        if t.question_id in groups:
            groups[t.question_id].append(t)
        else:
            unknown.add(t.question_id)
    if unknown:
        shown = ", ".join(sorted(unknown)[:5])
        raise ValueError(f"{len(unknown)} trajectory question ids are not in the benchmark ({shown})")
    for group in groups.values():
        group.sort(key=lambda t: (t.sample_index, t.seed))
    return groups


def run_predictions(records: Sequence[BenchmarkRecord],
                    trajectories: Iterable[Trajectory]) -> list[tuple[BenchmarkRecord, list[str | None]]]:
    """``(record, predictions)`` per record in :func:`group_by_question`'s order, ``[None]`` for a record
    without rollouts: the input of :func:`train.eval_judge.judge_runs`, aligned with :func:`score_run`."""
    groups = group_by_question(records, trajectories)
    return [(r, [trajectory_prediction(t) for t in groups[r.id]] or [None]) for r in records]


def score_run(records: Sequence[BenchmarkRecord], trajectories: Iterable[Trajectory], *,
              tool_names: Iterable[str] = AGENT_TOOLS, variant: Metric = VARIANT, criterion: Criterion = CRITERION,
              verdicts: Mapping[str, Sequence[bool | None]] | None = None,
              judge_prompt: str = "") -> list[QuestionResult]:
    """One benchmark's results from one run's rollouts, one :class:`QuestionResult` per record.

    A record without rollouts (the run crashed on it) is one sample with no answer and an
    invalid format: it scores 0 and counts, as a missing prediction does in the official
    evaluation, and a warning says how many. ``verdicts``: per question id, in the order of
    :func:`run_predictions` (``dict(zip(ids, await judge_runs(client, run_predictions(...))))``).
    """
    tools = tuple(tool_names)
    groups = group_by_question(records, trajectories)
    missing = [r.id for r in records if not groups[r.id]]
    if missing:
        log.warning("%d of %d questions have no rollout; scored as unanswered (%s)", len(missing), len(records),
                    ", ".join(missing[:5]))
    out: list[QuestionResult] = []
    for record in records:
        per_sample = None
        if verdicts is not None:
            if record.id not in verdicts:
                raise ValueError(f"question {record.id!r}: no judge verdicts")
            per_sample = verdicts[record.id]
        if groups[record.id]:
            out.append(score_trajectories(record, groups[record.id], tool_names=tools, variant=variant,
                                          criterion=criterion, verdicts=per_sample, judge_prompt=judge_prompt))
        else:
            out.append(score_predictions(record, [None], variant=variant, criterion=criterion, verdicts=per_sample,
                                         judge_prompt=judge_prompt, valid_format=[False]))
    return out


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


# ---------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------


def aggregate(results: Mapping[str, Sequence[QuestionResult]], *, ks: Sequence[int] = KS) -> list[dict[str, Any]]:
    """One row per benchmark, then the ``overall`` micro average over all their questions.

    Rows are plain dicts with the same keys (``pl.DataFrame(rows)`` or a CSV writer take them):
    ``benchmark, questions, samples, criterion, em, f1, cover_em, answer_rate, format_valid,
    pass@<k>..., pass_undefined, judge_acc, judge_judged, judge_missing, judge_prompt``. Shares
    are fractions in [0, 1], not rounded; ``None`` where a value does not exist (no questions,
    no trajectories, not judged). Raises ``ValueError`` when k exceeds a question's samples,
    or when questions mix criteria or judge prompts (their numbers would not be one measure).
    """
    if OVERALL in results:
        raise ValueError(f"{OVERALL!r} is the name of the micro-average row, not a benchmark")
    rows = [_row(name, list(qs), ks) for name, qs in results.items()]
    rows.append(_row(OVERALL, [q for qs in results.values() for q in qs], ks))
    return rows


def _row(name: str, qs: Sequence[QuestionResult], ks: Sequence[int]) -> dict[str, Any]:
    criteria = {q.criterion for q in qs}
    if len(criteria) > 1:
        raise ValueError(f"{name}: questions scored under different criteria ({', '.join(sorted(criteria))})")
    prompts = {q.judge_prompt for q in qs}
    if len(prompts) > 1:
        raise ValueError(f"{name}: questions judged with different prompts or not at all ({sorted(prompts)})")
    judged = bool(qs) and bool(qs[0].judge_prompt)

    def mean(values: Sequence[float]) -> float | None:
        return _mean(values) if values else None

    formats = [q.valid_format for q in qs]
    row: dict[str, Any] = {
        "benchmark": name,
        "questions": len(qs),
        "samples": sum(q.samples for q in qs),
        "criterion": next(iter(criteria), None),
        "em": mean([q.em for q in qs]),
        "f1": mean([q.f1 for q in qs]),
        "cover_em": mean([q.cover_em for q in qs]),
        "answer_rate": mean([q.answered for q in qs]),
        # All or nothing: a share over the questions that happen to have trajectories would mislead.
        "format_valid": mean([f for f in formats if f is not None]) if None not in formats else None,
    }
    for k in ks:
        values = [q.pass_at(k) for q in qs]  # raises for k above a question's samples, defined or not
        row[f"pass@{k}"] = mean([v for v in values if v is not None])
    row["pass_undefined"] = sum(q.correct is None for q in qs)
    yes, no = sum(q.judge_yes for q in qs), sum(q.judge_no for q in qs)
    row["judge_acc"] = yes / (yes + no) if judged and yes + no else None
    row["judge_judged"] = yes + no if judged else None
    row["judge_missing"] = sum(q.judge_missing for q in qs) if judged else None
    row["judge_prompt"] = qs[0].judge_prompt if judged else None
    return row


# ---------------------------------------------------------------------------
# Behaviour
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenCounter:
    """How text is counted when the server's usage is not there; ``unit`` names it in the output."""

    unit: str
    count: Callable[[str], int]


#: The fallback counter: whitespace-separated words.
WORDS: Final = TokenCounter("words", lambda text: len(text.split()))


def tokenizer_counter(tokenizer: Any, name: str | None = None) -> TokenCounter:
    """A counter from a Hugging Face tokenizer (anything with ``encode(text, add_special_tokens=False)``);
    unit ``tokens:<name>`` (default: the tokenizer's ``name_or_path``)."""
    label = name or getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__
    return TokenCounter(f"tokens:{label}", lambda text: len(tokenizer.encode(text, add_special_tokens=False)))


@dataclass(frozen=True, slots=True)
class Distribution:
    """Per-trajectory values of one quantity; percentiles interpolate linearly (NumPy's default)."""

    values: tuple[float, ...]

    def summary(self) -> dict[str, float | None]:
        """``{"mean", "p50", "p90", "max"}`` (``None`` each for no values)."""
        if not self.values:
            return {"mean": None, "p50": None, "p90": None, "max": None}
        arr = np.asarray(self.values, dtype=np.float64)
        return {"mean": float(arr.mean()), "p50": float(np.percentile(arr, 50)),
                "p90": float(np.percentile(arr, 90)), "max": float(arr.max())}


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How a run behaved, per trajectory (module docstring: units)."""

    trajectories: int
    response_unit: str  # "usage" (server-reported completion tokens) or the counter's unit
    thinking_unit: str
    response_tokens: Distribution
    thinking_tokens: Distribution
    tool_calls: Distribution
    turns: Distribution

    def row(self) -> dict[str, Any]:
        """One flat dict: ``trajectories``, the two units, and ``<quantity>_<mean|p50|p90|max>``."""
        out: dict[str, Any] = {"trajectories": self.trajectories, "response_unit": self.response_unit,
                               "thinking_unit": self.thinking_unit}
        for name, dist in self.distributions().items():
            out.update({f"{name}_{stat}": value for stat, value in dist.summary().items()})
        return out

    def distributions(self) -> dict[str, Distribution]:
        """The four quantities by name, for histograms (``dist.values``)."""
        return {"response_tokens": self.response_tokens, "thinking_tokens": self.thinking_tokens,
                "tool_calls": self.tool_calls, "turns": self.turns}


def behaviour(trajectories: Sequence[Trajectory], counter: TokenCounter | None = None) -> Behaviour:
    """Response / thinking tokens, tool calls (calls of a tool that ran; refused calls are invalid
    turns) and turns (assistant turns) per trajectory.

    Response tokens are the recorded usage when *every* step of *every* trajectory has it, so
    one run is never reported in two units; otherwise ``counter`` (default :data:`WORDS`) over
    the assistant turns' text. Thinking tokens: ``counter`` over each step's thought.
    """
    counter = counter or WORDS
    steps = [s for t in trajectories for s in t.steps]
    usage = bool(steps) and all(s.completion_tokens > 0 for s in steps)
    if usage:
        response = [float(sum(s.completion_tokens for s in t.steps)) for t in trajectories]
    else:
        response = [float(sum(counter.count(text) for text in assistant_turns(t))) for t in trajectories]
    return Behaviour(
        trajectories=len(trajectories),
        response_unit="usage" if usage else counter.unit,
        thinking_unit=counter.unit,
        response_tokens=Distribution(tuple(response)),
        thinking_tokens=Distribution(tuple(float(sum(counter.count(s.think) for s in t.steps)) for t in trajectories)),
        tool_calls=Distribution(tuple(float(sum(t.tool_call_counts().values())) for t in trajectories)),
        turns=Distribution(tuple(float(len(t.steps)) for t in trajectories)),
    )
