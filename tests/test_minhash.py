"""distill.minhash: the one MinHash behind QA pool dedup, trajectory dedup and decontamination."""

from __future__ import annotations

import datasketch
import numpy as np
import pytest

from distill import minhash, qa_pool
from distill.qa_rules import normalize_answer
from filters import contamination, dedup

TEXT = "Which year was the Tidewell library first released to the public by its two founders?"


def _datasketch(hashes: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    ref = datasketch.MinHash(num_perm=num_perm, seed=seed, hashfunc=lambda v: v)
    ref.update_batch([int(h) for h in hashes])
    return ref.hashvalues.astype(np.uint32)


def test_the_three_callers_share_one_minhash(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every caller computes its signatures with distill.minhash.signatures, and they are
    datasketch's MinHash of the caller's shingle hashes."""
    calls: list[tuple[str, np.ndarray, np.ndarray, int, int, np.ndarray]] = []
    real = minhash.signatures

    def spy(hashes: np.ndarray, doc: np.ndarray, n_docs: int, num_perm: int = 128, seed: int = 1) -> np.ndarray:
        sig = real(hashes, doc, n_docs, num_perm, seed)
        calls.append((caller, hashes.copy(), doc.copy(), num_perm, seed, sig))
        return sig

    monkeypatch.setattr(minhash, "signatures", spy)
    caller = "qa_pool"
    kept, _ = qa_pool.dedupe_questions([{"id": "a", "question": TEXT, "answer": "2021"}])
    caller = "dedup"
    assert dedup.near_duplicates([TEXT]) == [None]
    caller = "contamination"
    index = contamination.BenchmarkIndex([(TEXT, "bench.jsonl")])
    match = index.match(TEXT.replace("first released", "released"))
    assert match is not None and match.kind != "exact"
    assert [c[0] for c in calls] == ["qa_pool", "dedup", "contamination", "contamination"]  # build, then match
    assert [c[3] for c in calls] == [64, 128, 126, 126]
    for _, hashes, doc, num_perm, seed, sig in calls:
        assert len(hashes) and (doc == 0).all()
        assert np.array_equal(sig[0], _datasketch(hashes, num_perm, seed))
    # the shingles each caller hashes
    q = normalize_answer(TEXT)
    assert np.array_equal(calls[0][1], minhash.word_shingle_hashes([q], 3)[0])
    assert np.array_equal(calls[1][1], minhash.word_shingle_hashes([TEXT], 5)[0])
    compact = contamination._compact(contamination.match_key(TEXT))
    assert np.array_equal(calls[2][1], minhash.hash32(minhash.char_shingle_hashes([compact], 5)[0]))


def test_same_text_same_signature_across_callers() -> None:
    """With the same shingles and permutations, QA pool and trajectory dedup give one signature."""
    q = normalize_answer(TEXT)
    from_qa = qa_pool.question_signatures([q])
    from_dedup, _, _ = dedup.sketch([q], dedup.DedupSettings(num_perm=64, bands=16, shingle_words=3))
    assert np.array_equal(from_qa, from_dedup)
    hashes, doc = minhash.word_shingle_hashes([q], 3)
    assert np.array_equal(from_qa[0], _datasketch(hashes, 64, 1))


def test_shingles() -> None:
    hashes, doc = minhash.word_shingle_hashes(["a b c d e f", "", "x y", "A B C D E F"], 5)
    assert doc.tolist() == [0, 0, 2, 3, 3]  # 2 full shingles, none, 1 short one, 2 (case-folded)
    assert np.array_equal(hashes[:2], hashes[3:])
    h64, cdoc = minhash.char_shingle_hashes(["abcdef", "abc", "abcde"], 5)
    assert cdoc.tolist() == [0, 0, 2] and h64.dtype == np.uint64 and h64[0] == h64[2]
    assert minhash.signatures(hashes[:0], doc[:0], 2, 8).tolist() == [[0xFFFFFFFF] * 8] * 2


def test_band_index_query_and_bucket_mates() -> None:
    keys = np.array([[1, 10], [2, 10], [1, 11], [3, 12]], dtype=np.uint64)
    index = minhash.BandIndex(keys)
    rows, shared = index.query(np.array([1, 10], dtype=np.uint64))
    assert rows.tolist() == [0, 1, 2] and shared.tolist() == [2, 1, 1]
    assert index.query(np.array([9, 9], dtype=np.uint64))[0].tolist() == []
    assert [m.tolist() for m in index.bucket_mates()] == [[1, 2], [0], [0], []]
    with pytest.raises(ValueError):
        minhash.band_keys(np.zeros((1, 10), dtype=np.uint32), 3)


def test_duplicates_confirmed_by_a_verifier() -> None:
    sig = np.array([[1, 1, 1, 1], [1, 1, 1, 2], [5, 6, 7, 8]], dtype=np.uint32)
    keys = np.array([[10, 20], [10, 21], [12, 22]], dtype=np.uint64)
    empty = np.zeros(3, dtype=bool)
    assert minhash.duplicates_of(sig, keys, empty, 0.8).tolist() == [-1, -1, -1]  # estimate 0.75
    seen: list[list[int]] = []

    def accept(pairs: np.ndarray) -> np.ndarray:
        seen.extend(pairs.tolist())
        return np.ones(len(pairs), dtype=bool)

    # within the margin (0.75 >= 0.8 - 0.1): the verifier decides
    assert minhash.duplicates_of(sig, keys, empty, 0.8, verify=accept).tolist() == [-1, 0, -1]
    assert seen == [[1, 0]]
    reject = minhash.duplicates_of(sig, keys, empty, 0.8, verify=lambda p: np.zeros(len(p), dtype=bool))
    assert reject.tolist() == [-1, -1, -1]


def test_exact_jaccard() -> None:
    hashes = np.array([1, 2, 3, 4, 2, 3, 4, 5, 9], dtype=np.uint32)
    doc = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2])
    got = minhash.exact_jaccard(hashes, doc, np.array([[1, 0], [2, 0], [1, 1]]))
    assert got.tolist() == [0.6, 0.0, 1.0]


def _pair(n: int, k: int) -> tuple[str, str, float]:
    """A text of n distinct words, the same with its last k words replaced, and their exact Jaccard."""
    words = [f"w{i}" for i in range(n)]
    a, b = " ".join(words), " ".join(words[:-k] + [f"x{j}" for j in range(k)])
    ha, hb = (set(minhash.word_shingle_hashes([t])[0].tolist()) for t in (a, b))
    return a, b, len(ha & hb) / len(ha | hb)


def test_near_duplicates_by_exact_jaccard() -> None:
    """The pipeline's decision is the exact shingle Jaccard; the estimate only proposes."""
    a, b, j = _pair(49, 4)  # exact 0.837, estimated 0.781: the estimate alone misses it
    sig, _, _ = dedup.sketch([a, b])
    assert j > 0.8 > minhash.estimated_jaccard(sig[0], sig[1])
    assert dedup.near_duplicates([a, b]) == [None, 0]
    assert dedup.near_duplicates([a, b], dedup.DedupSettings(exact=False)) == [None, None]
    a, b, j = _pair(48, 6)  # exact 0.760, estimated 0.828: the estimate alone flags it
    sig, _, _ = dedup.sketch([a, b])
    assert j < 0.8 < minhash.estimated_jaccard(sig[0], sig[1])
    assert dedup.near_duplicates([a, b]) == [None, None]
    assert dedup.near_duplicates([a, b], dedup.DedupSettings(exact=False)) == [None, 0]
