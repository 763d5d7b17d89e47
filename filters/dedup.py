"""Near-duplicate trajectories: MinHash over word shingles with LSH banding, vectorised.

Why not ``datasketch`` directly: it hashes every shingle with SHA-1 in Python and builds one
object per record, which is the bottleneck at a million trajectories (see
``bench/filters_throughput.py``). This module hashes all shingles of a batch in NumPy and
computes every signature with one pass per permutation. The MinHash itself is datasketch's
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


class NearDuplicateIndex:
    """Streaming LSH: feed batches in order; each text is compared with the kept texts before it."""

    def __init__(self, settings: DedupSettings | None = None) -> None:
        self.s = settings or DedupSettings()
        if self.s.num_perm % self.s.bands:
            raise ValueError("num_perm must be a multiple of bands")
        self.rows = self.s.num_perm // self.s.bands
        rng = np.random.default_rng(self.s.seed)
        self._band_mult = rng.integers(1, 2**63, size=self.rows, dtype=np.uint64) | np.uint64(1)
        self._buckets: dict[tuple[int, int], list[int]] = {}
        self._kept: list[np.ndarray] = []  # signatures of kept texts, by kept position
        self._kept_index: list[int] = []  # global index of each kept text
        self.seen = 0

    def sketch(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(signatures, band keys, has-no-shingles) of a batch: the parallelisable part of :meth:`add`."""
        hashes, doc = shingle_hashes(texts, self.s.shingle_words)
        sig = signatures(hashes, doc, len(texts), self.s)
        with np.errstate(over="ignore"):
            keys = (sig.reshape(len(texts), self.s.bands, self.rows).astype(np.uint64) * self._band_mult).sum(
                axis=2, dtype=np.uint64)
        return sig, keys, np.bincount(doc, minlength=len(texts)) == 0

    def add(self, texts: Sequence[str]) -> list[int | None]:
        """For each text: the global index of the earlier kept text it duplicates, or None (kept)."""
        return self.add_sketch(*self.sketch(texts))

    def add_sketch(self, sig: np.ndarray, keys: np.ndarray, empty: np.ndarray) -> list[int | None]:
        """:meth:`add` for a batch sketched elsewhere (e.g. in a worker process), in stream order."""
        out: list[int | None] = []
        buckets, kept = self._buckets, self._kept
        need = self.s.threshold * self.s.num_perm
        for i in range(len(sig)):
            gi = self.seen + i
            if empty[i]:
                out.append(None)
                continue
            row = keys[i].tolist()
            dup = None
            checked: set[int] = set()
            for band, key in enumerate(row):
                for pos in buckets.get((band, key), ()):
                    if pos in checked:
                        continue
                    checked.add(pos)
                    if np.count_nonzero(kept[pos] == sig[i]) >= need:
                        dup = self._kept_index[pos]
                        break
                if dup is not None:
                    break
            if dup is None:
                pos = len(kept)
                kept.append(sig[i])
                self._kept_index.append(gi)
                for band, key in enumerate(row):
                    buckets.setdefault((band, key), []).append(pos)
            out.append(dup)
        self.seen += len(sig)
        return out


def near_duplicates(texts: Sequence[str], settings: DedupSettings | None = None) -> list[int | None]:
    """For each text, the index of an earlier kept text whose estimated Jaccard similarity
    reaches the threshold, else None. The first of a group is kept, later ones point at it."""
    s = settings or DedupSettings()
    index = NearDuplicateIndex(s)
    out: list[int | None] = []
    for start in range(0, len(texts), s.batch):
        out += index.add(texts[start:start + s.batch])
    return out
