"""The three trajectory styles: who writes the turn and what it is shown.

- ``short``: the instruct ``teacher`` runs the ReAct loop on the full history.
- ``long``: the ``reasoner`` sees the question plus the history of actions and
  observations only (earlier thoughts dropped, WebDancer's long-CoT recipe); its
  reasoning channel, or its ``<think>`` block, becomes the step's thought.
- ``atomic``: the ``teacher`` under one of the expanded Atom-Searcher system prompts,
  thinking in named atomic units.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from distill.prompt import load_prompt

PROMPT_NAME = "react"


@dataclass(frozen=True)
class SystemPrompt:
    text: str
    family: str  # prompt template id@version, e.g. "react@1a2b3c4d5e6f"
    units: tuple[str, ...] = ()  # atomic-thought tags this prompt asks for
    variant: str = ""  # e.g. the atomic prompt id it was built from

    @property
    def id(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Style:
    name: str
    role: str
    prompts: tuple[SystemPrompt, ...]
    history: str = "full"  # full | actions (thoughts of earlier turns are not shown)

    def prompt_for(self, question_id: str, sample_index: int) -> SystemPrompt:
        """Spread prompt variants over questions and samples, deterministically."""
        h = int(hashlib.sha256(question_id.encode("utf-8")).hexdigest()[:8], 16)
        return self.prompts[(h + sample_index) % len(self.prompts)]


def render_system(tools: Sequence[Mapping[str, Any]], date: str, persona: str = "") -> SystemPrompt:
    prompt = load_prompt(PROMPT_NAME)
    text = prompt.system.render(tools=list(tools), date=date, persona=persona).strip() if prompt.system else ""
    return SystemPrompt(text=text, family=f"{prompt.id}@{prompt.version}")


def user_message(question: str) -> str:
    return load_prompt(PROMPT_NAME).user.render(question=question).strip()


def short_style(tools: Sequence[Mapping[str, Any]], date: str, role: str = "teacher") -> Style:
    return Style("short", role, (render_system(tools, date),))


def long_style(tools: Sequence[Mapping[str, Any]], date: str, role: str = "reasoner") -> Style:
    return Style("long", role, (render_system(tools, date),), history="actions")


def atomic_style(tools: Sequence[Mapping[str, Any]], date: str, atomic_prompts: Sequence[Any],
                 role: str = "teacher") -> Style:
    """``atomic_prompts``: objects with ``.text``, ``.units`` and ``.id`` (distill.agent.atomic.AtomicPrompt)."""
    if not atomic_prompts:
        raise ValueError("the atomic style needs at least one atomic-thought system prompt")
    prompts = []
    for ap in atomic_prompts:
        base = render_system(tools, date, persona=ap.text)
        prompts.append(SystemPrompt(text=base.text, family=base.family, units=tuple(ap.units), variant=ap.id))
    return Style("atomic", role, tuple(prompts))
