"""Filter throughput: validity + repetition + MinHash near-duplicates over synthetic trajectories.

    .venv/bin/python bench/filters_throughput.py [--rows 1000000] [--baseline-rows N] [--workers 2]

Both contestants run the same validity and repetition rules (``filters.rules``) in
``--workers`` processes on the same generated trajectories; they differ only in the
near-duplicate stage:

* **seekforge**: workers sketch their chunk with ``filters.dedup`` (``distill.minhash``: NumPy shingle
  hashes, one pass per permutation), the parent runs the LSH over the sketches in order, the
  MinHash estimate deciding (the pipeline's ``near_duplicates`` confirms by exact Jaccard).
* **datasketch baseline**: workers build one ``datasketch.MinHash`` per trajectory over
  whitespace-split word 5-shingles (its default SHA-1 hashing, ``update_batch``), the parent
  queries and inserts into a ``datasketch.MinHashLSH`` (threshold 0.8, 128 permutations) in
  order; every candidate its query returns counts as a duplicate (no similarity check), so its
  near-dup count includes false flags that grow with the square of the rows: recall is measured
  by ``bench/minhash_recall.py``.

Prints rows/s, peak RSS (parent + workers, from ``getrusage``) and the ratio. Rows are
generated inside the workers from (seed, index), so the input never sits in memory.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from distill.agent.trajectory import Step, Trajectory
from filters.dedup import DedupSettings, duplicates_of, sketch
from filters.rules import RuleSettings, check_repetition, check_validity, model_text

TOOLS = frozenset({"search", "visit"})
TOOLS_JSON = '[{"name": "search"}, {"name": "visit"}]'
VOCAB = [f"{a}{b}" for a in ("ka", "lo", "mi", "ne", "su", "ta", "ve", "ro") for b in range(250)]
CHUNK = 10_000


_POOL: list[str] = []


def _pool() -> list[str]:
    """20,000 distinct thoughts (15-60 words), built once per process from a fixed seed."""
    if not _POOL:
        rng = random.Random(12345)
        _POOL.extend(" ".join(rng.choice(VOCAB) for _ in range(rng.randint(15, 60))) for _ in range(20_000))
    return _POOL


def make(i: int, seed: int) -> Trajectory:
    """Trajectory ``i``: 2-6 turns whose thoughts are drawn from a fixed pool (so generating
    costs little next to the filters); ~10% repeat a 10-word phrase 5 times, ~5% near-copy an
    earlier row (same draw, one word changed), ~3% carry broken tool-call JSON. Steps are
    built directly (the generator knows its actions), as the rollout loop builds them."""
    pool = _pool()
    kind = (i * 2654435761 + seed) % 100
    base = i - 1 - (i % 7) if kind < 5 and i > 7 else i
    h = (base * 6364136223846793005 + seed * 1442695040888963407) % (1 << 63)
    turns = 2 + h % 5
    question = pool[h % 20_000][:80] + "?"
    messages = [{"role": "system", "content": "You are a research agent."}, {"role": "user", "content": question}]
    steps: list[Step] = []
    phrase = pool[(h >> 7) % 20_000].split()[:10]
    for t in range(turns):
        think = pool[(h >> (3 * t + 11)) % 20_000]
        if base != i and t == 0:
            think = "changed " + think.split(" ", 1)[1]
        if 5 <= kind < 15:
            think = think + " " + " ".join(phrase) + (" x" if t else "")
            if t == 0:
                think += (" " + " ".join(phrase)) * 4
        query = f"{VOCAB[(h >> t) % len(VOCAB)]} {t}"
        if t == turns - 1:
            answer = VOCAB[h % len(VOCAB)]
            content = f"<think>{think}</think>\n<answer>{answer}</answer>"
            steps.append(Step(index=t, think=think, action="answer", answer=answer))
        elif 15 <= kind < 18:
            call = '{"name": "search", "arguments": {"query": ['
            content = f"<think>{think}</think>\n<tool_call>{call}</tool_call>"
            steps.append(Step(index=t, think=think, action="invalid", tool_call=call, invalid_reason="bad_json"))
        else:
            args = '{"query": ["' + query + '"]}'
            call = '{"name": "search", "arguments": ' + args + "}"
            content = f"<think>{think}</think>\n<tool_call>{call}</tool_call>"
            steps.append(Step(index=t, think=think, action="search", tool_call=call, arguments=args))
        messages.append({"role": "assistant", "content": content})
        if t < turns - 1:
            messages.append({"role": "tool", "content": "\nresults for " + query + "\n"})
    return Trajectory(question_id=str(base), question=question, messages=messages, steps=steps,
                      final_answer=steps[-1].answer, finish_reason="answer", tools_json=TOOLS_JSON, seed=i)


def _rules(trajs: list[Trajectory]) -> Counter[str]:
    counts: Counter[str] = Counter()
    rules = RuleSettings()
    for t in trajs:
        reasons = check_validity(t, rules) + check_repetition(t, rules)
        counts[reasons[0] if reasons else "pass"] += 1
    return counts


def ours_chunk(args: tuple[int, int, int]) -> tuple[int, Counter[str], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    start, stop, seed = args
    trajs = [make(i, seed) for i in range(start, stop)]
    counts = _rules(trajs)
    return start, counts, sketch([t.question + "\n" + model_text(t) for t in trajs], DedupSettings())


def _shingles(text: str, k: int = 5) -> list[bytes]:
    words = text.lower().split()
    if len(words) < k:
        return [" ".join(words).encode()] if words else []
    return [" ".join(words[j:j + k]).encode() for j in range(len(words) - k + 1)]


def baseline_chunk(args: tuple[int, int, int]) -> tuple[int, Counter[str], list]:  # type: ignore[type-arg]
    import datasketch

    start, stop, seed = args
    trajs = [make(i, seed) for i in range(start, stop)]
    counts = _rules(trajs)
    out = []
    for t in trajs:
        m = datasketch.MinHash(num_perm=128, seed=1)
        m.update_batch(_shingles(t.question + "\n" + model_text(t)))
        out.append(m.hashvalues)
    return start, counts, out


def run(which: str, rows: int, workers: int, seed: int) -> dict[str, float]:
    t0 = time.perf_counter()
    chunks = [(s, min(s + CHUNK, rows), seed) for s in range(0, rows, CHUNK)]
    counts: Counter[str] = Counter()
    dups = 0
    with ProcessPoolExecutor(workers) as pool:
        if which == "seekforge":
            n = rows
            s = DedupSettings()
            sig = np.empty((n, s.num_perm), dtype=np.uint32)
            keys = np.empty((n, s.bands), dtype=np.uint64)
            empty = np.empty(n, dtype=bool)
            for start, c, (sg, ky, em) in pool.map(ours_chunk, chunks):
                counts += c
                sig[start:start + len(sg)], keys[start:start + len(sg)], empty[start:start + len(sg)] = sg, ky, em
            dups = int(np.count_nonzero(duplicates_of(sig, keys, empty, s.threshold) >= 0))
        else:
            import datasketch

            lsh = datasketch.MinHashLSH(threshold=0.8, num_perm=128)
            for start, c, sigs in pool.map(baseline_chunk, chunks):
                counts += c
                for j, hv in enumerate(sigs):
                    m = datasketch.MinHash(num_perm=128, seed=1, hashvalues=hv, scheme="affine32")
                    if lsh.query(m):
                        dups += 1
                    else:
                        lsh.insert(str(start + j), m, check_duplication=False)
    elapsed = time.perf_counter() - t0
    return {"rows": rows, "seconds": elapsed, "rows_per_s": rows / elapsed, "near_dups": dups,
            "invalid": rows - counts["pass"] - counts["repeated_ngram"] - counts["redundant_thought"],
            "repeated_ngram": counts["repeated_ngram"]}


def peak_rss_gb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + kids) / 1024 / 1024  # kB -> GB; children: the largest child, added as an upper bound


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--baseline-rows", type=int, default=0, help="rows for the baseline (default: same as --rows)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-baseline", action="store_true")
    a = ap.parse_args()
    ours = run("seekforge", a.rows, a.workers, a.seed)
    ours["peak_rss_gb"] = peak_rss_gb()
    print(f"seekforge   rows={ours['rows']:>9,} {ours['seconds']:8.1f} s {ours['rows_per_s']:>10,.0f} rows/s "
          f"peak RSS {ours['peak_rss_gb']:.2f} GB  near-dups {ours['near_dups']:,} invalid {ours['invalid']:,} "
          f"repeated-ngram {ours['repeated_ngram']:,}", flush=True)
    if a.skip_baseline:
        return
    base = run("datasketch", a.baseline_rows or a.rows, a.workers, a.seed)
    base["peak_rss_gb"] = peak_rss_gb()
    print(f"datasketch  rows={base['rows']:>9,} {base['seconds']:8.1f} s {base['rows_per_s']:>10,.0f} rows/s "
          f"peak RSS {base['peak_rss_gb']:.2f} GB (cumulative)  near-dups {base['near_dups']:,}")
    print(f"ratio (rows/s): {ours['rows_per_s'] / base['rows_per_s']:.2f}x the datasketch baseline")


if __name__ == "__main__":
    main()
