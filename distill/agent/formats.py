"""Trajectories in and out of the formats other tools speak: WebDancer JSONL and OpenAI tool calls.

Why this module exists: public agent data (WebDancer's released trajectories) is an
input to the same filters and datasets as our own rollouts, and our rollouts must be
written in the formats trainers read. One :class:`~distill.agent.trajectory.Trajectory`
in the canonical convention is the meeting point:

* ``messages`` has roles ``system``, ``user``, ``assistant``, ``tool``. Assistant content is
  the verbatim text-tag message; a ``tool`` message holds the verbatim inner text of
  ``<tool_response>...</tool_response>`` (newlines included).
* ``steps`` has one :class:`Step` per assistant message, parsed with
  :func:`distill.agent.protocol.parse_turn`; its ``observation`` is the next tool message
  less one wrapping newline each side (:func:`observation_text`, as the rollout loop
  writes it).

WebDancer import keeps every top-level field it does not model in ``extra_json`` (key
order included), so ``to_webdancer(from_webdancer(r))`` dumps to the original line byte for
byte, also after a trip through parquet. OpenAI export is computed from ``messages`` (the
module docstring of ``trajectory`` promises that both views describe the same run).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from distill.agent.protocol import TOOL_RESPONSE_OPEN, Turn, parse_turn
from distill.agent.trajectory import STYLES, AtomicUnit, Step, Trajectory

TOOL_RESPONSE_CLOSE = "</tool_response>"
USER_MARKER = "\nUser: "  # WebDancer: tools preamble + "\n\nUser: " + question
WEBDANCER_TYPE = "chatml"
WEBDANCER_TASK = "agent/multiturn_search"
_MESSAGES_SLOT = "messages"  # the key whose position extra_json keeps with a null placeholder

Format = Literal["webdancer", "seekforge"]
FORMATS: tuple[str, ...] = ("webdancer", "seekforge")


class FormatError(ValueError):
    """A record that cannot be read as a trajectory; the message names the line (and file)."""


# ---------------------------------------------------------------------------
# helpers shared by import and export
# ---------------------------------------------------------------------------

def _parse_units(think: str) -> list[AtomicUnit]:
    """Atomic units of a thought, or ``[]`` while ``distill.agent.atomic`` does not exist yet.

    Imported lazily so this module works (and its round trips are testable) without the
    atomic parser; a genuine import error inside that module still surfaces.
    """
    try:
        from distill.agent import atomic
    except ModuleNotFoundError as exc:
        if exc.name in ("distill.agent.atomic",):
            return []
        raise
    parse = getattr(atomic, "parse_units", None)
    return list(parse(think)) if parse is not None else []


def step_from_turn(index: int, content: str, tool_names: frozenset[str], observation: str = "") -> Step:
    """The parsed view of one assistant message (verbatim inner texts, JSON-text arguments)."""
    turn: Turn = parse_turn(content, tool_names)
    arguments = ""
    if not turn.invalid_reason and turn.arguments is not None:
        arguments = json.dumps(turn.arguments, ensure_ascii=False)
    return Step(index=index, think=turn.think, units=_parse_units(turn.think), action=turn.action,
                tool_call=turn.tool_call, arguments=arguments, answer=turn.answer, observation=observation,
                invalid_reason=turn.invalid_reason)


def _flatten(value: Any) -> list[str]:
    """WebDancer's ``answer`` is ``[["Epsom Derby"]]``; accept any nesting (or a bare string)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _flatten(v)]
    return [value if isinstance(value, str) else str(value)]


def question_id(question: str) -> str:
    """Stable id of an imported question: the same text always maps to the same id."""
    return hashlib.sha256(question.encode("utf-8")).hexdigest()[:16]


# ---------------------------------------------------------------------------
# WebDancer
# ---------------------------------------------------------------------------

def from_webdancer(record: dict[str, Any], *, line: int | None = None, style: str | None = None,
                   sample_index: int = 0) -> Trajectory:
    """One WebDancer JSONL record as a canonical :class:`Trajectory` (``source_format="webdancer"``).

    ``line`` (1-based) only feeds error messages. ``style`` defaults to the record's ``tag``
    when that is one of our styles (so our own exports come back as they went out), else
    ``"short"``. ``sample_index`` separates repeated samples of one question (WebDancer
    files hold several), which would otherwise share :attr:`Trajectory.id`.

    Raises :class:`FormatError` for anything that would not export back unchanged: missing
    or non-list ``messages``, messages with keys other than role/content, roles out of the
    ``[system] user (assistant user)* [assistant]`` order, or a later user turn that is not
    exactly ``<tool_response>...</tool_response>``.
    """
    where = f"line {line}" if line is not None else "record"

    def fail(msg: str) -> FormatError:
        return FormatError(f"WebDancer {where}: {msg}")

    if not isinstance(record, dict):
        raise fail(f"expected a JSON object, got {type(record).__name__}")
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        raise fail("missing or empty 'messages' list")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or set(m) != {"role", "content"}:
            keys = sorted(m) if isinstance(m, dict) else type(m).__name__
            raise fail(f"message {i} must be an object with exactly 'role' and 'content' (got {keys})")
        if not isinstance(m["role"], str) or not isinstance(m["content"], str):
            raise fail(f"message {i}: 'role' and 'content' must be strings")

    functions = record.get("functions")
    if not isinstance(functions, list):
        raise fail("missing 'functions' list (the tools the model was offered)")
    schemas: list[dict[str, Any]] = []
    for i, f in enumerate(functions):
        if not isinstance(f, dict) or not isinstance(f.get("name_for_model"), str):
            raise fail(f"functions[{i}] has no 'name_for_model'")
        schemas.append({"name": f["name_for_model"], "description": f.get("description_for_model", ""),
                        "parameters": f.get("parameters", {"type": "object", "properties": {}})})
    tools_json = json.dumps(schemas, ensure_ascii=False)
    tool_names = frozenset(s["name"] for s in schemas)

    canonical: list[dict[str, str]] = []
    pos = 0
    if messages[0]["role"] == "system":
        canonical.append({"role": "system", "content": messages[0]["content"]})
        pos = 1
    if pos >= len(messages) or messages[pos]["role"] != "user":
        raise fail(f"message {pos} must be the user's question (role 'user')")
    first_user = messages[pos]["content"]
    canonical.append({"role": "user", "content": first_user})
    question = first_user.rsplit(USER_MARKER, 1)[-1].strip()
    if not question:
        raise fail("the first user message has no question")

    for i in range(pos + 1, len(messages)):
        role, content = messages[i]["role"], messages[i]["content"]
        expected = "assistant" if (i - pos) % 2 == 1 else "user"
        if role != expected:
            raise fail(f"message {i} has role {role!r}, expected {expected!r} "
                       "(turns alternate assistant / user <tool_response>)")
        if role == "assistant":
            canonical.append({"role": "assistant", "content": content})
        else:
            if not (content.startswith(TOOL_RESPONSE_OPEN) and content.endswith(TOOL_RESPONSE_CLOSE)
                    and len(content) >= len(TOOL_RESPONSE_OPEN) + len(TOOL_RESPONSE_CLOSE)):
                raise fail(f"message {i} (user) must be exactly <tool_response>...</tool_response>, "
                           f"starts {content[:40]!r}")
            canonical.append({"role": "tool",
                              "content": content[len(TOOL_RESPONSE_OPEN):len(content) - len(TOOL_RESPONSE_CLOSE)]})
    if not any(m["role"] == "assistant" for m in canonical):
        raise fail("no assistant turn")

    steps = _steps_from_messages(canonical, tool_names)
    last = steps[-1]
    if last.action == "answer":
        final_answer, finish_reason = last.answer.strip(), "answer"
    else:
        # Cut off after a tool response: the run was still searching, not malformed.
        final_answer = ""
        finish_reason = "max_turns" if canonical[-1]["role"] == "tool" else "invalid"

    tag = record.get("tag")
    if style is None:
        style = tag if isinstance(tag, str) and tag in STYLES else "short"
    elif style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")

    answers = _flatten(record.get("answer"))
    # Every top-level key but the messages, in order; "messages": null marks its slot.
    extra = {k: (None if k == _MESSAGES_SLOT else v) for k, v in record.items()}
    system_text = canonical[0]["content"] if canonical[0]["role"] == "system" else ""
    return Trajectory(
        question_id=question_id(question),
        question=question,
        reference=answers[0] if answers else "",
        aliases=answers[1:],
        style=style,
        prompt_id="webdancer",
        system_prompt_id=hashlib.sha256(system_text.encode("utf-8")).hexdigest()[:16],
        sample_index=sample_index,
        messages=canonical,
        steps=steps,
        final_answer=final_answer,
        finish_reason=finish_reason,
        tools_json=tools_json,
        source_format="webdancer",
        extra_json=json.dumps(extra, ensure_ascii=False),
    )


def _steps_from_messages(messages: list[dict[str, str]], tool_names: frozenset[str]) -> list[Step]:
    """One step per assistant message; its observation is the next message when that is a tool turn."""
    steps: list[Step] = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        nxt = messages[i + 1] if i + 1 < len(messages) else None
        observation = observation_text(nxt["content"]) if nxt is not None and nxt["role"] == "tool" else ""
        steps.append(step_from_turn(len(steps), m["content"], tool_names, observation))
    return steps


def observation_text(content: str) -> str:
    """A step's observation from its tool message: the content less one wrapping newline each side.

    The rollout loop writes tool messages as ``"\n" + observation + "\n"`` (WebDancer's layout
    of ``<tool_response>``), so this is its exact inverse: imported steps then carry the
    same observation text our own steps do. Content without that wrapper is taken as is.
    """
    if len(content) >= 2 and content.startswith("\n") and content.endswith("\n"):
        return content[1:-1]
    return content


def _webdancer_messages(traj: Trajectory) -> list[dict[str, str]]:
    """Canonical messages in WebDancer's layout: tool turns go back inside user <tool_response>."""
    out: list[dict[str, str]] = []
    for m in traj.messages:
        if m["role"] == "tool":
            out.append({"role": "user", "content": f"{TOOL_RESPONSE_OPEN}{m['content']}{TOOL_RESPONSE_CLOSE}"})
        else:
            out.append({"role": m["role"], "content": m["content"]})
    return out


def to_webdancer(traj: Trajectory) -> dict[str, Any]:
    """A trajectory as a WebDancer record.

    Imported records come back exactly: the stored top-level fields (key order, functions,
    tool_calls, answer, tag) win over the trajectory's own fields, and only the messages are
    rebuilt. Our own rollouts get WebDancer's shape with ``tag`` = style; their system and
    user messages stay as they are (our user turn is the bare question, which
    :func:`from_webdancer` reads back as the question too).
    """
    messages = _webdancer_messages(traj)
    if traj.source_format == "webdancer" and traj.extra_json:
        record = json.loads(traj.extra_json)
        if not isinstance(record, dict) or _MESSAGES_SLOT not in record:
            raise FormatError(f"trajectory {traj.id}: extra_json is not an imported WebDancer record")
        record[_MESSAGES_SLOT] = messages
        return record
    functions = [{"name_for_human": s.get("name", ""), "name_for_model": s.get("name", ""),
                  "description_for_model": s.get("description", ""), "parameters": s.get("parameters", {})}
                 for s in json.loads(traj.tools_json or "[]")]
    return {"type": WEBDANCER_TYPE, "task": WEBDANCER_TASK, "messages": messages, "functions": functions,
            "tool_calls": [], "answer": [[traj.reference, *traj.aliases]], "tag": traj.style}


# ---------------------------------------------------------------------------
# OpenAI chat with native tool calls
# ---------------------------------------------------------------------------

def to_openai(traj: Trajectory, *, arguments: Literal["json", "dict"] = "json") -> dict[str, Any]:
    """A trajectory as OpenAI-style chat: ``{"messages": [...], "tools": [...]}``.

    Tool-call turns become an assistant message whose content is the ``<think>...</think>``
    block verbatim ("" when there is none) plus ``tool_calls`` with id ``call_<step>_<n>``;
    ``arguments="json"`` gives the wire form (a JSON string), ``"dict"`` the parsed object
    that TRL / HF chat templates want. The observation becomes a ``tool`` message with the
    same ``tool_call_id`` and its content stripped. Answer turns stay assistant text.

    Invalid turns have no tool call to attach a ``tool`` message to, so they stay assistant
    messages with the raw content, and their corrective observation becomes a ``user``
    message (as does any tool turn not answering a call). System and user messages are
    copied unchanged, so WebDancer's text-tag tools preamble remains in the first user turn.
    Computed from ``messages`` (re-parsed), not from ``steps``.
    """
    if arguments not in ("json", "dict"):
        raise ValueError(f"arguments must be 'json' or 'dict', got {arguments!r}")
    schemas = json.loads(traj.tools_json or "[]")
    tool_names = frozenset(str(s.get("name", "")) for s in schemas if isinstance(s, dict))
    out: list[dict[str, Any]] = []
    pending: tuple[str, str] | None = None  # (call id, tool name) awaiting its observation
    step = 0
    for m in traj.messages:
        role, content = m["role"], m["content"]
        if role == "assistant":
            turn = parse_turn(content, tool_names)
            pending = None
            if turn.action in ("answer", "invalid"):
                out.append({"role": "assistant", "content": content})
            else:
                call_id = f"call_{step}_0"
                args: Any = turn.arguments or {}
                fn = {"name": turn.name,
                      "arguments": json.dumps(args, ensure_ascii=False) if arguments == "json" else args}
                think = _think_block(content)
                out.append({"role": "assistant", "content": think,
                            "tool_calls": [{"id": call_id, "type": "function", "function": fn}]})
                pending = (call_id, turn.name)
            step += 1
        elif role == "tool":
            if pending is not None:
                out.append({"role": "tool", "tool_call_id": pending[0], "name": pending[1],
                            "content": content.strip()})
            else:
                out.append({"role": "user", "content": content.strip()})
            pending = None
        else:
            out.append({"role": role, "content": content})
    return {"messages": out, "tools": [{"type": "function", "function": s} for s in schemas]}


def _think_block(content: str) -> str:
    """The first ``<think>...</think>`` of a message, tags included, or ""."""
    start = content.find("<think>")
    end = content.find("</think>", start + len("<think>")) if start >= 0 else -1
    return content[start:end + len("</think>")] if start >= 0 and end >= 0 else ""


# ---------------------------------------------------------------------------
# JSONL files
# ---------------------------------------------------------------------------

def read_jsonl(path: str | Path, fmt: Format = "webdancer", *, style: str | None = None) -> list[Trajectory]:
    """All trajectories of a JSONL file; blank lines are skipped.

    ``"webdancer"`` lines go through :func:`from_webdancer` (repeated questions get
    increasing ``sample_index`` so ids stay unique); ``"seekforge"`` lines are
    :meth:`Trajectory.to_row` dicts. Any bad line raises :class:`FormatError` naming the
    file and the 1-based line.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    path = Path(path)
    out: list[Trajectory] = []
    seen: dict[str, int] = {}
    with path.open(encoding="utf-8") as fh:
        for lineno, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except ValueError as exc:
                raise FormatError(f"{path}: line {lineno}: not valid JSON ({exc})") from exc
            if fmt == "webdancer":
                try:
                    traj = from_webdancer(obj, line=lineno, style=style)
                except FormatError as exc:
                    raise FormatError(f"{path}: {exc}") from exc
                traj.sample_index = seen.get(traj.question_id, 0)
                seen[traj.question_id] = traj.sample_index + 1
            else:
                if not isinstance(obj, dict):
                    raise FormatError(f"{path}: line {lineno}: expected a trajectory row object")
                try:
                    traj = Trajectory.from_row(obj)
                except (TypeError, KeyError, ValueError) as exc:
                    raise FormatError(f"{path}: line {lineno}: not a trajectory row ({exc})") from exc
            out.append(traj)
    return out


def write_jsonl(trajs: Iterable[Trajectory], path: str | Path, fmt: Format = "webdancer") -> int:
    """Write one JSON line per trajectory (UTF-8, ``ensure_ascii=False`` like WebDancer); returns the count."""
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    n = 0
    with Path(path).open("w", encoding="utf-8", newline="\n") as fh:
        for t in trajs:
            obj = to_webdancer(t) if fmt == "webdancer" else t.to_row()
            fh.write(json.dumps(obj, ensure_ascii=False) + "\n")
            n += 1
    return n
