"""Which of a question's kept rollouts reach SFT: all of them, or the most efficient one.

Why: among correct rollouts of one question, those that reach the answer with fewer tool
calls teach better (DeepDive: fine-tuning on the fewest-tool-call answer out of 8 samples
doubled accuracy); a long detour that happens to end right teaches the detour. ``all``
keeps every kept rollout (the filters' decision alone); ``fewest_tool_calls`` and
``shortest`` keep exactly one per question and count the others as
:data:`crawl.drop_reasons.NOT_SELECTED`.

Ranking (deterministic, so reruns build the same dataset): a correct rollout before one
that is not (with enforced correctness every kept rollout is correct; with correctness
only recorded, DEMO ONLY, a wrong one is picked only when its question has no correct
one), then the rule's measure, then the other measure, then the trajectory id. Tokens are
the completion tokens the rollout recorded (imported trajectories record none, 0, so
among them ``shortest`` comes down to fewer tool calls).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal, get_args

from distill.agent.trajectory import Trajectory

Selection = Literal["all", "fewest_tool_calls", "shortest"]
SELECTIONS: Final[tuple[str, ...]] = get_args(Selection)
DEFAULT_SELECTION: Final[Selection] = "all"

#: The rule in words, for the dataset card and metadata.
SELECTION_RULES: Final[dict[str, str]] = {
    "all": "every kept rollout of each question (the filters' decision alone).",
    "fewest_tool_calls": "one rollout per question: of its kept rollouts, a correct one with the fewest tool calls "
                         "(ties: fewer completion tokens, then the lower trajectory id); the others are counted as "
                         "`not_selected`.",
    "shortest": "one rollout per question: of its kept rollouts, a correct one with the fewest completion tokens "
                "(ties: fewer tool calls, then the lower trajectory id); the others are counted as `not_selected`.",
}


def tool_calls(t: Trajectory) -> int:
    """Tool calls the rollout made (the ``tool_calls`` column of a trajectory row)."""
    return sum(t.tool_call_counts().values())


def completion_tokens(t: Trajectory) -> int:
    """Tokens the model wrote over the rollout (the ``completion_tokens`` column)."""
    return sum(s.completion_tokens for s in t.steps)


def rank_key(t: Trajectory, select: Selection, correct: bool = True) -> tuple[bool, int, int, str]:
    """Smaller is better: not-correct last, then the rule's measure, the other measure, the id.

    >>> from distill.agent.trajectory import Step
    >>> t = Trajectory("q", "?", steps=[Step(0, action="search", completion_tokens=40), Step(1, action="answer")])
    >>> rank_key(t, "fewest_tool_calls")[:3], rank_key(t, "shortest")[:3]
    ((False, 1, 40), (False, 40, 1))
    """
    calls, tokens = tool_calls(t), completion_tokens(t)
    if select == "fewest_tool_calls":
        return (not correct, calls, tokens, t.id)
    if select == "shortest":
        return (not correct, tokens, calls, t.id)
    raise ValueError(f"rank_key: {select!r} does not rank; use one of {', '.join(SELECTIONS[1:])}")


def select_rollouts(trajs: Sequence[Trajectory], select: Selection,
                    correct: Mapping[str, bool | None] | None = None) -> list[Trajectory]:
    """The rollouts that reach SFT, in input order.

    ``all`` returns every rollout; the other rules one per ``question_id``, the best by
    :func:`rank_key`. ``correct`` maps trajectory id to its verdict (missing or None: not
    correct); without it every rollout counts as correct.
    """
    if select not in SELECTIONS:
        raise ValueError(f"unknown selection {select!r}; use one of {', '.join(SELECTIONS)}")
    if select == "all":
        return list(trajs)
    best: dict[str, tuple[tuple[bool, int, int, str], int]] = {}
    for i, t in enumerate(trajs):
        ok = True if correct is None else bool(correct.get(t.id))
        key = rank_key(t, select, ok)
        if t.question_id not in best or key < best[t.question_id][0]:
            best[t.question_id] = (key, i)
    chosen = {i for _, i in best.values()}
    return [t for i, t in enumerate(trajs) if i in chosen]


@dataclass(frozen=True, slots=True)
class EffortStats:
    """Mean effort of a set of rollouts: what the card and metadata compare (selected vs all kept)."""

    rollouts: int
    questions: int
    mean_tool_calls: float
    mean_completion_tokens: float
    mean_prompt_tokens: float

    def row(self, label: str) -> dict[str, object]:
        return {"rollouts": label, "count": self.rollouts, "questions": self.questions,
                "mean_tool_calls": self.mean_tool_calls, "mean_completion_tokens": self.mean_completion_tokens,
                "mean_prompt_tokens": self.mean_prompt_tokens}


def effort_stats(trajs: Iterable[Trajectory]) -> EffortStats:
    """Counts and mean tool calls / tokens (rounded to 2 places; 0 for no rollouts)."""
    ts = list(trajs)
    n = len(ts)

    def mean(values: Iterable[int]) -> float:
        return round(sum(values) / n, 2) if n else 0.0

    return EffortStats(rollouts=n, questions=len({t.question_id for t in ts}),
                       mean_tool_calls=mean(tool_calls(t) for t in ts),
                       mean_completion_tokens=mean(completion_tokens(t) for t in ts),
                       mean_prompt_tokens=mean(sum(s.prompt_tokens for s in t.steps) for t in ts))
