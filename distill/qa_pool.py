"""The QA pool: CRAWLQA and E2HQA pairs together, near-duplicates removed.

Near-duplicate questions (the same pair sampled twice, or two chains that led the
teacher to the same fact) would overweight one fact in training. Candidates come
from MinHash LSH over word 3-shingles of the normalised question (:mod:`distill.minhash`,
the implementation trajectory dedup and decontamination use too; 64 permutations in
16 bands of 4, so a pair of shingle Jaccard 0.5 is a candidate with probability 0.64,
0.7 with 0.98), and a pair is a duplicate only if rapidfuzz's token-set ratio confirms
it and the answers agree. The first record in a deterministic order wins; candidates
are tried earliest first; every drop names what it duplicated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from rapidfuzz import fuzz

from crawl.drop_reasons import DUPLICATE_ID, NEAR_DUPLICATE
from distill import minhash
from distill.qa_rules import normalize_answer

SHINGLE_WORDS = 3


def question_signatures(questions: Sequence[str], num_perm: int = 64) -> np.ndarray:
    """(n, num_perm) MinHash signatures of normalised questions' word 3-shingles."""
    hashes, doc = minhash.word_shingle_hashes(questions, SHINGLE_WORDS)
    return minhash.signatures(hashes, doc, len(questions), num_perm)


def dedupe_questions(records: Sequence[dict[str, Any]], *, threshold: float = 90.0, num_perm: int = 64,
                     bands: int = 16) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(kept, drops) with ``drops[i]["duplicate_of"]`` naming the kept record's id."""
    questions = [normalize_answer(rec["question"]) for rec in records]
    answers = [normalize_answer(rec["answer"]) for rec in records]
    keys = minhash.band_keys(question_signatures(questions, num_perm), bands)
    mates = minhash.BandIndex(keys).bucket_mates()
    kept: list[dict[str, Any]] = []
    drops: list[dict[str, Any]] = []
    kept_ids: set[str] = set()
    is_kept = np.zeros(len(records), dtype=bool)
    for i, rec in enumerate(records):
        q, a = questions[i], answers[i]
        dup_of = None
        for j in mates[i][mates[i] < i].tolist():
            if is_kept[j] and answers[j] == a and fuzz.token_set_ratio(q, questions[j]) >= threshold:
                dup_of = records[j]["id"]
                break
        if dup_of is not None:
            drops.append({**rec, "stage": "dedup", "reason": NEAR_DUPLICATE, "duplicate_of": dup_of})
            continue
        key = rec["id"]
        if key in kept_ids:
            drops.append({**rec, "stage": "dedup", "reason": DUPLICATE_ID, "duplicate_of": key})
            continue
        kept_ids.add(key)
        is_kept[i] = True
        kept.append(rec)
    return kept, drops
