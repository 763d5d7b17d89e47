"""Near-duplicate recall and speed: distill.minhash (as filters.dedup uses it) vs datasketch.

    .venv/bin/python bench/minhash_recall.py [--rows 100000] [--skip-datasketch]

Texts are the trajectories of ``bench/filters_throughput.py`` (question + what the model wrote),
generated before timing. The generator plants a near-copy in ~5% of rows (row ``i`` copies row
``i - 1 - i % 7`` with its first word changed), so every planted pair is known. One process;
only the near-duplicate stage is timed: sketching (shingles, MinHash, band keys) and the LSH
search over all rows in order, the first row of each group kept.

Contestants:

* ``seekforge estimate``: ``filters.dedup.sketch`` + ``duplicates_of`` (16 bands x 8 rows, a
  candidate is a duplicate when its estimated Jaccard reaches 0.8); the streaming path of
  ``filters_throughput.py``, which holds sketches only.
* ``seekforge exact``: ``filters.dedup.near_duplicates`` (the pipeline's call): the same
  candidates down to an estimate of 0.7, confirmed by the exact Jaccard of the shingle sets.
* ``datasketch``: what ``filters_throughput.py`` runs as its baseline: ``datasketch.MinHash``
  (128 permutations, SHA-1 of whitespace 5-shingles, ``update_batch``) and
  ``MinHashLSH(threshold=0.8)``, which picks 9 bands x 13 rows; every candidate the query
  returns counts as a duplicate (no similarity check).
* ``datasketch verified``: the same, a candidate counts only if ``MinHash.jaccard`` >= 0.8.
* ``datasketch 16x8 verified``: ``MinHashLSH(num_perm=128, params=(16, 8))``, verified.

Scored against exact Jaccard over each contestant's own shingles (ours: ASCII letter/digit
runs; datasketch's: whitespace-split words, so ``<think>word`` is one word): *recall* is the
share of planted pairs of exact Jaccard >= 0.8 whose later row is flagged; *false flags* are
flagged rows whose exact Jaccard with the row they were matched to (and with their planted
source, if any) is below 0.8.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np

from distill import minhash
from filters.dedup import DedupSettings, duplicates_of, near_duplicates, sketch
from filters.rules import model_text
from filters_throughput import _shingles, make

THRESHOLD = 0.8


def planted(rows: int, seed: int) -> dict[int, int]:
    """Row -> the earlier row it near-copies (as ``filters_throughput.make`` plants them)."""
    out = {}
    for i in range(8, rows):
        if (i * 2654435761 + seed) % 100 < 5:
            out[i] = i - 1 - (i % 7)
    return out


class Sets(dict):  # type: ignore[type-arg]
    """Row -> shingle set, computed on first use."""

    def __init__(self, fn) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.fn = fn

    def __missing__(self, row: int) -> set:  # type: ignore[type-arg]
        got = self[row] = self.fn(row)
        return got


def jaccard(a: set, b: set) -> float:  # type: ignore[type-arg]
    return len(a & b) / len(a | b) if a or b else 0.0


def score(name: str, flagged: dict[int, list[int]], truth: dict[int, int], sets: Sets, seconds: float,
          rows: int) -> None:
    good = [i for i, b in truth.items() if jaccard(sets[i], sets[b]) >= THRESHOLD]
    found = sum(i in flagged for i in good)
    false = 0
    for i, matches in flagged.items():
        ok = any(jaccard(sets[i], sets[m]) >= THRESHOLD for m in matches)
        if not ok and i in truth:
            ok = jaccard(sets[i], sets[truth[i]]) >= THRESHOLD
        false += not ok
    print(f"{name:<26} {seconds:7.1f} s {rows / seconds:>8,.0f} rows/s  flagged {len(flagged):>7,}  "
          f"recall {found:,}/{len(good):,} = {found / max(len(good), 1):.4f}  missed {len(good) - found:,}  "
          f"false flags {false:,} ({false / max(len(flagged), 1):.2%})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-datasketch", action="store_true")
    a = ap.parse_args()
    texts = []
    for i in range(a.rows):
        t = make(i, a.seed)
        texts.append(t.question + "\n" + model_text(t))
    truth = planted(a.rows, a.seed)
    print(f"{a.rows:,} rows, {len(truth):,} planted near-copies", flush=True)
    s = DedupSettings()

    ours_sets = Sets(lambda r: set(minhash.word_shingle_hashes([texts[r]], s.shingle_words)[0].tolist()))
    t0 = time.perf_counter()
    parts = [sketch(texts[i:i + s.batch], s) for i in range(0, len(texts), s.batch)]
    sig, keys, empty = (np.concatenate([p[j] for p in parts]) for j in range(3))
    t1 = time.perf_counter()
    dup = duplicates_of(sig, keys, empty, s.threshold)
    t2 = time.perf_counter()
    score("seekforge estimate", {i: [int(d)] for i, d in enumerate(dup) if d >= 0}, truth, ours_sets, t2 - t0, a.rows)
    t3 = time.perf_counter()
    exact = near_duplicates(texts, s)
    t4 = time.perf_counter()
    score("seekforge exact", {i: [d] for i, d in enumerate(exact) if d is not None}, truth, ours_sets, t4 - t3, a.rows)
    print(f"  (sketch {t1 - t0:.1f} s, LSH {t2 - t1:.1f} s)")
    if a.skip_datasketch:
        return

    import datasketch

    ds_sets = Sets(lambda r: set(_shingles(texts[r])))
    t0 = time.perf_counter()
    mhs = []
    for text in texts:
        m = datasketch.MinHash(num_perm=128, seed=1)
        m.update_batch(_shingles(text))
        mhs.append(m)
    t_sketch = time.perf_counter() - t0
    print(f"  (datasketch MinHash objects {t_sketch:.1f} s)")
    for name, kwargs, verify in (("datasketch", {"threshold": THRESHOLD}, False),
                                 ("datasketch verified", {"threshold": THRESHOLD}, True),
                                 ("datasketch 16x8 verified", {"params": (16, 8)}, True)):
        t0 = time.perf_counter()
        lsh = datasketch.MinHashLSH(num_perm=128, **kwargs)
        flagged: dict[int, list[int]] = {}
        for i, m in enumerate(mhs):
            cands = sorted(int(c) for c in lsh.query(m))
            if verify:
                cands = [c for c in cands if m.jaccard(mhs[c]) >= THRESHOLD][:1]
            if cands:
                flagged[i] = cands
            else:
                lsh.insert(str(i), m, check_duplication=False)
        t_lsh = time.perf_counter() - t0
        score(name, flagged, truth, ds_sets, t_sketch + t_lsh, a.rows)
        print(f"  (b x r = {lsh.b} x {lsh.r}, LSH {t_lsh:.1f} s)")


if __name__ == "__main__":
    main()
