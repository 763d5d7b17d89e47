"""Majority voting over the K rollouts of a question (Atom-Searcher's SFT data filter).

A rollout is kept by this stage when its answer agrees with the strict majority of its
question's answers and (when required) that majority agrees with the reference: a lucky
correct answer among wrong ones is noise, and a confident wrong majority is not taught.

Grouping is by (question_id, style): styles are different teachers or prompts, and one
style's agreement says nothing about another's. Answers are clustered by what they state
(:func:`filters.answer_span.answer_key`: the bold / quoted / copula span of a sentence answer,
a leading yes / no, else the whole text) in its normalised form, so "The Eiffel Tower." and
"It is the **Eiffel Tower**, built ..." vote together; no fuzzier merging, since "1887" and
"1889" must not agree. The majority agrees with the reference by the same rule correctness
uses (:func:`filters.answer_span.answer_correct`: cover-EM of the span, or F1).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from crawl.drop_reasons import MAJORITY_DISAGREES_REFERENCE, MINORITY_ANSWER
from distill.agent.trajectory import Trajectory
from filters.answer_span import answer_correct, answer_key
from filters.metrics import Metric, normalize_answer, normalize_deepresearcher


@dataclass(frozen=True, slots=True)
class VoteSettings:
    min_share: float = 0.5  # the majority answer needs a share strictly above this
    require_reference: bool = True  # the majority must also match the reference (answer_correct)
    reference_f1: float = 0.8
    metric: Metric = "hotpotqa"


@dataclass(frozen=True, slots=True)
class Vote:
    share: float  # share of the group's voters that gave this rollout's answer (0 when it did not vote)
    majority_answer: str  # normalised; "" when there is no strict majority
    agrees_majority: bool
    agrees_reference: bool | None  # None when there is no reference or no majority

    def reasons(self, settings: VoteSettings) -> list[str]:
        if not self.agrees_majority:
            return [MINORITY_ANSWER]
        if settings.require_reference and self.agrees_reference is False:
            return [MAJORITY_DISAGREES_REFERENCE]
        return []


def _norm(answer: str, metric: Metric) -> str:
    return normalize_deepresearcher(answer) if metric == "deepresearcher" else normalize_answer(answer)


def majority_vote(trajs: Sequence[Trajectory], settings: VoteSettings | None = None) -> dict[str, Vote]:
    """One :class:`Vote` per trajectory id. Only rollouts that finished with an answer vote;
    the others get share 0 and never agree."""
    s = settings or VoteSettings()
    groups: dict[tuple[str, str], list[Trajectory]] = defaultdict(list)
    for t in trajs:
        groups[(t.question_id, t.style)].append(t)
    out: dict[str, Vote] = {}
    for members in groups.values():
        voters = [t for t in members if t.finish_reason == "answer" and t.final_answer.strip()]
        answers = {t.id: _norm(answer_key(t.final_answer), s.metric) for t in voters}
        counts = Counter(answers.values())
        top, top_n = counts.most_common(1)[0] if counts else ("", 0)
        strict = bool(counts) and top_n / len(voters) > s.min_share and \
            sum(1 for n in counts.values() if n == top_n) == 1
        majority = top if strict else ""
        ref = members[0]
        golds = [g for g in (ref.reference, *ref.aliases) if g]
        stated = next((t.final_answer for t in voters if answers[t.id] == majority), "") if majority else ""
        agrees_ref = answer_correct(stated, golds, question=ref.question, f1_threshold=s.reference_f1,
                                    metric=s.metric).correct if (golds and stated) else None
        for t in members:
            mine = answers.get(t.id)
            share = counts[mine] / len(voters) if mine is not None else 0.0
            agrees = mine is not None and strict and mine == top
            out[t.id] = Vote(share, majority, agrees, agrees_ref)
    return out
