"""Near-duplicate trajectories: MinHash over word 5-shingles with LSH banding, vectorised.

The MinHash, the shingles and the LSH are :mod:`distill.minhash`, the one implementation that
QA pool dedup and benchmark contamination use too (datasketch's affine32 MinHash, bit-identical
for the same shingle hashes; why it is computed with NumPy rather than by datasketch's objects:
``bench/README.md``, ``minhash_recall.py``). This module holds what is particular to
trajectories: the settings, sketches of batches that concatenate into the sketch of a stream
(workers can sketch their chunks), and :func:`near_duplicates`, which keeps the first of each
group. A later text is a near-duplicate when the exact Jaccard of its shingle set with an earlier
text's reaches the threshold: LSH proposes the pairs, the MinHash estimate (128 values, standard
deviation ~0.035 at 0.8) keeps those within 0.1 of the threshold, and the shingle sets of those
few pairs decide (``exact=False``: the estimate decides, as the streaming path of the benchmark
does with sketches only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from distill import minhash
from distill.minhash import duplicates_of

__all__ = ["DedupSettings", "duplicates_of", "near_duplicates", "sketch"]


@dataclass(frozen=True, slots=True)
class DedupSettings:
    threshold: float = 0.8  # estimated Jaccard at or above which a later text duplicates a kept one
    num_perm: int = 128
    bands: int = 16  # bands x rows = num_perm; 16 x 8 puts the LSH S-curve's midpoint near 0.7
    shingle_words: int = 5
    seed: int = 1
    batch: int = 20_000
    exact: bool = True  # confirm candidates by exact shingle Jaccard (else by the MinHash estimate)


def sketch(texts: Sequence[str], settings: DedupSettings | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(signatures (n, num_perm) uint32, band keys (n, bands) uint64, has-no-shingles (n,) bool).

    The parallelisable part: sketches of consecutive batches (e.g. from worker processes)
    concatenate into the sketch of the whole stream."""
    s = settings or DedupSettings()
    if s.num_perm % s.bands:
        raise ValueError("num_perm must be a multiple of bands")
    hashes, doc = minhash.word_shingle_hashes(texts, s.shingle_words)
    sig = minhash.signatures(hashes, doc, len(texts), s.num_perm, s.seed)
    return sig, minhash.band_keys(sig, s.bands, s.seed), np.bincount(doc, minlength=len(texts)) == 0


def near_duplicates(texts: Sequence[str], settings: DedupSettings | None = None) -> list[int | None]:
    """For each text, the index of an earlier text whose estimated Jaccard similarity reaches the
    threshold (the first text of its group), else None. The first of a group is kept."""
    s = settings or DedupSettings()
    if not texts:
        return []
    parts = [sketch(texts[i:i + s.batch], s) for i in range(0, len(texts), s.batch)]
    sig, keys, empty = (np.concatenate([p[j] for p in parts]) for j in range(3))

    def exact(pairs: np.ndarray) -> np.ndarray:
        rows = np.unique(pairs)
        hashes, doc = minhash.word_shingle_hashes([texts[r] for r in rows.tolist()], s.shingle_words)
        return minhash.exact_jaccard(hashes, doc, np.searchsorted(rows, pairs)) >= s.threshold

    dup = duplicates_of(sig, keys, empty, s.threshold, verify=exact if s.exact else None)
    return [None if d < 0 else int(d) for d in dup]
