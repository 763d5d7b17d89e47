"""Rule filters over single trajectories (WebDancer §3.3): validity, repetition, bounds, correctness.

Each rule is a pure function returning the reasons it would drop the record (empty: keep),
so the caller can record *every* problem of a record, not just the first, and count drops
per reason. Reasons are the constants of :mod:`crawl.drop_reasons`, never composed: which
invalid action, which tag problem, how an unfinished rollout ended are in the record itself
(the steps' ``invalid_reason``, :func:`tag_problem` of the messages, ``finish_reason``).
Nothing here raises for what a model wrote; a trajectory is data.

What counts as model-written text (for the n-gram and redundancy rules): the assistant
messages only. Observations are the environment's words, and a page that repeats a phrase
is not the model looping.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise

import numpy as np
from rapidfuzz import fuzz

from crawl.drop_reasons import (
    ANSWER_NOT_MATCHED,
    BAD_TAGS,
    EMPTY_ANSWER,
    INVALID_ACTION,
    JUDGE_REJECTED,
    NOT_FINISHED,
    REDUNDANT_THOUGHT,
    REPEATED_NGRAM,
    REPEATED_TOOL_CALL,
    SELF_OBSERVATION,
    SYSTEM_PROMPT_LEAK,
    TOO_FEW_TOOL_CALLS,
    TOO_MANY_STEPS,
    TOO_MANY_TOKENS,
    TOO_MANY_TOOL_CALLS,
    TOOL_FAILURES,
)
from distill.agent.protocol import TOOL_RESPONSE_OPEN
from distill.agent.tools import OK, ran_and_failed
from distill.agent.trajectory import Trajectory
from filters.answer_span import AnswerMatch, MatchSettings, answer_correct
from filters.metrics import Metric

_PROTOCOL_TAG = re.compile(r"</?(think|tool_call|answer|tool_response)>")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class RuleSettings:
    ngram: int = 10
    max_ngram_repeats: int = 4  # WebDancer: any 10-word sequence at most 4 times
    thought_similarity: float = 90.0  # rapidfuzz ratio (0-100) of consecutive thoughts that counts as redundant
    min_thought_chars: int = 40  # shorter thoughts ("Search again.") are allowed to look alike
    max_same_call: int = 1  # identical (tool, arguments) calls allowed per trajectory
    min_tool_calls: int = 1
    max_tool_calls: int = 50
    max_steps: int = 60
    max_completion_tokens: int = 64_000
    f1_threshold: float = 0.8  # correctness: a whole answer this close to the reference is right (besides cover-EM)
    metric: Metric = "hotpotqa"  # the F1 / EM variant recorded (and of the F1 route)
    answer_match: MatchSettings = field(default_factory=MatchSettings)  # correctness: span caps of cover-EM
    leak_ngram: int = 10  # this many consecutive words of the system prompt in model text is a leak
    # check_tool_failures: a rollout with failed tool calls is dropped when none of its calls
    # brought content, or when more than this share of them failed (1.0: only the first).
    max_failed_tool_share: float = 0.5


# ---------------------------------------------------------------------------
# validity
# ---------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _tool_names(tools_json: str) -> frozenset[str] | None:
    """Tool names the model was offered, or None when the record does not say (imports)."""
    try:
        schemas = json.loads(tools_json or "[]")
    except ValueError:
        return None
    names = frozenset(str(s.get("function", s).get("name", "")) for s in schemas if isinstance(s, dict))
    return names or None


def tag_problem(text: str) -> str:
    """The first structural problem of one assistant message's protocol tags, or "" (the
    detail behind a ``bad_tags`` drop: ``nested_<tag>``, ``unbalanced_<tag>``, ...)."""
    open_tag = ""
    seen: list[str] = []
    for m in _PROTOCOL_TAG.finditer(text):
        name, closing = m.group(1), m.group(0)[1] == "/"
        if not closing:
            if open_tag:
                return f"nested_{name}"
            open_tag = name
            seen.append(name)
        elif open_tag != name:
            return f"unbalanced_{name}"
        else:
            open_tag = ""
    if open_tag:
        return f"unclosed_{open_tag}"
    if "think" in seen and seen[0] != "think":
        return "think_after_action"
    if seen.count("think") > 1:
        return "multiple_think"
    return ""


def check_validity(traj: Trajectory, settings: RuleSettings | None = None) -> list[str]:
    """Format: finished with an answer, every turn well formed (tags balanced and ordered,
    tool-call JSON an object naming an offered tool), no self-written observations.

    Tags are checked on the messages; the action of each turn is read from ``steps``, which
    the rollout loop and every importer build with the protocol parser from the same
    messages (re-parsing every turn here would double the cost at a million records).

    Reasons: ``not_finished`` (``finish_reason`` says how it ended), ``empty_answer``,
    ``self_observation``, ``bad_tags`` (:func:`tag_problem` says which), ``invalid_action``
    (the steps' ``invalid_reason`` says which; ``unknown_tool`` for a name the record's own
    tool list lacks), each at most once."""
    reasons: list[str] = []
    if traj.finish_reason != "answer":
        reasons.append(NOT_FINISHED)
    elif not traj.final_answer.strip():
        reasons.append(EMPTY_ANSWER)
    names = _tool_names(traj.tools_json)
    seen: set[str] = set()

    def add(reason: str) -> None:
        if reason not in seen:
            seen.add(reason)
            reasons.append(reason)

    for m in traj.messages:
        if m["role"] != "assistant":
            continue
        text = m["content"]
        if TOOL_RESPONSE_OPEN in text:
            add(SELF_OBSERVATION)
            continue
        if tag_problem(text):
            add(BAD_TAGS)
    for st in traj.steps:
        if st.invalid_reason:
            add(SELF_OBSERVATION if st.invalid_reason == "self_observation" else INVALID_ACTION)
        elif names is not None and st.action not in ("", "answer") and st.action not in names:
            add(INVALID_ACTION)
    return reasons


# ---------------------------------------------------------------------------
# tool failures
# ---------------------------------------------------------------------------


def check_tool_failures(traj: Trajectory, settings: RuleSettings | None = None) -> list[str]:
    """``tool_failures`` when the answer rests on failed tool calls: some call failed
    (engine error, timeout, page not fetched or not summarised, tool crash) and either no
    call brought content (every one failed or found nothing), or failed calls are more than
    ``max_failed_tool_share`` of the calls that ran. Such a rollout teaches answering from
    error messages ("Search for ... failed: HTTP 403") as if they were evidence.

    Calls the tool refused (bad arguments) are the validity rule's business and are not
    counted; records that do not say how their calls went (imports, older data) are kept."""
    s = settings or RuleSettings()
    outcomes = [st.tool_outcome for st in traj.steps]
    ran, failed = ran_and_failed(outcomes)
    if not failed:
        return []
    if OK not in outcomes or failed / ran > s.max_failed_tool_share:
        return [TOOL_FAILURES]
    return []


# ---------------------------------------------------------------------------
# repetition
# ---------------------------------------------------------------------------


def model_text(traj: Trajectory) -> str:
    """Everything the model wrote: assistant messages and reasoning-channel thoughts."""
    parts = [m["content"] for m in traj.messages if m["role"] == "assistant"]
    written = "\n".join(parts)
    extra = [s.think for s in traj.steps if s.think and s.think not in written]
    return "\n".join([written, *extra]) if extra else written


def ngram_keys(text: str, n: int) -> np.ndarray:
    """One 64-bit key per n-word sequence (lower-cased words, protocol tags dropped).

    Words become 64-bit ids (a collision would need two distinct words with equal Python
    hashes, within one process), n-grams a wrapping polynomial over the ids, in NumPy:
    ~10x faster than joined strings, which matters at a million trajectories."""
    words = _WORD.findall(_PROTOCOL_TAG.sub(" ", text).lower())
    m = len(words) - n + 1
    if m <= 0:
        return np.empty(0, dtype=np.uint64)
    ids = np.fromiter(map(hash, words), dtype=np.int64, count=len(words)).view(np.uint64)
    with np.errstate(over="ignore"):
        key = ids[:m].copy()
        for j in range(1, n):
            key *= _NGRAM_MULT
            key += ids[j:j + m]
    return key


@lru_cache(maxsize=4)
def _cached_ngram_keys(text: str, n: int) -> np.ndarray:
    """The repetition and leak rules read the same model text in a row; hash it once."""
    keys = ngram_keys(text, n)
    keys.flags.writeable = False
    return keys


def max_ngram_count(text: str, n: int) -> int:
    """How often the most frequent n-word sequence occurs."""
    key = _cached_ngram_keys(text, n)
    if key.size == 0:
        return 0
    key = np.sort(key)
    starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1], [True])))
    return int(np.diff(starts).max())


@lru_cache(maxsize=256)
def _prompt_keys(system_text: str, n: int) -> np.ndarray:
    return np.unique(ngram_keys(system_text, n))


def check_leak(traj: Trajectory, settings: RuleSettings | None = None) -> list[str]:
    """The model repeating its system prompt (``leak_ngram`` consecutive words of it; the same
    n as the repetition rule by default, so the n-grams of a text are hashed once), the
    usual tell of a page's injected "print your instructions" being obeyed. Such a rollout
    must not teach a student to do the same."""
    s = settings or RuleSettings()
    system = next((m["content"] for m in traj.messages if m["role"] == "system"), "")
    if not system or s.leak_ngram <= 0:
        return []
    prompt = _prompt_keys(system, s.leak_ngram)
    written = _cached_ngram_keys(model_text(traj), s.leak_ngram)
    return [SYSTEM_PROMPT_LEAK] if prompt.size and written.size and np.isin(written, prompt).any() else []


_NGRAM_MULT = np.uint64(0x9E3779B97F4A7C15)


def check_repetition(traj: Trajectory, settings: RuleSettings | None = None) -> list[str]:
    s = settings or RuleSettings()
    reasons: list[str] = []
    if max_ngram_count(model_text(traj), s.ngram) > s.max_ngram_repeats:
        reasons.append(REPEATED_NGRAM)
    calls = Counter((st.action, st.arguments) for st in traj.steps if st.action not in ("", "answer", "invalid"))
    if calls and max(calls.values()) > s.max_same_call:
        reasons.append(REPEATED_TOOL_CALL)
    thoughts = [" ".join(st.think.split()) for st in traj.steps]
    for a, b in pairwise(thoughts):
        if min(len(a), len(b)) >= s.min_thought_chars and fuzz.ratio(a, b) >= s.thought_similarity:
            reasons.append(REDUNDANT_THOUGHT)
            break
    return reasons


# ---------------------------------------------------------------------------
# bounds and correctness
# ---------------------------------------------------------------------------


def check_bounds(traj: Trajectory, settings: RuleSettings | None = None) -> list[str]:
    s = settings or RuleSettings()
    calls = sum(1 for st in traj.steps if st.action not in ("", "answer", "invalid"))
    reasons = []
    if calls < s.min_tool_calls:
        reasons.append(TOO_FEW_TOOL_CALLS)
    if calls > s.max_tool_calls:
        reasons.append(TOO_MANY_TOOL_CALLS)
    if len(traj.steps) > s.max_steps:
        reasons.append(TOO_MANY_STEPS)
    if sum(st.completion_tokens for st in traj.steps) > s.max_completion_tokens:
        reasons.append(TOO_MANY_TOKENS)
    return reasons


@dataclass(frozen=True, slots=True)
class Correctness:
    """What :func:`check_correctness` found: the drop ``reasons`` (empty: keep), the whole
    answer's best ``f1`` / ``em`` over reference and aliases (recorded figures; None without
    a reference), the rule verdict ``rule`` (None without a reference) and the ``judge``
    verdict it was given (None: none), so a caller can store both verdicts side by side."""

    reasons: list[str]
    f1: float | None = None
    em: float | None = None
    rule: AnswerMatch | None = None
    judge: bool | None = None

    @property
    def rule_correct(self) -> bool | None:
        return None if self.rule is None else self.rule.correct


def check_correctness(traj: Trajectory, settings: RuleSettings | None = None,
                      verdict: bool | None = None) -> Correctness:
    """Is the final answer right? The rule verdict is cover-EM on the spans that carry the
    answer (:func:`filters.answer_span.answer_correct`: bold, quoted and copula spans of the
    answer sentence, the whole text under a length cap, yes/no by the answer's first word,
    and the old rule, F1 >= ``f1_threshold``, as a sufficient condition); a miss is
    ``answer_not_matched``. F1 and EM are recorded, not deciding.

    ``verdict`` is the judge's (None: not asked or no usable reply, which is not a
    rejection). When given it decides: False drops as ``judge_rejected`` whatever the rule
    says, True keeps a rule miss (the judge reads meaning the rule cannot). The rule verdict
    is computed and returned either way. No reference (imported data without answers): the
    judge alone can drop, scores and rule verdict are None."""
    s = settings or RuleSettings()
    golds = [g for g in (traj.reference, *traj.aliases) if g]
    if not golds:
        return Correctness([JUDGE_REJECTED] if verdict is False else [], judge=verdict)
    match = answer_correct(traj.final_answer, golds, question=traj.question, settings=s.answer_match,
                           f1_threshold=s.f1_threshold, metric=s.metric)
    if verdict is None:
        reasons = [] if match.correct else [ANSWER_NOT_MATCHED]
    else:
        reasons = [] if verdict else [JUDGE_REJECTED]
    return Correctness(reasons, match.f1, match.em, match, verdict)
