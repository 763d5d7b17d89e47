"""Rewards for RL on agent rollouts: format, outcome F1, the atomic-thought reward, their blends.

Atom-Searcher (REFERENCE §5): R = -1 when the rollout breaks the format, otherwise
``alpha_T * ATR + (1 - alpha_T) * F1`` with ``alpha_T = alpha_0 * (1 - T / T_max)``: early in
training the process reward (the RRM's grades of the atomic thoughts) guides exploration,
later the outcome decides. WebDancer's alternative is ``0.1 * format + 0.9 * judge``.

Everything here is a pure function of text and numbers so the trainer's reward callables
stay thin and the arithmetic is unit-tested on its own. Where the RRM gave no usable grade
(ATR ``None``), the blend falls back to F1 alone instead of inventing a process score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from distill.agent.protocol import parse_turn
from filters.metrics import Metric, best_f1
from filters.rules import tag_problem


Aggregation = Literal["mean", "min", "late_weighted"]


@dataclass(frozen=True, slots=True)
class FormatVerdict:
    valid: bool
    reason: str = ""  # first problem found; "" when valid
    answer: str = ""  # the final <answer> text when valid


def check_format(assistant_turns: Sequence[str], tool_names: frozenset[str] | set[str]) -> FormatVerdict:
    """Whether a rollout's assistant turns follow the protocol: per turn, balanced and ordered
    tags (``<think>`` first, then exactly one action), valid tool-call JSON naming a known tool,
    no self-written ``<tool_response>``; tool calls on every turn but the last, which answers."""
    if not assistant_turns:
        return FormatVerdict(False, "no_turns")
    for i, text in enumerate(assistant_turns):
        problem = tag_problem(text)
        if problem:
            return FormatVerdict(False, f"turn{i}:{problem}")
        turn = parse_turn(text, frozenset(tool_names))
        if turn.invalid_reason:
            return FormatVerdict(False, f"turn{i}:{turn.invalid_reason}")
        last = i == len(assistant_turns) - 1
        if turn.action == "answer" and not last:
            return FormatVerdict(False, f"turn{i}:answer_before_end")
        if last and turn.action != "answer":
            return FormatVerdict(False, "no_answer")
        if last:
            return FormatVerdict(True, "", turn.answer.strip())
    return FormatVerdict(False, "no_answer")  # unreachable; keeps type checkers content


def outcome_f1(answer: str, reference: str, aliases: Sequence[str] = (), *, metric: Metric = "deepresearcher") -> float:
    """Word F1 of the answer against the reference, max over aliases (DeepResearcher's reward by default)."""
    golds = [g for g in (reference, *aliases) if g]
    return best_f1(answer, golds, variant=metric) if golds and answer else 0.0


def aggregate_atr(scores: Sequence[float | None], how: Aggregation = "mean") -> float | None:
    """One process reward from per-thought grades; ungraded thoughts are skipped.
    ``late_weighted`` weights thought i by i+1 (later thoughts carry the conclusion)."""
    graded = [s for s in scores if s is not None]
    if not graded:
        return None
    if how == "mean":
        return sum(graded) / len(graded)
    if how == "min":
        return min(graded)
    if how == "late_weighted":
        weights = range(1, len(graded) + 1)
        return sum(w * s for w, s in zip(weights, graded, strict=True)) / sum(weights)
    raise ValueError(f"unknown ATR aggregation {how!r}; use mean, min or late_weighted")


def curriculum_alpha(step: int, max_steps: int, alpha0: float = 0.5) -> float:
    """alpha_T = alpha_0 * (1 - T / T_max), clipped to [0, alpha_0]."""
    if max_steps <= 0:
        raise ValueError("max_steps must be positive")
    return alpha0 * min(1.0, max(0.0, 1.0 - step / max_steps))


def atom_searcher_reward(valid: bool, f1: float, atr: float | None, alpha: float) -> float:
    if not valid:
        return -1.0
    if atr is None:
        return f1
    return alpha * atr + (1.0 - alpha) * f1


def webdancer_reward(valid: bool, correct: bool) -> float:
    return 0.1 * float(valid) + 0.9 * float(correct)
