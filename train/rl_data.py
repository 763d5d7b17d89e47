"""Held-out questions as RL prompts, with the pass rate their rollouts reached.

Why pass rates: DAPO's dynamic sampling (REFERENCE §7) drops groups whose rollouts are all
correct or all wrong, because every advantage in such a group is zero and the step learns
nothing from it. The rollouts the pipeline already ran for these questions estimate that
in advance, so questions that are too easy or too hard for the teacher are left out before
any GPU time is spent on them. RL questions must also be disjoint from the SFT questions,
or RL would reward answers the model was just taught.

A record's ``prompt`` is the conversational system + user messages of one rollout of the
recipe's prompt style (``prompt_style``: Atom-Searcher's policy is prompted for atomic
thoughts, so the RRM grades atomic units; WebDancer's with the plain ReAct prompt), so
TRL's ``GRPOTrainer`` can use it directly; ``answer`` and ``aliases`` are dataset columns
that reward functions receive as keyword arguments.

``path_entities`` are the entities the QA pair was built along (:func:`path_entities`): the
pages of a CRAWLQA chain, the entities E2HQA hid round by round. The optional
entity-coverage reward (:func:`train.rewards.entity_coverage`) gives a wrong answer partial
credit for the share of them the rollout found. Trajectories do not carry them (the rollout
loop gets question and answer only), so ``rl_dataset`` looks them up by question id in the
QA tables; imported questions without a QA record get none.
"""

from __future__ import annotations

import logging
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from crawl.drop_reasons import ALL_CORRECT, ALL_WRONG, IN_SFT, NO_ROLLOUT_IN_PROMPT_STYLE, TOO_FEW_ROLLOUTS
from distill.agent.trajectory import STYLES, Trajectory
from filters.metrics import answer_tokens, contains_tokens
from train.staging import dataset_from_rows, save_dataset, staged_dir

log = logging.getLogger(__name__)

DROP_REASONS = (IN_SFT, TOO_FEW_ROLLOUTS, ALL_CORRECT, ALL_WRONG, NO_ROLLOUT_IN_PROMPT_STYLE)
#: The column of a question's path entities (read by the entity-coverage reward).
PATH_ENTITIES = "path_entities"

#: Where :func:`save_rl_dataset` puts things, relative to its ``out_dir`` (the card's configs point here).
RL_LAYOUT = {
    "dataset": "dataset",
    "parquet": "parquet/train.parquet",
    "card": "README.md",
}


def rl_features() -> Any:
    """The fixed schema of the RL dataset."""
    from datasets import Features, List, Value

    return Features({
        "prompt": List({"role": Value("string"), "content": Value("string")}),
        "question": Value("string"),
        "answer": Value("string"),
        "aliases": List(Value("string")),
        "question_id": Value("string"),
        "k": Value("int32"),
        "n_correct": Value("int32"),
        "pass_rate": Value("float64"),
        "style": Value("string"),
        "prompt_id": Value("string"),
        "source_format": Value("string"),
        PATH_ENTITIES: List(Value("string")),
    })


_DISAMBIGUATION = re.compile(r"\s*\([^()]*\)\s*$")


def page_entity(title: str) -> str:
    """The entity a page is about, from its title: a trailing disambiguation goes, since text names
    "Velde", not "Velde (river)".

    >>> page_entity("Velde (river)"), page_entity("sorvik-institute/tidewell")
    ('Velde', 'sorvik-institute/tidewell')
    """
    return _DISAMBIGUATION.sub("", title).strip()


def path_entities(qa_id: str, records: Mapping[str, Mapping[str, Any]], titles: Mapping[str, str]) -> list[str]:
    """The entities on the path a QA pair was built along, that a solver has to find.

    ``records`` maps QA id to its QA record (CRAWLQA and E2HQA pairs, with ancestors), ``titles``
    a page URL to its title. An E2HQA pair contributes the entity each round replaced, from
    round 1 on (walking ``parent_id`` to the seed); a CRAWLQA pair (or the seed) the entities of
    its chain pages (``evidence_urls``; E2HQA's own evidence URLs are search hits, not the path).
    Left out: entities the question still names (finding them is free), ones the answer or an
    alias covers (the outcome reward judges the answer), and repeats under the normalisation
    the reward matches with.

    >>> recs = {"c": {"origin": "crawlqa", "question": "Which river flows past Orsund?", "answer": "Velde",
    ...               "evidence_urls": ["u/orsund", "u/velde", "u/kaldberg"]},
    ...         "e": {"origin": "e2hqa", "parent_id": "c", "entity_replaced": "Orsund", "answer": "Velde",
    ...               "question": "Which river flows past the town of the iron bridge?"}}
    >>> titles = {"u/orsund": "Orsund", "u/velde": "Velde (river)", "u/kaldberg": "Kaldberg"}
    >>> path_entities("c", recs, titles), path_entities("e", recs, titles), path_entities("x", recs, titles)
    (['Kaldberg'], ['Orsund', 'Kaldberg'], [])
    """
    rec = records.get(qa_id)
    if rec is None:
        return []
    question = answer_tokens(str(rec.get("question") or ""))
    answers = [answer_tokens(a) for a in (rec.get("answer"), *(rec.get("aliases") or ())) if a]
    hidden: list[str] = []
    seen_ids = {qa_id}
    while rec is not None and rec.get("origin") == "e2hqa":
        if rec.get("entity_replaced"):
            hidden.append(str(rec["entity_replaced"]))
        parent = str(rec.get("parent_id") or "")
        rec = records.get(parent) if parent not in seen_ids else None
        seen_ids.add(parent)
    pages = [page_entity(titles[u]) for u in (rec.get("evidence_urls") or ()) if u in titles] if rec else []
    out: list[str] = []
    kept: list[list[str]] = []
    for name in [*reversed(hidden), *pages]:
        tokens = answer_tokens(name)
        if not tokens or tokens in kept or contains_tokens(question, tokens) \
                or any(contains_tokens(a, tokens) or contains_tokens(tokens, a) for a in answers):
            continue
        kept.append(tokens)
        out.append(name)
    return out


def _prompt_rollout(rollouts: Sequence[Trajectory], style: str | None) -> Trajectory | None:
    """The rollout whose prompt the record uses: of ``style`` when one is named (None when the
    question has no rollout of it), else the first in the style order of :data:`STYLES`; then
    by sample index and id, so reruns give the same dataset."""
    def key(t: Trajectory) -> tuple[int, int, str]:
        return (STYLES.index(t.style) if t.style in STYLES else len(STYLES), t.sample_index, t.id)
    pool = [t for t in rollouts if style is None or t.style == style]
    return min(pool, key=key) if pool else None


def _prompt_messages(t: Trajectory) -> list[dict[str, str]]:
    """System (if any) and the first user message: what the model sees before its first turn."""
    out: list[dict[str, str]] = []
    for m in t.messages:
        if m["role"] == "system" and not out:
            out.append({"role": "system", "content": m["content"]})
        elif m["role"] == "user":
            out.append({"role": "user", "content": m["content"]})
            return out
        else:
            break
    raise ValueError(f"trajectory {t.id} (question {t.question_id}) has no user message before its first turn")


def rl_records(trajs: Iterable[Trajectory], correct: Mapping[str, bool | None], sft_question_ids: set[str],
               min_rollouts: int = 2, difficulty_filter: bool = True, prompt_style: str | None = None,
               entities: Mapping[str, Sequence[str]] | None = None) -> tuple[list[dict[str, Any]], Counter[str]]:
    """One record per question (sorted by ``question_id``) and the count of dropped questions by reason.

    ``correct`` maps trajectory id to the judged verdict; ``None`` (no answer to judge)
    counts as wrong, a missing id is an error because the pass rate would silently shrink.
    Rollouts that ended in ``error`` (the endpoint failed, not the model) are not counted.
    Questions are dropped, in this order, as ``in_sft``, ``too_few_rollouts`` (fewer than
    ``min_rollouts`` counted), ``all_correct`` (pass rate 1) or ``all_wrong`` (pass rate 0).
    ``difficulty_filter=False`` keeps the last two (DEMO ONLY: a tiny teacher solves nothing,
    so every question would be ``all_wrong``); their pass rate is still recorded.
    ``prompt_style`` (one of :data:`STYLES`) takes the prompt from a rollout of that style, and
    drops a question without one as ``no_rollout_in_prompt_style``; the pass rate is over the
    rollouts of every style (more samples of the question's difficulty).
    ``entities`` maps question id to its :func:`path_entities` (a missing id: none).
    """
    if min_rollouts < 1:
        raise ValueError(f"min_rollouts must be >= 1, got {min_rollouts}")
    if prompt_style is not None and prompt_style not in STYLES:
        raise ValueError(f"unknown prompt style {prompt_style!r}; use one of {', '.join(STYLES)}")
    by_question: dict[str, list[Trajectory]] = defaultdict(list)
    for t in trajs:
        if t.finish_reason == "error":
            continue
        if t.id not in correct:
            raise ValueError(f"no correctness verdict for trajectory {t.id} (question {t.question_id}); "
                             "pass every rollout's verdict in `correct`")
        by_question[t.question_id].append(t)
    records: list[dict[str, Any]] = []
    drops: Counter[str] = Counter()
    for qid in sorted(by_question):
        rollouts = by_question[qid]
        if qid in sft_question_ids:
            drops[IN_SFT] += 1
            continue
        k = len(rollouts)
        if k < min_rollouts:
            drops[TOO_FEW_ROLLOUTS] += 1
            continue
        n_correct = sum(1 for t in rollouts if correct[t.id])
        if difficulty_filter and n_correct == k:
            drops[ALL_CORRECT] += 1
            continue
        if difficulty_filter and n_correct == 0:
            drops[ALL_WRONG] += 1
            continue
        head = _prompt_rollout(rollouts, prompt_style)
        if head is None:
            drops[NO_ROLLOUT_IN_PROMPT_STYLE] += 1
            continue
        records.append({
            "prompt": _prompt_messages(head),
            "question": head.question,
            "answer": head.reference,
            "aliases": list(head.aliases),
            "question_id": qid,
            "k": k,
            "n_correct": n_correct,
            "pass_rate": n_correct / k,
            "style": head.style,
            "prompt_id": head.prompt_id,
            "source_format": head.source_format,
            PATH_ENTITIES: list((entities or {}).get(qid, ())),
        })
    log.info("rl_records: %d questions kept, dropped %s", len(records), dict(drops) or "none")
    return records, drops


def save_rl_dataset(records: Sequence[Mapping[str, Any]], out_dir: str | Path, card_md: str) -> dict[str, Path]:
    """Write the records with ``datasets.Dataset.save_to_disk``, a Parquet copy and the card.

    Layout: :data:`RL_LAYOUT`; built beside ``out_dir`` and swapped in at the end, so a
    reader never sees half a dataset. Returns the written paths by :data:`RL_LAYOUT` key.
    """
    ds = dataset_from_rows(records, rl_features())
    out_dir = Path(out_dir)
    with staged_dir(out_dir) as tmp:
        save_dataset(ds, tmp / RL_LAYOUT["dataset"])
        (tmp / RL_LAYOUT["parquet"]).parent.mkdir(parents=True)
        ds.to_parquet(str(tmp / RL_LAYOUT["parquet"]))
        (tmp / RL_LAYOUT["card"]).write_text(card_md, encoding="utf-8")
    log.info("saved RL dataset: %d prompts to %s", len(records), out_dir)
    return {k: out_dir / v for k, v in RL_LAYOUT.items()}
