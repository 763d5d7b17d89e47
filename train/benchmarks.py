"""Standard QA benchmarks (NQ, TriviaQA, PopQA, HotpotQA, 2Wiki, MuSiQue, Bamboogle) as one record type.

Why this exists: search agents are compared on these sets, and each is published in several
layouts (the original release, FlashRAG's JSONL, Search-R1 / verl's Parquet). An evaluation
must read whichever file a user has, and must never score against a silently wrong gold
answer, so every loader here is strict: a record without a question or an answer, or a
repeated id, is an error naming the file and the line / record / row.

Every loader returns :class:`BenchmarkRecord` (``id``, ``question``, ``answers``: a non-empty
tuple of strings, the first being the main answer, the rest accepted aliases).

How a file is read (:func:`load_benchmark`): the *container* is told from the bytes, not the
name -- gzip by its magic bytes (then looked into), Parquet by ``PAR1``, JSON when the text
starts with ``[`` or ``{`` (a whole JSON document; when that does not parse, JSON lines), and
otherwise CSV / TSV. The record *schema* is told from the first record's keys:

``flashrag``
    ``question``, ``golden_answers`` (list), ``id``.
``verl``
    Search-R1 / verl RL data: ``prompt`` (chat messages), ``reward_model.ground_truth`` (a
    string, a list, or ``{"target": [...]}``; NumPy arrays too), ``extra_info.index``. A
    top-level ``question`` column is preferred to the prompt; otherwise the question is the
    last user message, cut after its last ``Question:`` marker when it has one (Search-R1
    appends the question to a long instruction template as ``... Question: <q>``). Id:
    ``id``, else ``extra_info.index``, else the row number (the original dataset id is the
    more meaningful; both are stable).
``hotpotqa``
    The official HotpotQA / 2WikiMultiHopQA JSON: ``_id``, ``question``, ``answer`` (string).
``qa``
    Anything else with ``question`` and ``answer``: the HF HotpotQA JSONL, MuSiQue, a
    hand-made list. ``answer`` may be a string or a list. Aliases are taken from ``answers``,
    ``answer_aliases`` (MuSiQue) or ``possible_answers`` (PopQA); in those columns a list is a
    list, and a string is a JSON list when it starts with ``[`` (PopQA stores its aliases so)
    and otherwise ``|``-separated aliases. ``answer`` itself is never split. Id: ``id``, else
    the row number. CSV / TSV files use this schema (``fmt="csv"`` forces the CSV reader).

Normalisation: questions, answers and ids are stripped; empty answers and repeated aliases
dropped (order kept); numbers given as answers or ids become strings (``7.0`` -> ``"7"``).
Ids without an id column are the 0-based row number, as verl's ``extra_info.index``. Error
locations: ``path:LINE`` (1-based) for JSON lines and CSV, ``path: record N`` / ``path: row N``
(0-based, the row number an id would be) for JSON lists and Parquet.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import numbers
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, cast, get_args

from filters.contamination import BenchmarkFileError, iter_jsonl, read_text

log = logging.getLogger(__name__)

__all__ = ["FORMATS", "BenchmarkFileError", "BenchmarkRecord", "Format", "benchmark_name", "detect_schema",
           "load_benchmark", "load_benchmarks", "records_from_rows"]

Format = Literal["flashrag", "verl", "hotpotqa", "qa", "csv"]
#: The ``fmt`` choices (``seekforge eval --format``): a record schema, or ``csv`` to force the CSV reader.
FORMATS: Final[tuple[str, ...]] = get_args(Format)
Schema = Literal["flashrag", "verl", "hotpotqa", "qa"]

#: Alias columns of the ``qa`` schema, in the order their answers are appended.
ALIAS_FIELDS: Final = ("answers", "answer_aliases", "possible_answers")
#: File stems (or their first word) that name a split, not a benchmark: ``nq/test.jsonl`` is ``nq``.
SPLIT_WORDS: Final = frozenset({"train", "dev", "test", "val", "valid", "validation", "eval"})

_QUESTION_MARKER: Final = re.compile(r"(?:^|\s)Question:\s*")
_NAME_SEP: Final = re.compile(r"[_\-.\s]+")


@dataclass(frozen=True, slots=True)
class BenchmarkRecord:
    """One benchmark question; ``answers[0]`` is the main answer, the rest aliases (never empty)."""

    id: str
    question: str
    answers: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        """``{"id", "question", "answers"}`` with answers as a list (what ``seekforge eval --list`` prints)."""
        return {"id": self.id, "question": self.question, "answers": list(self.answers)}


class _RecordError(Exception):
    """What is wrong with one record; the caller adds where it is."""


# ---------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------


def load_benchmark(path: str | Path, fmt: Format | None = None) -> list[BenchmarkRecord]:
    """The records of one benchmark file (module docstring: formats and rules).

    ``fmt`` overrides the schema detection (``csv``: read as CSV / TSV whatever the bytes
    look like). Raises :class:`BenchmarkFileError` naming the file and the line / record /
    row of the first bad record, a repeated id, or an empty file.
    """
    path = Path(path)
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"unknown benchmark format {fmt!r}; choose one of {', '.join(FORMATS)}")
    container, rows = _read_rows(path, force_csv=fmt == "csv")
    schema_fmt = cast(Schema, fmt) if fmt not in (None, "csv") else None
    if container == "csv" and schema_fmt not in (None, "qa"):
        raise BenchmarkFileError(f"{path}: CSV files hold the qa schema (question, answer), not {schema_fmt}")
    records, schema = _parse(rows, schema_fmt, str(path))
    log.info("%s: %d records (%s, %s schema)", path, len(records), container, schema)
    return records


def load_benchmarks(paths: Iterable[str | Path], fmt: Format | None = None) -> dict[str, list[BenchmarkRecord]]:
    """Several files by :func:`benchmark_name`; two files with the same name are an error (their
    results would be merged into one row)."""
    out: dict[str, list[BenchmarkRecord]] = {}
    origin: dict[str, Path] = {}
    for path in map(Path, paths):
        name = benchmark_name(path)
        if name in out:
            raise BenchmarkFileError(f"{path}: benchmark name {name!r} is already taken by {origin[name]}")
        out[name], origin[name] = load_benchmark(path, fmt), path
    return out


def records_from_rows(rows: Iterable[Mapping[str, object]], fmt: Schema | None = None, *,
                      source: str = "<rows>") -> list[BenchmarkRecord]:
    """Records from rows already in memory (``pandas.DataFrame.to_dict("records")``, a HF
    ``datasets`` split): the same schemas and checks as files; errors name ``source`` and the
    0-based row."""
    located = [(f"{source}: row {i}", i, row) for i, row in enumerate(rows)]
    return _parse(located, fmt, source)[0]


def detect_schema(row: Mapping[str, object]) -> Schema:
    """The schema a record's keys announce (module docstring); ``qa`` when nothing specific."""
    if "golden_answers" in row:
        return "flashrag"
    if "reward_model" in row or isinstance(row.get("prompt"), (list, tuple)) or hasattr(row.get("prompt"), "tolist"):
        return "verl"
    if "_id" in row:
        return "hotpotqa"
    return "qa"


def benchmark_name(path: str | Path) -> str:
    """The benchmark a file holds, for table rows: its stem, or its folder when the stem names a split.

    ``hotpotqa/dev_distractor_300.jsonl`` -> ``hotpotqa`` (FlashRAG lays sets out as
    ``<name>/<split>.jsonl``); ``bamboogle.jsonl`` -> ``bamboogle``; ``nq_test.parquet`` ->
    ``nq`` (the words before a split word, joined by ``_``); ``test.jsonl`` with no named folder
    -> ``test``. Lower-cased; every suffix (``.jsonl.gz``) removed.
    """
    path = Path(path)
    stem = path.name.split(".", 1)[0] if not path.name.startswith(".") else path.name
    words = [w for w in _NAME_SEP.split(stem.lower()) if w]
    parent = path.parent.name.lower()
    if not words or words[0] in SPLIT_WORDS:
        return parent if parent and parent not in (".", "..") else stem.lower()
    for i, word in enumerate(words):
        if word in SPLIT_WORDS:
            return "_".join(words[:i])
    return stem.lower()


# ---------------------------------------------------------------------------
# Containers: bytes -> located rows
# ---------------------------------------------------------------------------

Located = tuple[str, int, object]  # (where, 0-based row number, raw row)


def _read_rows(path: Path, *, force_csv: bool) -> tuple[str, list[Located]]:
    """(container name, rows with their location) of a file, the container told by content."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise BenchmarkFileError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if head == b"PAR1" and not force_csv:
        return "parquet", _parquet_rows(path)
    text = read_text(path)
    if not text.strip():
        return "empty", []
    if force_csv or not text.lstrip().startswith(("[", "{")):
        return "csv", _csv_rows(text, path)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return "jsonl", [(f"{path}:{line}", i, rec) for i, (line, rec) in enumerate(iter_jsonl(text, path))]
    return "json", _json_rows(doc, path)


def _parquet_rows(path: Path) -> list[Located]:
    import pyarrow.parquet as pq

    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as exc:  # pyarrow raises ArrowInvalid & co. for broken files
        raise BenchmarkFileError(f"{path}: not a readable Parquet file ({exc})") from exc
    return [(f"{path}: row {i}", i, row) for i, row in enumerate(rows)]


def _json_rows(doc: object, path: Path) -> list[Located]:
    """A list of records; an object holding one (``{"data": [...]}``); or one record (one-line JSONL)."""
    if isinstance(doc, dict):
        if "question" in doc or "prompt" in doc:
            return [(f"{path}:1", 0, doc)]
        lists = [v for v in doc.values() if isinstance(v, list) and v and all(isinstance(r, dict) for r in v)]
        if not lists:
            raise BenchmarkFileError(f"{path}: a JSON object that is neither a record nor holds a list of records")
        doc = lists[0]
    if not isinstance(doc, list):
        raise BenchmarkFileError(f"{path}: JSON {type(doc).__name__}, not a list of records")
    return [(f"{path}: record {i}", i, rec) for i, rec in enumerate(doc)]


def _csv_rows(text: str, path: Path) -> list[Located]:
    """CSV, or TSV when the header splits on tabs into a ``question`` column; locations are lines."""
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    delimiter = "\t" if "question" in (c.strip().lower() for c in first.split("\t")) and "\t" in first else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    if not reader.fieldnames or "question" not in reader.fieldnames:
        raise BenchmarkFileError(f"{path}: not JSON, JSON lines, Parquet, or CSV with a 'question' column "
                                 f"(header: {first[:120]!r})")
    rows: list[Located] = []
    line = reader.line_num + 1
    for i, row in enumerate(reader):
        if None in row:
            raise BenchmarkFileError(f"{path}:{line}: more fields than the header has")
        rows.append((f"{path}:{line}", i, {k: v for k, v in row.items() if v is not None}))
        line = reader.line_num + 1
    return rows


# ---------------------------------------------------------------------------
# Schemas: rows -> records
# ---------------------------------------------------------------------------


def _parse(rows: Sequence[Located], fmt: Schema | None, source: str) -> tuple[list[BenchmarkRecord], Schema]:
    if not rows:
        raise BenchmarkFileError(f"{source}: no records")
    first = rows[0][2]
    schema: Schema = fmt or (detect_schema(first) if isinstance(first, Mapping) else "qa")
    records: list[BenchmarkRecord] = []
    seen: dict[str, str] = {}
    for where, index, row in rows:
        try:
            if not isinstance(row, Mapping):
                raise _RecordError(f"a {type(row).__name__}, not an object")
            record = _PARSERS[schema](row, index)
        except _RecordError as exc:
            raise BenchmarkFileError(f"{where}: {exc} ({schema} schema)") from None
        if record.id in seen:
            raise BenchmarkFileError(f"{where}: duplicate id {record.id!r} (first at {seen[record.id]})")
        seen[record.id] = where
        records.append(record)
    return records, schema


def _text(value: object, what: str) -> str:
    """A stripped string from a string or a number (NumPy's too); anything else is an error."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return str(int(value))
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        number = float(value)
        return str(int(number)) if number.is_integer() else str(number)
    raise _RecordError(f"{what} is a {type(value).__name__}, not text")


def _listlike(value: object) -> list[object] | None:
    """A list from a list, tuple or NumPy array (Parquet via pandas gives arrays); else None."""
    if isinstance(value, (list, tuple)):
        return list(value)
    tolist = getattr(value, "tolist", None)
    if callable(tolist) and not isinstance(value, (str, bytes)):
        out = tolist()
        return out if isinstance(out, list) else [out]
    return None


def _answer_list(value: object, what: str, *, split_text: bool) -> list[str]:
    """Answers from a string, number or list; ``split_text``: a string is an alias column's value
    (a JSON list when it starts with ``[``, else ``|``-separated)."""
    if value is None:
        return []
    items = _listlike(value)
    if items is None:
        text = _text(value, what)
        if not split_text:
            return [text]
        if text.startswith("["):
            try:
                items = json.loads(text)
            except json.JSONDecodeError:
                raise _RecordError(f"{what} starts with '[' but is not a JSON list") from None
            if not isinstance(items, list):
                raise _RecordError(f"{what} is not a JSON list")
        else:
            return [part.strip() for part in text.split("|")]
    return [_text(item, f"an item of {what}") for item in items]


def _record(rid: str, question: object, answers: Iterable[str]) -> BenchmarkRecord:
    q = _text(question, "question") if question is not None else ""
    if not q:
        raise _RecordError("no question")
    unique = tuple(dict.fromkeys(a for a in answers if a))
    if not unique:
        raise _RecordError("no answer")
    if not rid:
        raise _RecordError("empty id")
    return BenchmarkRecord(rid, q, unique)


def _id(row: Mapping[str, object], keys: Sequence[str], index: int) -> str:
    for key in keys:
        value = row.get(key)
        if value is not None:
            return _text(value, key)
    return str(index)


def _flashrag(row: Mapping[str, object], index: int) -> BenchmarkRecord:
    answers = _answer_list(row.get("golden_answers"), "golden_answers", split_text=False)
    return _record(_id(row, ("id",), index), row.get("question"), answers)


def _hotpotqa(row: Mapping[str, object], index: int) -> BenchmarkRecord:
    return _record(_id(row, ("_id", "id"), index), row.get("question"),
                   _answer_list(row.get("answer"), "answer", split_text=False))


def _qa(row: Mapping[str, object], index: int) -> BenchmarkRecord:
    answers = _answer_list(row.get("answer"), "answer", split_text=False)
    for key in ALIAS_FIELDS:
        answers += _answer_list(row.get(key), key, split_text=True)
    return _record(_id(row, ("id",), index), row.get("question"), answers)


def _verl(row: Mapping[str, object], index: int) -> BenchmarkRecord:
    question = row.get("question")
    if question is None or (isinstance(question, str) and not question.strip()):
        question = _prompt_question(row.get("prompt"))
    reward = row.get("reward_model")
    truth = reward.get("ground_truth") if isinstance(reward, Mapping) else None
    if isinstance(truth, Mapping):
        if "target" not in truth:
            raise _RecordError(f"reward_model.ground_truth has no 'target' (keys: {', '.join(map(str, truth))})")
        truth = truth["target"]
    answers = _answer_list(truth, "reward_model.ground_truth", split_text=False)
    extra = row.get("extra_info")
    if row.get("id") is not None:
        rid = _text(row["id"], "id")
    elif isinstance(extra, Mapping) and extra.get("index") is not None:
        rid = _text(extra["index"], "extra_info.index")
    else:
        rid = str(index)
    return _record(rid, question, answers)


def _prompt_question(prompt: object) -> str | None:
    """The question inside a verl prompt: the last user message, after its last ``Question:``."""
    messages = _listlike(prompt)
    if not messages:
        return None
    users = [m for m in messages if isinstance(m, Mapping) and m.get("role") == "user"]
    if not users:
        raise _RecordError("prompt has no user message")
    content = _text(users[-1].get("content"), "the prompt's user message")
    markers = list(_QUESTION_MARKER.finditer(content))
    return content[markers[-1].end():].strip() if markers else content


_PARSERS: Final = {"flashrag": _flashrag, "verl": _verl, "hotpotqa": _hotpotqa, "qa": _qa}

