"""MinHash with LSH banding: the one implementation behind every near-duplicate search.

Three callers, each with its own shingles, permutations, banding and check of a candidate:

* :mod:`distill.qa_pool` (QA pairs): word 3-shingles of the normalised question, 64 values,
  16 bands x 4 rows; a candidate is a duplicate if rapidfuzz's token-set ratio is >= 90 and the
  answers agree.
* :mod:`filters.dedup` (trajectories): word 5-shingles of question + model text, 128 values,
  16 x 8; exact Jaccard of the shingle sets >= 0.8 (or the MinHash estimate, for sketches alone).
* :mod:`filters.contamination` (benchmark questions): character 5-shingles of the compact match
  key, 126 values, 42 x 3; IDF-weighted Jaccard of words or of character shingles.

The MinHash is datasketch's default scheme ("affine32"): each 32-bit shingle hash goes through the
MurmurHash3 32-bit finaliser, then ``a*h + b`` modulo 2**32 with datasketch's permutation parameters
for the seed. For the same shingle hash values the signatures are bit-identical to
``datasketch.MinHash(num_perm, seed, hashfunc=identity)`` (tested), so datasketch's estimator and
its known behaviour carry over. What is not taken from datasketch, measured in ``bench/README.md``
(``minhash_recall.py``): SHA-1 per shingle in Python and one object per record (here all shingles
of a batch are hashed in NumPy and every signature is one ``minimum.reduceat`` per permutation),
and its dict-of-sets LSH (here one sorted array, or one sort, per band).

This module lives in ``distill/`` because :mod:`distill.qa_pool` uses it and imports point one
way, ``crawl <- distill <- filters``; ``filters/`` imports it from here (as it already imports
``distill.qa_rules.normalize_answer``). The alternative, :func:`distill.qa_pool.dedupe_questions`
taking the dedup function as a parameter, would leave distill's own entry point without a default
and move the wiring into ``assets/``.

Shingle hashes are deterministic across processes and runs (no Python ``hash``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np

__all__ = [
    "EMPTY",
    "BandIndex",
    "band_keys",
    "candidate_probability",
    "char_shingle_hashes",
    "duplicates_of",
    "estimated_jaccard",
    "exact_jaccard",
    "fmix32",
    "hash32",
    "mix64",
    "permutations",
    "signatures",
    "word_shingle_hashes",
]

_P = np.uint64(0x100000001B3)  # FNV-64 prime: odd, so invertible modulo 2**64
_Q = np.uint64(0x9E3779B97F4A7C15)
_FMIX32 = (16, np.uint32(0x85EBCA6B), 13, np.uint32(0xC2B2AE35), 16)
#: The signature value of a record without shingles (datasketch's empty MinHash).
EMPTY = np.uint32(0xFFFFFFFF)


# ---------------------------------------------------------------------------
# Shingle hashes
# ---------------------------------------------------------------------------


def _inverse(x: np.uint64) -> np.uint64:
    """Multiplicative inverse of an odd number modulo 2**64 (Newton's iteration)."""
    y = int(x)
    inv = y  # correct to 3 bits for odd y
    for _ in range(6):
        inv = (inv * (2 - y * inv)) % (1 << 64)
    return np.uint64(inv)


_PINV = _inverse(_P)


def word_shingle_hashes(texts: Sequence[str], shingle_words: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(hashes uint32, text index per hash) of the word shingles of every text, in text order.

    Words are runs of ASCII letters/digits or non-ASCII bytes, lower-cased. A text with fewer
    than ``shingle_words`` words gives one shingle of all its words; an empty text gives none.
    Words are hashed with a polynomial over their UTF-8 bytes, shingles with a second polynomial
    over the word hashes (64 bits), of which the top 32 bits are kept.
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
    return hash32(sh), sdoc


def _doc_index(texts: Sequence[str], newline_count_at_word: np.ndarray) -> np.ndarray:
    """Map "newlines before this word" to the text index, since texts may contain newlines."""
    per_text = np.fromiter((t.count("\n") + 1 for t in texts), dtype=np.int64, count=len(texts))
    bounds = np.cumsum(per_text)  # newline count at which each text ends
    return np.searchsorted(bounds, newline_count_at_word, side="right").astype(np.int64)


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on a uint64 array: turns structured inputs into random-looking bits."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def char_shingle_hashes(strings: Sequence[str], shingle_chars: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(hashes uint64, string index per hash) of every character shingle of every string, in order.

    One pass over the concatenated code points: a polynomial hash of every window, mixed with
    SplitMix64, then only the windows that lie inside one string are kept. A string shorter
    than ``shingle_chars`` gives none (callers pad). The 64 bits serve callers that weigh or
    compare shingles exactly; :func:`hash32` gives the MinHash input.
    """
    k = shingle_chars
    lengths = np.fromiter((len(s) for s in strings), dtype=np.int64, count=len(strings))
    counts = np.maximum(lengths - k + 1, 0)
    if not counts.sum():
        return np.empty(0, np.uint64), np.empty(0, np.int64)
    codes = np.frombuffer("".join(strings).encode("utf-32-le"), dtype="<u4").astype(np.uint64)
    n_windows = len(codes) - k + 1
    h = np.zeros(n_windows, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(k):
            h = h * np.uint64(1_000_003) + codes[j : j + n_windows]
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        seg_starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        at = np.arange(counts.sum()) + np.repeat(starts - seg_starts, counts)
        return mix64(h[at]), np.repeat(np.arange(len(strings), dtype=np.int64), counts)


def hash32(h64: np.ndarray) -> np.ndarray:
    """The MinHash input of 64-bit shingle hashes: their top 32 bits."""
    return (h64 >> np.uint64(32)).astype(np.uint32)


# ---------------------------------------------------------------------------
# Signatures and band keys
# ---------------------------------------------------------------------------


@lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutation parameters (a odd, b) for ``seed``."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser (datasketch's pre-mix of every input hash)."""
    s1, m1, s2, m2, s3 = _FMIX32
    h = h ^ (h >> np.uint32(s1))
    h = h * m1
    h = h ^ (h >> np.uint32(s2))
    h = h * m2
    return h ^ (h >> np.uint32(s3))


def signatures(hashes: np.ndarray, doc: np.ndarray, n_docs: int, num_perm: int = 128, seed: int = 1) -> np.ndarray:
    """(n_docs, num_perm) uint32 MinHash signatures of uint32 shingle hashes grouped by ``doc``
    (ascending record index per hash, as the shingle functions return it); a record without
    shingles gets all :data:`EMPTY`. Equal to datasketch's affine32 MinHash of the same values."""
    a, b = permutations(num_perm, seed)
    sig = np.full((n_docs, num_perm), EMPTY, dtype=np.uint32)
    if len(hashes) == 0:
        return sig
    mixed = fmix32(hashes.astype(np.uint32, copy=False))
    present = np.flatnonzero(np.bincount(doc, minlength=n_docs) > 0)
    seg = np.searchsorted(doc, present)
    tmp = np.empty_like(mixed)
    with np.errstate(over="ignore"):
        for p in range(num_perm):
            np.multiply(mixed, a[p], out=tmp)
            np.add(tmp, b[p], out=tmp)
            sig[present, p] = np.minimum.reduceat(tmp, seg)
    return sig


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """The share of equal signature values (datasketch's ``MinHash.jaccard``)."""
    return float(np.count_nonzero(a == b)) / len(a)


@lru_cache(maxsize=8)
def _band_multipliers(rows: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(1, 2**63, size=rows, dtype=np.uint64) | np.uint64(1)


def band_keys(sig: np.ndarray, bands: int, seed: int = 1) -> np.ndarray:
    """(n, bands) uint64: each band of ``num_perm // bands`` consecutive signature values folded
    into one key (a random odd-weighted sum modulo 2**64); two records share a bucket in a band
    when their keys there are equal."""
    n, num_perm = sig.shape
    if num_perm % bands:
        raise ValueError(f"num_perm ({num_perm}) must be a multiple of bands ({bands})")
    rows = num_perm // bands
    with np.errstate(over="ignore"):
        return (sig.reshape(n, bands, rows).astype(np.uint64) * _band_multipliers(rows, seed)).sum(
            axis=2, dtype=np.uint64)


def candidate_probability(jaccard: float, bands: int, rows: int) -> float:
    """The LSH S-curve: the probability that two records of this Jaccard share at least one band."""
    return 1.0 - (1.0 - jaccard**rows) ** bands


# ---------------------------------------------------------------------------
# Candidates
# ---------------------------------------------------------------------------


class BandIndex:
    """Band keys of n records, one sorted array per band, for looking up bucket-mates.

    :meth:`query` serves one record against the index (contamination), :meth:`bucket_mates`
    every indexed record against the others (QA pool dedup). Memory: two (bands, n) arrays.
    """

    def __init__(self, keys: np.ndarray) -> None:
        self.n, self.bands = keys.shape
        order = np.argsort(keys, axis=0, kind="stable")  # within a bucket: ascending record index
        self._order = order.T.copy()
        self._sorted = np.take_along_axis(keys, order, axis=0).T.copy()

    def __len__(self) -> int:
        return self.n

    def _ranges(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) of shape (m, bands): where each of m records' keys sit in each band's array."""
        lo = np.empty(keys.shape, dtype=np.int64)
        hi = np.empty(keys.shape, dtype=np.int64)
        for b in range(self.bands):
            lo[:, b] = np.searchsorted(self._sorted[b], keys[:, b], side="left")
            hi[:, b] = np.searchsorted(self._sorted[b], keys[:, b], side="right")
        return lo, hi

    def query(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Indexed records sharing at least one band with a record of band keys ``keys`` (bands,):
        (record indices ascending, how many bands each shares)."""
        lo, hi = self._ranges(keys.reshape(1, -1))
        hits = [self._order[b, lo[0, b]:hi[0, b]] for b in range(self.bands) if hi[0, b] > lo[0, b]]
        if not hits:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        return np.unique(np.concatenate(hits), return_counts=True)

    def bucket_mates(self) -> list[np.ndarray]:
        """For each indexed record, the other indexed records sharing at least one band with it,
        ascending (the index built from these same keys)."""
        lo = np.empty((self.n, self.bands), dtype=np.int64)
        hi = np.empty((self.n, self.bands), dtype=np.int64)
        for b in range(self.bands):  # runs of equal keys in each sorted band
            k = self._sorted[b]
            start = np.concatenate(([True], k[1:] != k[:-1]))
            run = np.cumsum(start) - 1
            run_lo = np.flatnonzero(start)
            run_hi = np.append(run_lo[1:], self.n)
            lo[self._order[b], b] = run_lo[run]
            hi[self._order[b], b] = run_hi[run]
        none = np.empty(0, np.int64)
        out = [none] * self.n
        shared = np.flatnonzero((hi - lo > 1).any(axis=1))
        for i in shared.tolist():
            parts = [self._order[b, lo[i, b]:hi[i, b]] for b in range(self.bands) if hi[i, b] - lo[i, b] > 1]
            mates = np.unique(np.concatenate(parts))
            out[i] = mates[mates != i]
        return out


def duplicates_of(sig: np.ndarray, keys: np.ndarray, empty: np.ndarray, threshold: float, *,
                  verify: Callable[[np.ndarray], np.ndarray] | None = None, margin: float = 0.1) -> np.ndarray:
    """For each row, the index of the earliest earlier row it near-duplicates (directly or through a
    chain of near-duplicates), or -1 when it is the first of its kind.

    Vectorised per band: a row's candidates are the first rows of its LSH buckets (the earliest
    row of each bucket, so one comparison per row and band). Without ``verify`` a candidate whose
    *estimated* Jaccard reaches ``threshold`` is a duplicate. With ``verify`` (a function of an
    (m, 2) array of (row, candidate) pairs returning a boolean mask, e.g. exact Jaccard >=
    threshold) candidates estimated at ``threshold - margin`` or more are handed to it, so that
    estimation noise (standard deviation sqrt(J(1-J)/num_perm), ~0.035 at 0.8 with 128 values)
    neither drops nor admits a pair. The earliest confirmed candidate wins. Memory: the sketches
    plus a few (n,) arrays and the candidate pairs."""
    n, bands = keys.shape
    need = (threshold - (margin if verify is not None else 0.0)) * sig.shape[1]
    best = np.full(n, n, dtype=np.int64)
    idx = np.arange(n, dtype=np.int64)
    found: list[np.ndarray] = []
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
        if verify is None:
            best[cand[close]] = rep[cand[close]]
        else:
            found.append(np.stack((cand[close], rep[cand[close]]), axis=1))
    if verify is not None and found:
        pairs = np.unique(np.concatenate(found), axis=0)
        pairs = pairs[np.asarray(verify(pairs), dtype=bool)]
        np.minimum.at(best, pairs[:, 0], pairs[:, 1])
    dup = np.where(best < n, best, -1)
    while True:  # follow chains to the first row of each group
        parent = np.where(dup >= 0, dup, idx)
        root = np.where(dup[parent] >= 0, dup[parent], parent)
        nxt = np.where(dup >= 0, root, -1)
        if np.array_equal(nxt, dup):
            return dup
        dup = nxt


def exact_jaccard(hashes: np.ndarray, doc: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Jaccard of the shingle-hash sets of each (i, j) record pair, given the shingle hashes of the
    records grouped by ``doc`` (the output of a shingle function)."""
    bounds = np.searchsorted(doc, np.arange(int(pairs.max(initial=-1)) + 2))
    sets: dict[int, np.ndarray] = {}

    def of(r: int) -> np.ndarray:
        got = sets.get(r)
        if got is None:
            got = sets[r] = np.unique(hashes[bounds[r]:bounds[r + 1]])
        return got

    out = np.zeros(len(pairs), dtype=np.float64)
    for p, (i, j) in enumerate(pairs.tolist()):
        a, b = of(i), of(j)
        inter = len(np.intersect1d(a, b, assume_unique=True))
        union = len(a) + len(b) - inter
        out[p] = inter / union if union else 0.0
    return out
