"""Kept trajectories as SFT data: TRL conversational records, a tokenized variant, and a mask check.

Why two variants: the conversational one (``messages`` with OpenAI-style ``tool_calls`` and
``tool`` turns, plus ``tools``) is what TRL and most other trainers read, and keeps the data
model-agnostic; the tokenized one (``input_ids`` / ``labels``) pins exactly which tokens are
trained for our base model, so what the mask check verified is what the trainer uses.

The loss goes on model output only (REFERENCE §7): thoughts, tool calls, answers and the
``<|im_end|>`` that ends a turn. System and user text, every observation and the chat
scaffolding of non-assistant turns get label -100. Assistant turns of invalid steps (bad
format, repeated calls) stay in the conversation as context, since the model saw them and
the corrective observation that followed, but carry ``weight`` 0 and are not trained.

Storage: ``tool_calls`` and ``tools`` are stored as ``datasets.Json()`` values. Arrow would
otherwise infer one struct for every call's ``arguments`` (``search`` has ``query``,
``visit`` has ``url`` and ``goal``) and fill the missing keys with nulls, which the template
would then render as ``"goal": null`` into a search call. ``Json`` keeps each call exactly
as written (dicts, key order included) under one fixed schema (:data:`CONVERSATIONAL_FEATURES`),
and TRL's ``SFTTrainer`` reads it back as plain dicts.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from crawl.drop_reasons import NO_TRAINED_TOKENS, TOO_LONG
from distill.agent.formats import observation_text, to_openai
from distill.agent.trajectory import Trajectory
from train.staging import dataset_from_rows, save_dataset, staged_dir

if TYPE_CHECKING:
    from transformers import BatchEncoding, PreTrainedTokenizerBase

log = logging.getLogger(__name__)

IGNORE_INDEX = -100
PROVENANCE = ("id", "question_id", "question", "style", "model", "prompt_id", "source_format")

#: Where :func:`save_sft_dataset` puts things, relative to its ``out_dir`` (the card's configs point here).
SFT_LAYOUT = {
    "conversational": "conversational",
    "tokenized": "tokenized",
    "conversational_parquet": "parquet/conversational.parquet",
    "tokenized_parquet": "parquet/tokenized.parquet",
    "card": "README.md",
}


def conversational_features() -> Any:
    """The fixed schema of the conversational variant (see the module docstring for ``Json``)."""
    from datasets import Features, Json, List, Value

    message = {
        "role": Value("string"),
        "content": Value("string"),
        "tool_calls": List(Json()),
        "tool_call_id": Value("string"),
        "name": Value("string"),
        "weight": Value("int8"),  # 0: context only (an invalid step); null or 1: trained
    }
    return Features({
        **{k: Value("string") for k in PROVENANCE},
        "messages": List(message),
        "tools": List(Json()),
    })


def tokenized_features() -> Any:
    from datasets import Features, List, Value

    return Features({
        **{k: Value("string") for k in PROVENANCE},
        "input_ids": List(Value("int32")),
        "attention_mask": List(Value("int8")),
        "labels": List(Value("int32")),
    })


# ---------------------------------------------------------------------------
# records
# ---------------------------------------------------------------------------

def sft_record(traj: Trajectory) -> dict[str, Any]:
    """One trajectory as a TRL conversational record with provenance columns.

    Built on :func:`distill.agent.formats.to_openai` (``arguments="dict"``), which maps each
    canonical message to exactly one output message, with two corrections so the training
    template renders the text the agent saw at inference: every observation stays a
    ``tool`` turn (``to_openai`` turns the corrective message after an invalid step into a
    ``user`` turn without its ``<tool_response>`` wrapper), and its content keeps inner
    whitespace, less only the one wrapping newline each side the loop adds
    (:func:`observation_text`). Assistant turns of invalid steps get ``weight`` 0.
    """
    chat = to_openai(traj, arguments="dict")
    out_messages: list[dict[str, Any]] = []
    if len(chat["messages"]) != len(traj.messages):
        raise ValueError(f"trajectory {traj.id}: to_openai changed the message count "
                         f"({len(traj.messages)} -> {len(chat['messages'])}); records would misalign")
    n_assistant = sum(1 for m in traj.messages if m["role"] == "assistant")
    if traj.steps and len(traj.steps) != n_assistant:
        raise ValueError(f"trajectory {traj.id}: {len(traj.steps)} steps but {n_assistant} assistant messages")
    step = 0
    for converted, original in zip(chat["messages"], traj.messages, strict=True):
        msg = dict(converted)
        if original["role"] == "tool":
            msg["role"] = "tool"
            msg["content"] = observation_text(original["content"])
        elif original["role"] == "assistant":
            if traj.steps and traj.steps[step].action == "invalid":
                msg["weight"] = 0
            step += 1
        out_messages.append(msg)
    record: dict[str, Any] = {k: getattr(traj, k) for k in PROVENANCE}
    record["messages"] = out_messages
    record["tools"] = chat["tools"]
    return record


def sft_records(trajs: Iterable[Trajectory]) -> list[dict[str, Any]]:
    """TRL conversational records (``messages`` + ``tools`` + provenance), one per trajectory, in input order.

    Which trajectories are good enough is the filters' decision; this only converts.
    Duplicate ids are refused because every later step (tokenized rows, the mask check,
    the saved variants) joins on ``id``.
    """
    records: list[dict[str, Any]] = []
    seen: set[str] = set()
    for t in trajs:
        rec = sft_record(t)
        if rec["id"] in seen:
            raise ValueError(f"duplicate trajectory id {rec['id']} (question {t.question_id}, style {t.style}, "
                             f"sample {t.sample_index}); give repeated samples distinct sample_index values")
        seen.add(rec["id"])
        records.append(rec)
    return records


# ---------------------------------------------------------------------------
# tokenization
# ---------------------------------------------------------------------------

@dataclass(slots=True)
class SFTTokenized:
    """Rows ready for a trainer (``input_ids``, ``attention_mask``, ``labels`` + provenance), and
    the records that could not become one, each ``{"id", "question_id", "reason", "detail", "tokens"}``."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        return [r["id"] for r in self.rows]


def _require_training_template(tokenizer: PreTrainedTokenizerBase) -> None:
    template = tokenizer.chat_template or ""
    if isinstance(template, dict):
        template = template.get("default", "")
    if "generation" not in template or "tool_response" not in template:
        raise ValueError("the tokenizer's chat template has no {% generation %} blocks or no tool turns: "
                         "load it with train.base_model.load_tokenizer(), which installs the training template")


def tokenize_sft(records: Sequence[Mapping[str, Any]], tokenizer: PreTrainedTokenizerBase,
                 max_length: int) -> SFTTokenized:
    """Tokenize records with the training template; labels are -100 outside ``{% generation %}``.

    A record longer than ``max_length`` tokens is rejected (``too_long``), not truncated: a
    trajectory cut short loses its answer, and the trainer would learn to stop searching
    mid-way. One with no trainable token (every assistant turn invalid) is rejected as
    ``no_trained_tokens``, since TRL refuses such rows and they teach nothing.
    """
    _require_training_template(tokenizer)
    out = SFTTokenized()
    for rec in records:
        # The return type depends on tokenize/return_dict; transformers annotates the union of all.
        enc = cast("BatchEncoding", tokenizer.apply_chat_template(
            list(rec["messages"]), tools=list(rec.get("tools") or []) or None, tokenize=True, return_dict=True,
            return_assistant_tokens_mask=True,
        ))
        input_ids = [int(i) for i in enc["input_ids"]]
        mask = list(enc["assistant_masks"])
        base = {k: rec.get(k) for k in ("id", "question_id")}
        if len(input_ids) > max_length:
            out.rejected.append({**base, "reason": TOO_LONG, "tokens": len(input_ids),
                                 "detail": f"{len(input_ids)} tokens > max_length {max_length}"})
            continue
        if not any(mask):
            out.rejected.append({**base, "reason": NO_TRAINED_TOKENS, "tokens": len(input_ids),
                                 "detail": "no assistant turn is trainable (all invalid or none)"})
            continue
        row = {k: rec.get(k) for k in PROVENANCE}
        row.update(input_ids=input_ids, attention_mask=[1] * len(input_ids),
                   labels=[tok if m else IGNORE_INDEX for tok, m in zip(input_ids, mask, strict=True)])
        out.rows.append(row)
    if out.rejected:
        log.info("tokenize_sft: %d rows, %d rejected (%s)", len(out.rows), len(out.rejected),
                 ", ".join(sorted({r["reason"] for r in out.rejected})))
    return out


# ---------------------------------------------------------------------------
# independent mask check
# ---------------------------------------------------------------------------

_IM_START, _IM_END = "<|im_start|>", "<|im_end|>"


@dataclass(slots=True)
class MaskReport:
    """What :func:`mask_report` found. ``ok`` only when every row was checked and no count of a
    fault is non-zero; ``problems`` holds the first few faults in words."""

    ok: bool = False
    rows: int = 0
    rows_checked: int = 0
    unknown_rows: int = 0  # a row whose id is not among the records
    token_mismatch_rows: int = 0  # the row's input_ids are not the rendered text's tokens
    layout_errors: int = 0  # rendered turns do not line up with the messages
    observation_tokens: int = 0
    observation_tokens_trained: int = 0
    assistant_tokens: int = 0
    assistant_tokens_masked: int = 0
    context_tokens_trained: int = 0  # system / user / scaffolding tokens with a label
    wrong_label_tokens: int = 0  # a label that is neither -100 nor the token's own id
    boundary_tokens: int = 0  # tokens straddling a trained span's edge (either label accepted)
    trained_tokens: int = 0
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class _Spans:
    trained: list[tuple[int, int]]  # char spans whose tokens must be trained
    observations: list[tuple[int, int]]  # char spans of observation text: never trained


def _expected_spans(text: str, messages: Sequence[Mapping[str, Any]]) -> _Spans | str:
    """Char spans read off the rendered text, turn by turn (an error string when the text
    does not have one ChatML turn per message, in order).

    This is the independent half of the check: it knows the ChatML layout and the roles,
    not the template's ``{% generation %}`` blocks, so a template that marks the wrong text
    disagrees with it.
    """
    turns: list[tuple[str, int, int]] = []  # (role, body start, end of <|im_end|>)
    pos = 0
    while True:
        start = text.find(_IM_START, pos)
        if start < 0:
            break
        nl = text.find("\n", start)
        end = text.find(_IM_END, nl)
        if nl < 0 or end < 0:
            return f"unterminated turn at char {start}"
        turns.append((text[start + len(_IM_START):nl], nl + 1, end + len(_IM_END)))
        pos = end + len(_IM_END)
    expected_roles = ["user" if m["role"] == "tool" else m["role"] for m in messages]
    if messages and messages[0]["role"] != "system":
        expected_roles.insert(0, "system")  # the template's default system prompt
    roles = [t[0] for t in turns]
    if roles != expected_roles:
        return f"turn roles {roles[:8]}... != expected {expected_roles[:8]}..."
    offset = len(turns) - len(messages)
    spans = _Spans([], [])
    for msg, (_role, body, end) in zip(messages, turns[offset:], strict=True):
        content = msg.get("content") or ""
        if msg["role"] == "tool":
            at = text.find(content, body, end)
            if at < 0:
                return "an observation is missing from its turn"
            if content:
                spans.observations.append((at, at + len(content)))
        elif msg["role"] == "assistant":
            if content and text.find(content, body, end) < 0:
                return "an assistant message's text is missing from its turn"
            for call in msg.get("tool_calls") or []:
                name = (call.get("function") or call).get("name", "")
                if f'"{name}"' not in text[body:end]:
                    return f"tool call {name!r} is missing from its turn"
            if msg.get("weight") != 0:
                spans.trained.append((body, end))
    return spans


def _overlaps(spans: list[tuple[int, int]], starts: list[int], a: int, b: int) -> tuple[bool, bool]:
    """(overlaps any span, lies inside one span) for the char range [a, b)."""
    i = bisect.bisect_right(starts, a) - 1
    for j in (i, i + 1):
        if 0 <= j < len(spans):
            s, e = spans[j]
            if a < e and b > s:
                return True, s <= a and b <= e
    return False, False


def mask_report(rows: Sequence[Mapping[str, Any]], tokenizer: PreTrainedTokenizerBase,
                records: Sequence[Mapping[str, Any]], *, max_problems: int = 10) -> MaskReport:
    """Verify, independently of :func:`tokenize_sft`, that labels train model output only.

    For each row it renders the record's text, re-tokenizes it with char offsets (the ids
    must equal the row's), reads the assistant and observation spans off the text's ChatML
    turns (:func:`_expected_spans`), and checks every token: inside a trained assistant span
    it must carry its own id as label, overlapping an observation it must be -100, anywhere
    else (system, user, headers) -100. Tokens straddling a span edge (BPE can merge the
    header's newline into the first word) are counted, not judged.
    """
    by_id = {r["id"]: r for r in records}
    rep = MaskReport(rows=len(rows))

    def problem(msg: str) -> None:
        if len(rep.problems) < max_problems:
            rep.problems.append(msg)

    for row in rows:
        rec = by_id.get(row.get("id"))
        if rec is None:
            rep.unknown_rows += 1
            problem(f"row {row.get('id')!r} has no record")
            continue
        tools = list(rec.get("tools") or []) or None
        text = cast(str, tokenizer.apply_chat_template(list(rec["messages"]), tools=tools, tokenize=False))
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids, labels = list(row["input_ids"]), list(row["labels"])
        if list(enc["input_ids"]) != ids or len(labels) != len(ids):
            rep.token_mismatch_rows += 1
            problem(f"row {rec['id']}: input_ids/labels differ from the tokenized rendering")
            continue
        spans = _expected_spans(text, rec["messages"])
        if isinstance(spans, str):
            rep.layout_errors += 1
            problem(f"row {rec['id']}: {spans}")
            continue
        t_starts = [s for s, _ in spans.trained]
        o_starts = [s for s, _ in spans.observations]
        for tok, label, (a, b) in zip(ids, labels, enc["offset_mapping"], strict=True):
            trained = label != IGNORE_INDEX
            if trained and label != tok:
                rep.wrong_label_tokens += 1
                problem(f"row {rec['id']}: label {label} != token {tok} at char {a}")
                continue
            rep.trained_tokens += trained
            in_obs, _ = _overlaps(spans.observations, o_starts, a, b)
            if in_obs:
                rep.observation_tokens += 1
                if trained:
                    rep.observation_tokens_trained += 1
                    problem(f"row {rec['id']}: observation token at char {a} is trained: {text[a:b]!r}")
                continue
            touches, inside = _overlaps(spans.trained, t_starts, a, b)
            if inside:
                rep.assistant_tokens += 1
                if not trained:
                    rep.assistant_tokens_masked += 1
                    problem(f"row {rec['id']}: assistant token at char {a} is masked: {text[a:b]!r}")
            elif touches:
                rep.boundary_tokens += 1
            elif trained:
                rep.context_tokens_trained += 1
                problem(f"row {rec['id']}: context token at char {a} is trained: {text[a:b]!r}")
        rep.rows_checked += 1
    rep.ok = (rep.rows_checked == rep.rows and rep.observation_tokens_trained == 0
              and rep.assistant_tokens_masked == 0 and rep.context_tokens_trained == 0
              and rep.wrong_label_tokens == 0)
    return rep


# ---------------------------------------------------------------------------
# saving
# ---------------------------------------------------------------------------

def save_sft_dataset(records: Sequence[Mapping[str, Any]], tokenized: SFTTokenized, out_dir: str | Path,
                     card_md: str) -> dict[str, Path]:
    """Write both variants with ``datasets.Dataset.save_to_disk``, Parquet copies, and the card.

    The conversational variant holds the records that became tokenized rows, in the same
    order, so both variants train on the same examples (rejected records are left out of
    both). Layout: :data:`SFT_LAYOUT`. The whole directory is built beside ``out_dir`` and
    swapped in at the end. Returns the written paths by :data:`SFT_LAYOUT` key.
    """
    by_id = {r["id"]: r for r in records}
    missing = [i for i in tokenized.ids if i not in by_id]
    if missing:
        raise ValueError(f"{len(missing)} tokenized rows have no record (first: {missing[0]}); "
                         "pass the records tokenize_sft was given")
    kept = [by_id[i] for i in tokenized.ids]
    conv = dataset_from_rows([_conversational_row(r) for r in kept], conversational_features())
    tok = dataset_from_rows(tokenized.rows, tokenized_features())
    out_dir = Path(out_dir)
    with staged_dir(out_dir) as tmp:
        save_dataset(conv, tmp / SFT_LAYOUT["conversational"])
        save_dataset(tok, tmp / SFT_LAYOUT["tokenized"])
        (tmp / "parquet").mkdir()
        conv.to_parquet(str(tmp / SFT_LAYOUT["conversational_parquet"]))
        tok.to_parquet(str(tmp / SFT_LAYOUT["tokenized_parquet"]))
        (tmp / SFT_LAYOUT["card"]).write_text(card_md, encoding="utf-8")
    log.info("saved SFT dataset: %d rows (%d rejected) to %s", len(kept), len(tokenized.rejected), out_dir)
    return {k: out_dir / v for k, v in SFT_LAYOUT.items()}


def _conversational_row(rec: Mapping[str, Any]) -> dict[str, Any]:
    return {**{k: rec.get(k) for k in PROVENANCE}, "messages": list(rec["messages"]),
            "tools": list(rec.get("tools") or [])}
