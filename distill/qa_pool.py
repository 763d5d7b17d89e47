"""The QA pool: CRAWLQA and E2HQA pairs together, near-duplicates removed.

Near-duplicate questions (the same pair sampled twice, or two chains that led the
teacher to the same fact) would overweight one fact in training. Candidates come
from MinHash LSH over word shingles (datasketch, sub-quadratic), and a pair is a
duplicate only if rapidfuzz's token-set ratio confirms it and the answers agree.
The first record in a deterministic order wins; every drop names what it duplicated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from datasketch import MinHash, MinHashLSH
from rapidfuzz import fuzz

from crawl.drop_reasons import DUPLICATE_ID, NEAR_DUPLICATE
from distill.qa_rules import normalize_answer


def _shingles(text: str, n: int = 3) -> set[str]:
    words = text.split()
    if len(words) < n:
        return {" ".join(words)}
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def _minhash(text: str, num_perm: int) -> MinHash:
    m = MinHash(num_perm=num_perm, seed=1)
    for sh in _shingles(text):
        m.update(sh.encode("utf-8"))
    return m


def dedupe_questions(records: Sequence[dict[str, Any]], *, threshold: float = 90.0, lsh_threshold: float = 0.5,
                     num_perm: int = 64) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(kept, drops) with ``drops[i]["duplicate_of"]`` naming the kept record's id."""
    lsh = MinHashLSH(threshold=lsh_threshold, num_perm=num_perm)
    kept: list[dict[str, Any]] = []
    drops: list[dict[str, Any]] = []
    by_key: dict[str, tuple[str, str]] = {}
    for rec in records:
        q = normalize_answer(rec["question"])
        a = normalize_answer(rec["answer"])
        mh = _minhash(q, num_perm)
        dup_of = None
        for key in lsh.query(mh):
            other_q, other_a = by_key[key]
            if other_a == a and fuzz.token_set_ratio(q, other_q) >= threshold:
                dup_of = key
                break
        if dup_of is not None:
            drops.append({**rec, "stage": "dedup", "reason": NEAR_DUPLICATE, "duplicate_of": dup_of})
            continue
        key = rec["id"]
        if key in by_key:
            drops.append({**rec, "stage": "dedup", "reason": DUPLICATE_ID, "duplicate_of": key})
            continue
        lsh.insert(key, mh)
        by_key[key] = (q, a)
        kept.append(rec)
    return kept, drops
