"""GBNF grammars that hold a small local model to the ReAct action format.

DEMO ONLY in spirit: a 135M-parameter model cannot follow the tag protocol on its own
(STACK.md), so the embedded profile constrains each turn to ``<think>`` + one
well-formed action. The model still chooses everything inside: its reasoning, the
queries, which of the URLs it has seen to read, and its answer. Real teachers run
unconstrained. llama.cpp servers take the grammar as the ``grammar`` request field.
"""

from __future__ import annotations

import json
from collections.abc import Sequence


def _lit(text: str) -> str:
    """A GBNF string literal."""
    return json.dumps(text, ensure_ascii=False)


def action_grammar(
    tool_names: Sequence[str],
    *,
    urls: Sequence[str] = (),
    allow_answer: bool = True,
    units: Sequence[str] = (),
    max_thought_chars: int = 400,
    max_queries: int = 3,
    only: str = "",
    answers: Sequence[str] = (),
) -> str:
    """Grammar of one assistant turn.

    ``urls``: the URLs ``visit`` may take (those seen in observations so far; no URLs, no
    visit). ``units``: atomic-thought tags; when given, the thought is 2-4 of those units.
    ``only``: allow just this action (``search`` / ``visit`` / ``answer``) when it is
    possible. ``answers``: the answer is one of these spans (else free text).
    """
    rules: dict[str, str] = {}
    if units:
        alts = " | ".join(f"{_lit(f'<{u}>')} unittext {_lit(f'</{u}>')}" for u in units)
        rules["unit"] = alts
        rules["unittext"] = f"[^<]{{5,{max(20, max_thought_chars // 3)}}}"
        rules["thought"] = '"\\n" unit ("\\n" unit){1,2} "\\n"'
    else:
        rules["thought"] = f'"\\n" [^<\\n] [^<]{{10,{max_thought_chars}}} "\\n"'
    actions = []
    if "search" in tool_names:
        rules["search"] = ('"<tool_call>\\n{\\"name\\": \\"search\\", \\"arguments\\": {\\"query\\": [" str '
                           f'(", " str){{0,{max(0, max_queries - 1)}}} "]}}}}\\n</tool_call>"')
        actions.append("search")
    if "visit" in tool_names and urls:
        rules["visit"] = ('"<tool_call>\\n{\\"name\\": \\"visit\\", \\"arguments\\": {\\"url\\": [" url "], '
                          '\\"goal\\": " str "}}\\n</tool_call>"')
        rules["url"] = " | ".join(_lit(json.dumps(u, ensure_ascii=False)) for u in dict.fromkeys(urls))
        actions.append("visit")
    if allow_answer or not actions:
        if answers:
            rules["answer"] = '"<answer>" span "</answer>"'
            rules["span"] = " | ".join(_lit(a) for a in dict.fromkeys(answers))
        else:
            rules["answer"] = '"<answer>" [^<\\n]{1,100} "</answer>"'
        actions.append("answer")
    if only in actions:
        actions = [only]
    rules["action"] = " | ".join(actions)
    rules["str"] = '"\\"" [A-Za-z0-9] [^"\\\\<\\n]{0,79} "\\""'
    head = 'root ::= "<think>" thought "</think>\\n" action'
    return "\n".join([head, *(f"{name} ::= {body}" for name, body in rules.items())]) + "\n"
