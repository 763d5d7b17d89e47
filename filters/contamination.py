"""Benchmark decontamination: find training questions that copy a benchmark question.

Why this exists: synthesized QA is written by teacher LLMs that have read the public
benchmarks, and crawled pages quote them, so some generated questions are benchmark
questions again -- verbatim, re-cased, re-punctuated or with a word or two changed.
Training on them inflates the scores we report on those benchmarks. This module
flags such copies so that the pipeline (or ``seekforge decontaminate``) can drop them.

How a question is matched (:meth:`BenchmarkIndex.match`), cheapest first:

``exact``
    The normalised question equals a normalised benchmark question. Normalisation
    (:func:`match_key`) is the HotpotQA answer normalisation (lower-case, punctuation
    deleted, articles a/an/the removed, whitespace collapsed), applied after Unicode
    NFKC and with *all* Unicode punctuation deleted too, because question files use
    curly quotes and dashes that the ASCII-only official rule keeps.
``ngram``
    Word overlap weighted by rarity: the IDF-weighted Jaccard of the two word
    multisets (IDF over the benchmark questions) is at least :data:`WORD_THRESHOLD`.
    Weighting is what separates "a word or two reworded" from "a different question
    on the same template": rewording touches common words ("what" -> "which",
    "film" -> "movie", an added "originally") that weigh little, while a different
    question changes the rare words -- the entities -- that weigh most. Word order is
    not used, so a reordered copy ("A or B: who was older?") is caught too.
``minhash``
    The same, over character 5-gram shingles of the normalised question with spaces
    removed (IDF of each shingle over the benchmark): at least :data:`CHAR_THRESHOLD`.
    It catches what word overlap misses, spelling and spacing variants of the rare
    words themselves ("Dogers"/"Dodgers", "magic-themed"/"magic themed",
    "whodesigned"). Unweighted shingle Jaccard was tried first and rejected: on long
    templates ("What is the name of the river that flows through A and B?") two
    questions that differ in one entity shared enough template shingles to pass.

Candidates for the two near kinds come from MinHash LSH over the character shingles
(:data:`NUM_BANDS` bands of :data:`ROWS_PER_BAND` rows: a pair with plain shingle
Jaccard 0.3 becomes a candidate with probability ~0.68, 0.4 with ~0.94, 0.5 with
>0.99); the :data:`MAX_CANDIDATES` sharing most bands are verified with the measures
above, so LSH only decides what gets looked at, never what matches. The MinHash and
the banding are :mod:`distill.minhash`, the one implementation that QA pool and
trajectory dedup use too (datasketch's affine32 MinHash, computed with NumPy over all
questions at once; for 100k benchmark questions datasketch's per-object MinHash and
dict-of-sets LSH took ~30 s and ~600 MB, the vectorised build ~5-10 s on two busy
cores with one sorted array of band keys per band).

Questions of fewer than :data:`MIN_NEAR_TOKENS` normalised words are only matched
exactly: one changed word in "Who wrote Dune?" makes a different question.

Thresholds, measured on the 300-question HotpotQA dev sample (``tests/test_contamination.py``):
copies with one random word substituted, inserted or deleted are all caught, with two
~99%, with three ~94%; 90 other HotpotQA dev questions and 32 hand-written unrelated or
same-entity questions are all kept (the closest different HotpotQA question scores
0.43 on words). Known limit: a question that keeps most of a long benchmark question
word for word and changes one name or one question word ("When was X born?" ->
"Where was X born?") is flagged. Telling that from rewording needs semantics; it costs
one training question, while the opposite error would leak a benchmark answer.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import numpy as np

from crawl.drop_reasons import BENCHMARK_EXACT, BENCHMARK_NEAR
from distill import minhash
from distill.qa_rules import normalize_answer

log = logging.getLogger(__name__)

__all__ = [
    "CHAR_THRESHOLD",
    "MIN_NEAR_TOKENS",
    "WORD_THRESHOLD",
    "BenchmarkFileError",
    "BenchmarkIndex",
    "Match",
    "MatchKind",
    "iter_jsonl",
    "load_questions",
    "match_key",
    "read_text",
]

MatchKind = Literal["exact", "ngram", "minhash"]

#: IDF-weighted word Jaccard at or above which two questions are near copies.
WORD_THRESHOLD: Final = 0.6
#: IDF-weighted character 5-gram shingle Jaccard at or above which two questions are near copies.
CHAR_THRESHOLD: Final = 0.55
#: Shorter questions (in normalised words) are matched exactly only.
MIN_NEAR_TOKENS: Final = 4
#: Character shingle length.
SHINGLE_CHARS: Final = 5
#: LSH banding: NUM_BANDS * ROWS_PER_BAND MinHash values per question.
NUM_BANDS: Final = 42
ROWS_PER_BAND: Final = 3
#: At most this many LSH candidates (those sharing the most bands) are verified.
MAX_CANDIDATES: Final = 32
#: Shingle document frequencies are counted in hash buckets, about 256 per question
#: (one has ~70 shingles, many of them its own) and at most 2**22 (16 MB), so that
#: collisions rarely make a rare shingle look common.
_MIN_BUCKET_BITS: Final = 12
_MAX_BUCKET_BITS: Final = 22

_NON_WORD = re.compile(r"[^\w\s]")


@dataclass(frozen=True, slots=True)
class Match:
    """A benchmark question that a tested question copies.

    ``score`` is 1.0 for ``exact``, else the similarity that passed its threshold
    (IDF-weighted Jaccard of words for ``ngram``, of character shingles for ``minhash``).
    """

    question: str
    file: str
    kind: MatchKind
    score: float

    @property
    def reason(self) -> str:
        """The drop reason a match gives a record: ``benchmark_exact`` or ``benchmark_near``."""
        return BENCHMARK_EXACT if self.kind == "exact" else BENCHMARK_NEAR


class BenchmarkFileError(ValueError):
    """A benchmark file that cannot be read or holds no questions (the message names it)."""


def match_key(question: str) -> str:
    """The normalised form compared for ``exact`` matches (see the module docstring)."""
    return normalize_answer(_NON_WORD.sub("", unicodedata.normalize("NFKC", question)))


# ---------------------------------------------------------------------------
# Loading benchmark files
# ---------------------------------------------------------------------------


def load_questions(path: str | Path, *, question_field: str = "question") -> list[str]:
    """The questions of one benchmark file: JSON, JSONL (optionally .gz) or Parquet.

    JSON may be a list of objects or an object holding such a list under any key
    (``{"data": [...]}``). Records without a string ``question_field`` are skipped
    (counted in a log warning); a file that yields no question at all raises
    :class:`BenchmarkFileError`, naming the file, because silently decontaminating
    against nothing is the one failure a user would never notice.
    """
    path = Path(path)
    suffixes = [s.lower() for s in path.suffixes]
    try:
        if suffixes and suffixes[-1] == ".parquet":
            values = _parquet_values(path, question_field)
        else:
            values = _json_values(path, suffixes, question_field)
    except OSError as exc:
        raise BenchmarkFileError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    questions = [v for v in values if isinstance(v, str) and v.strip()]
    if not questions:
        raise BenchmarkFileError(f"{path}: no records with a text field {question_field!r}")
    if len(questions) < len(values):
        log.warning("%s: %d of %d records have no text %r field; skipped", path,
                    len(values) - len(questions), len(values), question_field)
    return questions


def _parquet_values(path: Path, field: str) -> list[object]:
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid & co. for non-Parquet bytes
        raise BenchmarkFileError(f"{path}: not a readable Parquet file ({exc})") from exc
    if field not in schema.names:
        raise BenchmarkFileError(f"{path}: no column {field!r} (columns: {', '.join(schema.names)})")
    return pq.read_table(path, columns=[field]).column(field).to_pylist()


def _json_values(path: Path, suffixes: list[str], field: str) -> list[object]:
    text = read_text(path)
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    lines_first = bool(suffixes) and suffixes[-1] in (".jsonl", ".ndjson")
    if not lines_first:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            doc = None  # maybe JSONL under a .json name: try that below
        else:
            return _records_values(doc, path, field)
    return [_record_value(rec, field) for _, rec in iter_jsonl(text, path)]


def read_text(path: Path) -> str:
    """The text of a benchmark file, gunzipped when it is gzip (by ``.gz`` name or by its magic bytes).

    Shared with :mod:`train.benchmarks`, so both readers give the same messages for the
    same broken file. Raises :class:`BenchmarkFileError` naming ``path``.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BenchmarkFileError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if path.suffix.lower() == ".gz" or raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise BenchmarkFileError(f"{path}: not a readable gzip file ({exc})") from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BenchmarkFileError(f"{path}: not UTF-8 text (is it Parquet without a .parquet name?)") from exc


def iter_jsonl(text: str, path: Path) -> Iterator[tuple[int, object]]:
    """(1-based line number, parsed value) of each non-blank line; a broken line raises
    :class:`BenchmarkFileError` naming ``path:line``."""
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield lineno, json.loads(line)
        except json.JSONDecodeError as exc:
            raise BenchmarkFileError(f"{path}:{lineno}: neither JSON nor JSON lines ({exc.msg})") from None


def _record_value(rec: object, field: str) -> object:
    return rec.get(field) if isinstance(rec, dict) else None


def _records_values(doc: object, path: Path, field: str) -> list[object]:
    """Field values of a JSON list of objects, or of the list an object holds."""
    if isinstance(doc, list):
        return [_record_value(rec, field) for rec in doc]
    if isinstance(doc, dict):
        for value in doc.values():  # the first list whose objects carry the field
            if isinstance(value, list) and any(isinstance(r, dict) and field in r for r in value):
                return [_record_value(rec, field) for rec in value]
        raise BenchmarkFileError(f"{path}: a JSON object with no list of records carrying {field!r}")
    raise BenchmarkFileError(f"{path}: JSON {type(doc).__name__}, not a list of records")


# ---------------------------------------------------------------------------
# Character shingles and their MinHash (distill.minhash)
# ---------------------------------------------------------------------------


def _compact(key: str) -> str:
    """The shingled form: the match key without spaces, padded to one full shingle."""
    return key.replace(" ", "").ljust(SHINGLE_CHARS, "\0")


def _shingles(keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(64-bit hashes, key index per hash) of the character shingles of the compact keys."""
    return minhash.char_shingle_hashes([_compact(k) for k in keys], SHINGLE_CHARS)


def _band_keys(hashes: np.ndarray, doc: np.ndarray, n: int) -> np.ndarray:
    """(n, NUM_BANDS) LSH band keys of the MinHash signatures of ``n`` keys' shingles."""
    sig = minhash.signatures(minhash.hash32(hashes), doc, n, NUM_BANDS * ROWS_PER_BAND)
    return minhash.band_keys(sig, NUM_BANDS)


def _unique(x: np.ndarray) -> np.ndarray:
    """Sorted unique values (sort-based: NumPy's hash-based unique is slow on uint64)."""
    x = np.sort(x)
    return x[np.concatenate(([True], x[1:] != x[:-1]))] if len(x) else x


# ---------------------------------------------------------------------------
# The index
# ---------------------------------------------------------------------------


class BenchmarkIndex:
    """Benchmark questions, indexed for :meth:`match` (exact lookup + MinHash LSH).

    Build it once per set of benchmark files (:meth:`from_files`, or the constructor
    with ``(question, file)`` pairs) and query it for every training question. It is
    immutable: the LSH keeps one sorted key array per band, and document frequencies
    of words (a Counter) and of character shingles (counts in at most 2**22 hash
    buckets, so that 100k questions' millions of shingles cost 16 MB), all built once.
    """

    def __init__(self, questions: Iterable[tuple[str, str]], *, batch: int = 20_000) -> None:
        self._exact: dict[str, tuple[str, str]] = {}
        keys: list[str] = []
        for question, file in questions:
            key = match_key(question)
            if key and key not in self._exact:
                self._exact[key] = (question, file)
                keys.append(key)
        self._keys = keys
        self._n = len(keys)
        word_df: Counter[str] = Counter()
        for key in keys:
            word_df.update(set(key.split()))
        self._word_df = word_df
        self._bucket_bits = min(_MAX_BUCKET_BITS, max(_MIN_BUCKET_BITS, (256 * len(keys)).bit_length()))
        self._shingle_df = np.zeros(1 << self._bucket_bits, dtype=np.uint32)
        bits = np.uint64(self._bucket_bits)

        # Near matching covers only questions long enough for it.
        near = [i for i, k in enumerate(keys) if k.count(" ") + 1 >= MIN_NEAR_TOKENS]
        self._near_ids = np.array(near, dtype=np.int64)
        band_keys = np.empty((len(near), NUM_BANDS), dtype=np.uint64)
        is_near = np.zeros(len(keys), dtype=bool)
        is_near[near] = True
        for lo in range(0, len(keys), batch):  # bounded memory for big benchmarks
            chunk = keys[lo : lo + batch]
            hashes, doc = _shingles(chunk)
            # Count each bucket once per question: unique (question, bucket) pairs.
            pairs = _unique((doc.astype(np.uint64) << bits) | (hashes >> (np.uint64(64) - bits)))
            self._shingle_df += np.bincount((pairs & np.uint64(len(self._shingle_df) - 1)).astype(np.int64),
                                            minlength=len(self._shingle_df)).astype(np.uint32)
            sel = is_near[lo : lo + len(chunk)]
            if sel.any():
                keep = sel[doc]
                rank = np.cumsum(sel) - 1  # a near question's index among the chunk's near ones
                at = int(np.searchsorted(self._near_ids, lo))
                n_sel = int(sel.sum())
                band_keys[at : at + n_sel] = _band_keys(hashes[keep], rank[doc[keep]], n_sel)
        self._lsh = minhash.BandIndex(band_keys)  # positions are indices into self._near_ids

    @classmethod
    def from_files(cls, paths: Iterable[str | Path], *, question_field: str = "question") -> BenchmarkIndex:
        """Index every question of the given benchmark files (see :func:`load_questions`)."""
        pairs: list[tuple[str, str]] = []
        for path in paths:
            pairs.extend((q, str(path)) for q in load_questions(path, question_field=question_field))
        return cls(pairs)

    def __len__(self) -> int:
        """Distinct (normalised) benchmark questions."""
        return self._n

    def match(self, question: str) -> Match | None:
        """The benchmark question that ``question`` copies, or None (see the module docstring).

        For a near copy of several benchmark questions the most similar one is returned.
        """
        key = match_key(question)
        if not key:
            return None
        hit = self._exact.get(key)
        if hit is not None:
            return Match(hit[0], hit[1], "exact", 1.0)
        tokens = key.split()
        if len(tokens) < MIN_NEAR_TOKENS or not len(self._near_ids):
            return None
        q_hashes, q_doc = _shingles([key])
        positions, band_counts = self._lsh.query(_band_keys(q_hashes, q_doc, 1)[0])
        if not len(positions):
            return None
        if len(positions) > MAX_CANDIDATES:  # verify those sharing the most bands
            positions = positions[np.argsort(-band_counts, kind="stable")[:MAX_CANDIDATES]]
        cands = [self._keys[self._near_ids[pos]] for pos in positions]
        c_hashes, c_doc = _shingles(cands)
        c_bounds = np.searchsorted(c_doc, np.arange(len(cands) + 1))
        q_counts = Counter(tokens)
        q_set = _unique(q_hashes)
        q_weight = float(self._shingle_weights(q_set).sum())
        best: Match | None = None
        for i, cand in enumerate(cands):
            word = self._word_similarity(q_counts, Counter(cand.split()))
            char = self._shingle_similarity(q_set, q_weight, _unique(c_hashes[c_bounds[i] : c_bounds[i + 1]]))
            # Report the check that passed; when both did, the more confident one.
            passed: list[tuple[float, MatchKind]] = []
            if word >= WORD_THRESHOLD:
                passed.append((word, "ngram"))
            if char >= CHAR_THRESHOLD:
                passed.append((char, "minhash"))
            if not passed:
                continue
            score, kind = max(passed)
            if best is None or score > best.score:
                question_text, file = self._exact[cand]
                best = Match(question_text, file, kind, score)
        return best

    def _shingle_weights(self, hashes: np.ndarray) -> np.ndarray:
        """Smoothed IDF of shingles from their buckets' counts; unseen: log(n + 1) + 1."""
        df = self._shingle_df[(hashes >> np.uint64(64 - self._bucket_bits)).astype(np.int64)]
        return np.log((self._n + 1) / (df.astype(np.float64) + 1)) + 1.0

    def _word_similarity(self, a: Counter[str], b: Counter[str]) -> float:
        """IDF-weighted Jaccard of two word multisets: sum of min counts over sum of max."""
        inter = union = 0.0
        for word in a.keys() | b.keys():
            w = math.log((self._n + 1) / (self._word_df.get(word, 0) + 1)) + 1.0
            ca, cb = a.get(word, 0), b.get(word, 0)
            inter += w * min(ca, cb)
            union += w * max(ca, cb)
        return inter / union if union else 0.0

    def _shingle_similarity(self, a: np.ndarray, a_weight: float, b: np.ndarray) -> float:
        """IDF-weighted Jaccard of two sorted unique shingle-hash arrays (``a_weight``: a's total)."""
        both = np.concatenate((a, b))
        both.sort()
        shared = both[1:][both[1:] == both[:-1]]
        inter = float(self._shingle_weights(shared).sum())
        union = a_weight + float(self._shingle_weights(b).sum()) - inter
        return inter / union if union else 0.0
