"""Near-duplicate trajectories: MinHash over word shingles with LSH banding, vectorised.

Why not ``datasketch`` directly: it hashes every shingle with SHA-1 in Python and builds one
object per record, which is the bottleneck at a million trajectories (see
``bench/filters_throughput.py``). This module hashes all shingles of a batch in NumPy and
computes every signature with one pass per permutation, and the LSH bucketing is a sort
per band instead of a dict per key (a million trajectories in well under 4 GB). The MinHash itself is datasketch's
default scheme ("affine32": the MurmurHash3 32-bit finalizer, then ``a*h + b`` modulo 2**32
with datasketch's permutation parameters for the same seed), so for the same shingle hash
values the signatures are bit-identical to ``datasketch.MinHash`` (tested), and its
estimator's known behaviour carries over.

Shingle hashes are deterministic across processes and runs (no Python ``hash``): words are
hashed with a polynomial over their UTF-8 bytes, shingles of ``shingle_words`` consecutive
words with a second polynomial over the word hashes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

_P = np.uint64(0x100000001B3)  # FNV-64 prime: odd, so invertible modulo 2**64
_Q = np.uint64(0x9E3779B97F4A7C15)
_FMIX32 = (16, np.uint32(0x85EBCA6B), 13, np.uint32(0xC2B2AE35), 16)


@dataclass(frozen=True, slots=True)
class DedupSettings:
    threshold: float = 0.8  # estimated Jaccard at or above which a later text duplicates a kept one
    num_perm: int = 128
    bands: int = 16  # bands x rows = num_perm; 16 x 8 puts the LSH S-curve's midpoint near 0.7
    shingle_words: int = 5
    seed: int = 1
    batch: int = 20_000


@lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutation parameters (a odd, b) for ``seed``."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def fmix32(h: np.ndarray) -> np.ndarray:
    s1, m1, s2, m2, s3 = _FMIX32
    h = h ^ (h >> np.uint32(s1))
    h = h * m1
    h = h ^ (h >> np.uint32(s2))
    h = h * m2
    return h ^ (h >> np.uint32(s3))


def _inverse(x: np.uint64) -> np.uint64:
    """Multiplicative inverse of an odd number modulo 2**64 (Newton's iteration)."""
    y = int(x)
    inv = y  # correct to 3 bits for odd y
    for _ in range(6):
        inv = (inv * (2 - y * inv)) % (1 << 64)
    return np.uint64(inv)


_PINV = _inverse(_P)


def shingle_hashes(texts: Sequence[str], shingle_words: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(hashes uint32, doc index per hash) of the word shingles of every text, in text order.

    Words are runs of ASCII letters/digits or non-ASCII bytes, lower-cased. A text with fewer
    than ``shingle_words`` words gives one shingle of all its words; an empty text gives none.
    """
    joined = "\n".join(t.lower() for t in texts).encode("utf-8", "replace")
    if not joined:
        return np.empty(0, np.uint32), np.empty(0, np.int64)
    c = np.frombuffer(joined, dtype=np.uint8)
    word = (c >= 128) | ((c >= 48) & (c <= 57)) | ((c >= 97) & (c <= 122))
    doc_of_byte = np.cumsum(c == 10)  # "\n" separates texts (lower() keeps a text's own newlines: counted below)
    edges = np.diff(np.concatenate(([False], word, [False])).astype(np.int8))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    if len(starts) == 0:
        return np.empty(0, np.uint32), np.empty(0, np.int64)
    # polynomial hash of each word: sum c_k P^k over the word, shifted to start at P^0
    with np.errstate(over="ignore"):
        pw = np.cumprod(np.full(len(c), _P, dtype=np.uint64), dtype=np.uint64) * _PINV  # P^k
        pinv = np.cumprod(np.full(len(c), _PINV, dtype=np.uint64), dtype=np.uint64) * _P  # P^-k
        g = (c.astype(np.uint64) + np.uint64(1)) * pw
        s = np.concatenate(([np.uint64(0)], np.cumsum(g, dtype=np.uint64)))
        wh = (s[ends] - s[starts]) * pinv[starts]
    doc = _doc_index(texts, doc_of_byte[starts])
    k = shingle_words
    n = len(wh)
    with np.errstate(over="ignore"):
        if n >= k:
            sh = np.zeros(n - k + 1, dtype=np.uint64)
            for j in range(k):
                sh = sh * _Q + wh[j:n - k + 1 + j]
            same = doc[: n - k + 1] == doc[k - 1:]
            sh, sdoc = sh[same], doc[: n - k + 1][same]
        else:
            sh, sdoc = np.empty(0, np.uint64), np.empty(0, np.int64)
        # texts too short for one full shingle: one shingle of all their words
        counts = np.bincount(doc, minlength=len(texts))
        short = np.flatnonzero((counts > 0) & (counts < k))
        if len(short):
            first = np.searchsorted(doc, short)
            extra = np.zeros(len(short), dtype=np.uint64)
            for j in range(k - 1):
                idx = np.minimum(first + j, n - 1)
                use = j < counts[short]
                extra = np.where(use, extra * _Q + wh[idx], extra)
            sh = np.concatenate((sh, extra))
            sdoc = np.concatenate((sdoc, short))
            order = np.argsort(sdoc, kind="stable")
            sh, sdoc = sh[order], sdoc[order]
    return (sh >> np.uint64(32)).astype(np.uint32), sdoc


def _doc_index(texts: Sequence[str], newline_count_at_word: np.ndarray) -> np.ndarray:
    """Map "newlines before this word" to the text index, since texts may contain newlines."""
    per_text = np.fromiter((t.count("\n") + 1 for t in texts), dtype=np.int64, count=len(texts))
    bounds = np.cumsum(per_text)  # newline count at which each text ends
    return np.searchsorted(bounds, newline_count_at_word, side="right").astype(np.int64)


def signatures(hashes: np.ndarray, doc: np.ndarray, n_docs: int, settings: DedupSettings) -> np.ndarray:
    """(n_docs, num_perm) uint32 MinHash signatures; a text without shingles gets all 0xFFFFFFFF."""
    a, b = permutations(settings.num_perm, settings.seed)
    sig = np.full((n_docs, settings.num_perm), np.uint32(0xFFFFFFFF), dtype=np.uint32)
    if len(hashes) == 0:
        return sig
    mixed = fmix32(hashes)
    present = np.flatnonzero(np.bincount(doc, minlength=n_docs) > 0)
    seg = np.searchsorted(doc, present)
    tmp = np.empty_like(mixed)
    with np.errstate(over="ignore"):
        for p in range(settings.num_perm):
            np.multiply(mixed, a[p], out=tmp)
            np.add(tmp, b[p], out=tmp)
            sig[present, p] = np.minimum.reduceat(tmp, seg)
    return sig


def band_multipliers(settings: DedupSettings) -> np.ndarray:
    rows = settings.num_perm // settings.bands
    return np.random.default_rng(settings.seed).integers(1, 2**63, size=rows, dtype=np.uint64) | np.uint64(1)


def sketch(texts: Sequence[str], settings: DedupSettings | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(signatures (n, num_perm) uint32, band keys (n, bands) uint64, has-no-shingles (n,) bool).

    The parallelisable part: sketches of consecutive batches (e.g. from worker processes)
    concatenate into the sketch of the whole stream."""
    s = settings or DedupSettings()
    if s.num_perm % s.bands:
        raise ValueError("num_perm must be a multiple of bands")
    hashes, doc = shingle_hashes(texts, s.shingle_words)
    sig = signatures(hashes, doc, len(texts), s)
    with np.errstate(over="ignore"):
        keys = (sig.reshape(len(texts), s.bands, -1).astype(np.uint64) * band_multipliers(s)).sum(axis=2,
                                                                                                  dtype=np.uint64)
    return sig, keys, np.bincount(doc, minlength=len(texts)) == 0


def duplicates_of(sig: np.ndarray, keys: np.ndarray, empty: np.ndarray, threshold: float) -> np.ndarray:
    """For each row, the index of the earliest earlier row it near-duplicates (directly or through a
    chain of near-duplicates), or -1 when it is the first of its kind. Vectorised per band: a row's
    candidates are the first rows of its LSH buckets; the earliest candidate whose estimated
    Jaccard reaches ``threshold`` wins. Memory: the sketches plus a few (n,) arrays."""
    n, bands = keys.shape
    need = threshold * sig.shape[1]
    best = np.full(n, n, dtype=np.int64)
    idx = np.arange(n, dtype=np.int64)
    for b in range(bands):
        order = np.argsort(keys[:, b], kind="stable")
        k = keys[order, b]
        run_start = np.concatenate(([True], k[1:] != k[:-1]))
        first = order[np.maximum.accumulate(np.where(run_start, np.arange(n), 0))]
        rep = np.empty(n, dtype=np.int64)
        rep[order] = first  # first row of each row's bucket in this band (smallest index: stable sort)
        cand = np.flatnonzero((rep < idx) & (rep < best) & ~empty & ~empty[rep])
        if len(cand) == 0:
            continue
        close = np.count_nonzero(sig[cand] == sig[rep[cand]], axis=1) >= need
        best[cand[close]] = rep[cand[close]]
    dup = np.where(best < n, best, -1)
    while True:  # follow chains to the first row of each group
        parent = np.where(dup >= 0, dup, idx)
        root = np.where(dup[parent] >= 0, dup[parent], parent)
        nxt = np.where(dup >= 0, root, -1)
        if np.array_equal(nxt, dup):
            return dup
        dup = nxt


def near_duplicates(texts: Sequence[str], settings: DedupSettings | None = None) -> list[int | None]:
    """For each text, the index of an earlier text whose estimated Jaccard similarity reaches the
    threshold (the first text of its group), else None. The first of a group is kept."""
    s = settings or DedupSettings()
    if not texts:
        return []
    parts = [sketch(texts[i:i + s.batch], s) for i in range(0, len(texts), s.batch)]
    sig, keys, empty = (np.concatenate([p[j] for p in parts]) for j in range(3))
    return [None if d < 0 else int(d) for d in duplicates_of(sig, keys, empty, s.threshold)]
