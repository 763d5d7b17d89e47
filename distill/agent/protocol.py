"""Reading one assistant turn of the text-tag protocol.

The model writes ``<think>...</think>`` and then exactly one action: ``<tool_call>`` with
a JSON ``{"name", "arguments"}`` object, or ``<answer>``. Everything a weak or careless
model gets wrong here is named (``invalid_reason``) so the loop can answer with a
corrective observation and the filters can count it; nothing raises.

Inner texts are kept verbatim (whitespace included): a WebDancer record read and
written back must be byte-identical.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_BLOCK = {
    name: re.compile(rf"<{name}>(.*?)</{name}>", re.S) for name in ("think", "tool_call", "answer")
}
_OPEN = {name: f"<{name}>" for name in ("think", "tool_call", "answer")}
TOOL_RESPONSE_OPEN = "<tool_response>"

#: What a cut observation ends with (the agent is told how much it did not see).
TRUNCATION_NOTE = "\n[... observation truncated: {more} more characters]"


def truncate_observation(text: str, limit: int) -> tuple[str, bool]:
    r"""``text`` cut to ``limit`` characters with :data:`TRUNCATION_NOTE`, and whether it was cut.

    One rule for the ReAct loop that writes the SFT data and the RL rollouts, so the policy
    sees observations cut the same way in both.

    >>> truncate_observation("abcdef  ghij", 8)
    ('abcdef\n[... observation truncated: 4 more characters]', True)
    >>> truncate_observation("short", 8)
    ('short', False)
    """
    if len(text) <= limit:
        return text, False
    return text[:limit].rstrip() + TRUNCATION_NOTE.format(more=len(text) - limit), True


# Invalid-action reasons, in the order they are checked.
INVALID_REASONS = (
    "empty", "truncated", "no_action", "both_call_and_answer", "multiple_actions", "bad_json", "not_an_object",
    "missing_name", "unknown_tool", "bad_arguments", "self_observation",
)


@dataclass(slots=True)
class Turn:
    think: str = ""  # inner text of <think>, or the reasoning channel's text
    think_from_reasoning: bool = False
    tool_call: str = ""  # inner text of <tool_call>, verbatim
    name: str = ""
    arguments: dict[str, Any] | None = None
    answer: str = ""  # inner text of <answer>, verbatim
    invalid_reason: str = ""
    detail: str = ""

    @property
    def action(self) -> str:
        if self.invalid_reason:
            return "invalid"
        return "answer" if self.name == "" else self.name


def parse_turn(text: str, tool_names: set[str] | frozenset[str], *, reasoning: str = "",
               length_capped: bool = False) -> Turn:
    """Parse one assistant message. ``reasoning`` is a separate reasoning channel
    (``reasoning_content``) that, when present, is the step's thought; ``length_capped``
    says the server stopped at max_tokens (an unfinished action is then ``truncated``)."""
    turn = Turn()
    if reasoning.strip():
        turn.think, turn.think_from_reasoning = reasoning, True
    think = _BLOCK["think"].search(text)
    if think and not turn.think_from_reasoning:
        turn.think = think.group(1)
    rest = text[think.end():] if think else text
    if TOOL_RESPONSE_OPEN in rest:
        # The model wrote its own observation: keep what came before, flag it.
        return _invalid(turn, "self_observation", "the tool response is written by the environment, not by you")
    if not text.strip() and not turn.think:
        return _invalid(turn, "empty", "the reply was empty")
    calls = _BLOCK["tool_call"].findall(rest)
    answers = _BLOCK["answer"].findall(rest)
    if not calls and not answers:
        unfinished = any(_OPEN[n] in rest for n in ("tool_call", "answer")) or (think is None and "<think>" in text)
        if length_capped or unfinished:
            return _invalid(turn, "truncated", "the reply stopped before its action was closed")
        return _invalid(turn, "no_action", "no <tool_call> or <answer> block was found")
    if calls and answers:
        return _invalid(turn, "both_call_and_answer", "write either one <tool_call> or one <answer>, not both")
    if len(calls) > 1 or len(answers) > 1:
        return _invalid(turn, "multiple_actions", "write exactly one action per turn")
    if answers:
        turn.answer = answers[0]
        if not turn.answer.strip():
            return _invalid(turn, "empty", "the <answer> block is empty")
        return turn
    turn.tool_call = calls[0]
    try:
        obj = json.loads(turn.tool_call)
    except ValueError as exc:  # a JSONDecodeError, or an integer literal too long to convert
        why = f"{exc.msg} at char {exc.pos}" if isinstance(exc, json.JSONDecodeError) else str(exc)
        return _invalid(turn, "bad_json", f"the tool call is not valid JSON ({why})")
    if not isinstance(obj, dict):
        return _invalid(turn, "not_an_object", 'the tool call must be a JSON object {"name": ..., "arguments": {...}}')
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        return _invalid(turn, "missing_name", 'the tool call has no "name"')
    if name not in tool_names:
        return _invalid(turn, "unknown_tool", f"there is no tool named {name!r}; available: {', '.join(sorted(tool_names))}",
                        name=name)
    arguments = obj.get("arguments", {})
    if isinstance(arguments, str):  # some models send the OpenAI wire form: arguments as a JSON string
        try:
            arguments = json.loads(arguments)
        except ValueError:
            pass
    if not isinstance(arguments, dict):
        return _invalid(turn, "bad_arguments", '"arguments" must be a JSON object', name=name)
    turn.name, turn.arguments = name, arguments
    return turn


def _invalid(turn: Turn, reason: str, detail: str, *, name: str = "") -> Turn:
    turn.invalid_reason, turn.detail = reason, detail
    turn.name = name
    return turn


def corrective_message(turn: Turn, tool_names: set[str] | frozenset[str]) -> str:
    """The observation a model gets after an invalid turn: what was wrong and the shape to use."""
    return (f"Invalid action: {turn.detail}. Reply with <think>your reasoning</think> followed by exactly one "
            '<tool_call>{"name": "<tool>", "arguments": {...}}</tool_call> '
            f"(tools: {', '.join(sorted(tool_names))}) or <answer>your final answer</answer>.")


def render_turn(think: str, *, tool_call: str = "", answer: str = "") -> str:
    """An assistant message in the canonical layout (WebDancer's): think, newline, action."""
    action = f"<tool_call>{tool_call}</tool_call>" if tool_call else f"<answer>{answer}</answer>"
    return f"<think>{think}</think>\n{action}"


def split_message(content: str) -> tuple[str, str, str] | None:
    """``(think, tool_call, answer)`` inner texts when ``content`` is exactly in the canonical
    layout (so :func:`render_turn` gives it back unchanged), else None."""
    m = re.fullmatch(r"<think>(.*?)</think>\n(?:<tool_call>(.*?)</tool_call>|<answer>(.*?)</answer>)", content, re.S)
    if not m:
        return None
    return m.group(1), m.group(2) or "", m.group(3) or ""
