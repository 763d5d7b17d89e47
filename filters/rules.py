"""Rule filters over single trajectories (WebDancer §3.3): validity, repetition, bounds, correctness.

Each rule is a pure function returning the reasons it would drop the record (empty: keep),
so the caller can record *every* problem of a record, not just the first, and count drops
per reason. Nothing here raises for what a model wrote; a trajectory is data.

What counts as model-written text (for the n-gram and redundancy rules): the assistant
messages only. Observations are the environment's words, and a page that repeats a phrase
is not the model looping.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from rapidfuzz import fuzz

from distill.agent.protocol import TOOL_RESPONSE_OPEN
from distill.agent.trajectory import Trajectory
from filters.metrics import Metric, best_em, best_f1

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
    f1_threshold: float = 0.8
    metric: Metric = "hotpotqa"
    leak_ngram: int = 10  # this many consecutive words of the system prompt in model text is a leak


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
    """The first structural problem of one assistant message's protocol tags, or ""."""
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
    messages (re-parsing every turn here would double the cost at a million records)."""
    reasons: list[str] = []
    if traj.finish_reason != "answer":
        reasons.append(f"not_finished:{traj.finish_reason or 'unknown'}")
    elif not traj.final_answer.strip():
        reasons.append("empty_answer")
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
            add("self_observation")
            continue
        problem = tag_problem(text)
        if problem:
            add(f"bad_tags:{problem}")
    for st in traj.steps:
        if st.invalid_reason:
            add("self_observation" if st.invalid_reason == "self_observation" else f"invalid_action:{st.invalid_reason}")
        elif names is not None and st.action not in ("", "answer") and st.action not in names:
            add("invalid_action:unknown_tool")
    return reasons


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
    return ["system_prompt_leak"] if prompt.size and written.size and np.isin(written, prompt).any() else []


_NGRAM_MULT = np.uint64(0x9E3779B97F4A7C15)


def check_repetition(traj: Trajectory, settings: RuleSettings | None = None) -> list[str]:
    s = settings or RuleSettings()
    reasons: list[str] = []
    if max_ngram_count(model_text(traj), s.ngram) > s.max_ngram_repeats:
        reasons.append("repeated_ngram")
    calls = Counter((st.action, st.arguments) for st in traj.steps if st.action not in ("", "answer", "invalid"))
    if calls and max(calls.values()) > s.max_same_call:
        reasons.append("repeated_tool_call")
    thoughts = [" ".join(st.think.split()) for st in traj.steps]
    for a, b in zip(thoughts, thoughts[1:]):
        if min(len(a), len(b)) >= s.min_thought_chars and fuzz.ratio(a, b) >= s.thought_similarity:
            reasons.append("redundant_thought")
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
        reasons.append("too_few_tool_calls")
    if calls > s.max_tool_calls:
        reasons.append("too_many_tool_calls")
    if len(traj.steps) > s.max_steps:
        reasons.append("too_many_steps")
    if sum(st.completion_tokens for st in traj.steps) > s.max_completion_tokens:
        reasons.append("too_many_tokens")
    return reasons


def check_correctness(traj: Trajectory, settings: RuleSettings | None = None,
                      verdict: bool | None = None) -> tuple[list[str], float | None, float | None]:
    """(reasons, f1, em) of the final answer against the reference and its aliases.

    No reference (imported data without answers): no reason, scores None. ``verdict`` is the
    judge's (None: not asked or no usable reply, which is not a rejection)."""
    s = settings or RuleSettings()
    golds = [g for g in (traj.reference, *traj.aliases) if g]
    if not golds:
        return ([], None, None) if verdict is not False else (["judge_rejected"], None, None)
    f1 = best_f1(traj.final_answer, golds, variant=s.metric)
    em = best_em(traj.final_answer, golds, variant=s.metric)
    reasons = []
    if f1 < s.f1_threshold:
        reasons.append("below_f1")
    if verdict is False:
        reasons.append("judge_rejected")
    return reasons, f1, em
