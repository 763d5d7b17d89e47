"""The ReAct loop: think, act, observe, until an answer or a budget runs out.

A rollout never raises. Whatever the model does (bad JSON, unknown tools, the same
call over and over, no answer, an endpoint that dies) ends as a trajectory with a
``finish_reason`` in :data:`~distill.agent.trajectory.FINISH_REASONS`, and every
invalid turn is recorded with its reason, so the filters can count and drop it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from distill.agent.answers import observed_answers
from distill.agent.grammar import action_grammar
from distill.agent.protocol import (
    TOOL_RESPONSE_OPEN,
    Turn,
    corrective_message,
    parse_turn,
    render_turn,
    truncate_observation,
)
from distill.agent.styles import Style, SystemPrompt, user_message
from distill.agent.tools import BAD_ARGUMENTS, TOOL_ERROR, Tool, ToolArgumentError
from distill.agent.trajectory import Step, Trajectory
from distill.llm.client import LLMClient
from distill.progress import ProgressFn

log = logging.getLogger(__name__)
_URL = re.compile(r"\]\((https?://[^\s)]+)\)|The useful information in (https?://\S+) for user goal")


@dataclass(frozen=True)
class RolloutSettings:
    max_turns: int = 12
    max_total_tokens: int = 24_000  # completion tokens over the whole rollout
    max_tokens_per_turn: int = 1024
    max_context_chars: int = 60_000  # request size; older observations are shortened to fit
    keep_recent_observations: int = 2  # never shortened
    stale_observation_chars: int = 400
    max_observation_chars: int = 6_000  # one observation, as recorded
    max_invalid: int = 3  # consecutive invalid turns before giving up
    max_repeats: int = 2  # identical tool calls answered from memory before giving up
    temperature: float | None = None  # None: the role's
    # DEMO ONLY: GBNF-constrain every turn to the action format (llama.cpp servers).
    constrain: bool = False
    require_tool_first: bool = False  # DEMO ONLY (with constrain): no answer before one tool call
    max_thought_chars: int = 400  # with constrain
    # DEMO ONLY (with constrain): the action allowed at turn i (the last repeats), e.g.
    # ("search", "visit", "answer"); the model still fills in every argument.
    action_schedule: tuple[str, ...] = ()
    # DEMO ONLY (with constrain): "observed" = the answer is a name / number / date that
    # occurs in the observations so far (extractive), "free" = any short text.
    answer_space: str = "free"


@dataclass(slots=True)
class QAItem:
    id: str
    question: str
    answer: str = ""
    aliases: list[str] = field(default_factory=list)


class _Run:
    """State of one rollout."""

    def __init__(self, client: LLMClient, style: Style, item: QAItem, tools: Mapping[str, Tool],
                 settings: RolloutSettings, seed: int, sample_index: int, system: SystemPrompt) -> None:
        self.client, self.style, self.item, self.tools, self.settings = client, style, item, tools, settings
        self.seed, self.sample_index, self.system = seed, sample_index, system
        self.tool_names = frozenset(tools)
        self.steps: list[Step] = []
        self.messages: list[dict[str, str]] = [
            {"role": "system", "content": system.text},
            {"role": "user", "content": user_message(item.question)},
        ]
        self.seen_calls: dict[str, int] = {}
        self.urls: list[str] = []

    def request_messages(self) -> list[dict[str, str]]:
        """What the model sees: tool turns as ``<tool_response>`` user turns, thoughts of
        earlier turns dropped for ``history="actions"``, old observations shortened to fit."""
        msgs: list[dict[str, str]] = []
        for m in self.messages:
            if m["role"] == "tool":
                msgs.append({"role": "user", "content": f"{TOOL_RESPONSE_OPEN}{m['content']}</tool_response>"})
            elif m["role"] == "assistant" and self.style.history == "actions":
                msgs.append({"role": "assistant", "content": re.sub(r"<think>.*?</think>\s*", "", m["content"], flags=re.S)})
            else:
                msgs.append(dict(m))
        size = sum(len(m["content"]) for m in msgs)
        tool_idx = [i for i, m in enumerate(self.messages) if m["role"] == "tool"]
        stale = tool_idx[: max(0, len(tool_idx) - self.settings.keep_recent_observations)]
        for i in stale:
            if size <= self.settings.max_context_chars:
                break
            content = msgs[i]["content"]
            short, cut = truncate_observation(content, self.settings.stale_observation_chars)
            if cut:
                msgs[i] = {"role": "user", "content": short + "</tool_response>"}
                size -= len(content) - len(msgs[i]["content"])
        return msgs

    def grammar(self) -> str | None:
        if not self.settings.constrain:
            return None
        made_call = any(s.action not in ("answer", "invalid") for s in self.steps)
        schedule = self.settings.action_schedule
        only = schedule[min(len(self.steps), len(schedule) - 1)] if schedule else ""
        answers: list[str] = []
        if self.settings.answer_space == "observed":
            answers = observed_answers([s.observation for s in self.steps if s.action not in ("answer", "invalid")])
        return action_grammar(sorted(self.tool_names), urls=self.urls,
                              allow_answer=made_call or not self.settings.require_tool_first,
                              units=self.system.units if self.style.name == "atomic" else (),
                              max_thought_chars=self.settings.max_thought_chars, only=only, answers=answers)

    def finish(self, reason: str, error: str = "") -> Trajectory:
        answer = next((s.answer.strip() for s in reversed(self.steps) if s.action == "answer"), "")
        return Trajectory(
            question_id=self.item.id, question=self.item.question, reference=self.item.answer,
            aliases=list(self.item.aliases), style=self.style.name, role=self.style.role,
            model=self.client.role(self.style.role).model, prompt_id=self.system.family,
            system_prompt_id=self.system.id, seed=self.seed, sample_index=self.sample_index,
            messages=self.messages, steps=self.steps, final_answer=answer, finish_reason=reason, error=error,
            tools_json=json.dumps([t.schema for t in self.tools.values()], ensure_ascii=False),
        )

    async def run(self) -> Trajectory:
        s = self.settings
        completion_total = 0
        invalid_streak = 0
        for turn_no in range(s.max_turns):
            result = await self.client.chat(
                self.style.role, self.request_messages(), seed=self.seed, sample_index=self.sample_index,
                temperature=s.temperature, max_tokens=min(s.max_tokens_per_turn, s.max_total_tokens - completion_total),
                stop=[TOOL_RESPONSE_OPEN], grammar=self.grammar(),
            )
            if not result.ok:
                return self.finish("error", f"{result.error}: {result.detail}"[:500])
            completion_total += result.completion_tokens
            turn = parse_turn(result.text, self.tool_names, reasoning=result.reasoning,
                              length_capped=result.finish_reason == "length")
            step = Step(index=turn_no, think=turn.think, action=turn.action, tool_call=turn.tool_call,
                        arguments=json.dumps(turn.arguments, ensure_ascii=False) if turn.arguments is not None else "",
                        answer=turn.answer, invalid_reason=turn.invalid_reason,
                        prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens,
                        cached=result.cached)
            step.units = _units(step.think)
            self.steps.append(step)
            self.messages.append({"role": "assistant", "content": _assistant_content(result.text, turn)})
            if turn.action == "answer":
                return self.finish("answer")
            if turn.invalid_reason:
                invalid_streak += 1
                step.observation = corrective_message(turn, self.tool_names)
            else:
                invalid_streak = 0
                stop = await self.act(step, turn)
                if stop:
                    self.messages.append({"role": "tool", "content": f"\n{step.observation}\n"})
                    return self.finish("invalid", "repeated_call")
            self.messages.append({"role": "tool", "content": f"\n{step.observation}\n"})
            if invalid_streak >= s.max_invalid:
                return self.finish("invalid", step.invalid_reason)
            if completion_total >= s.max_total_tokens:
                return self.finish("max_tokens")
        return self.finish("max_turns")

    async def act(self, step: Step, turn: Turn) -> bool:
        """Run the tool; True when the rollout must stop (the same call once too often)."""
        key = json.dumps({"name": turn.name, "arguments": turn.arguments}, sort_keys=True, ensure_ascii=False)
        if key in self.seen_calls:
            first = self.seen_calls[key]
            repeats = sum(1 for s in self.steps if s.invalid_reason == "repeated_call") + 1
            step.action, step.invalid_reason = "invalid", "repeated_call"
            step.observation = (f"You already made this exact call at step {first + 1}; its result is above. "
                                "Use it, try a different query or page, or give your answer.")
            return repeats > self.settings.max_repeats
        self.seen_calls[key] = step.index
        tool = self.tools[turn.name]
        try:
            res = await tool(turn.arguments or {})
        except ToolArgumentError as exc:
            step.action, step.invalid_reason = "invalid", "bad_arguments"
            step.observation = f"Invalid arguments for {turn.name}: {exc}"
            step.tool_outcomes = [BAD_ARGUMENTS]
            return False
        except Exception as exc:  # a tool bug must not lose the rollout; it is recorded instead
            log.exception("tool %s failed", turn.name)
            step.observation = f"The {turn.name} tool failed: {type(exc).__name__}."
            step.tool_outcomes, step.tool_error = [TOOL_ERROR], f"{type(exc).__name__}: {exc}"[:300]
            return False
        step.tool_outcomes, step.tool_status, step.tool_error = list(res.outcomes), res.http_status, res.error
        step.observation, step.observation_truncated = truncate_observation(res.text, self.settings.max_observation_chars)
        for m in _URL.finditer(step.observation):
            url = m.group(1) or m.group(2)
            if url not in self.urls:
                self.urls.append(url)
        return False


def _units(think: str) -> list[Any]:
    from distill.agent.atomic import parse_units

    return parse_units(think) if "<" in think else []


def _assistant_content(raw: str, turn: Turn) -> str:
    """The canonical assistant message: think + action in one layout, or what the model
    wrote (cut before any observation it invented) when the turn was invalid."""
    if turn.invalid_reason:
        return raw.split(TOOL_RESPONSE_OPEN, 1)[0].rstrip()
    think = turn.think if not turn.think_from_reasoning else f"\n{turn.think.strip()}\n"
    return render_turn(think, tool_call=turn.tool_call, answer=turn.answer)


async def run_rollouts(
    client: LLMClient,
    style: Style,
    items: Sequence[QAItem],
    tools: Mapping[str, Tool],
    settings: RolloutSettings,
    *,
    k: int = 1,
    seed: int = 0,
    progress: ProgressFn | None = None,
) -> list[Trajectory]:
    """K rollouts per question (seeds ``seed + i``), all in flight at once; the client's
    concurrency limit decides how many requests really run. Order: question, then sample."""
    started = time.monotonic()
    done = 0
    total = len(items) * k

    async def one(item: QAItem, i: int) -> Trajectory:
        nonlocal done
        run = _Run(client, style, item, tools, settings, seed + i, i, style.prompt_for(item.id, i))
        traj = await run.run()
        done += 1
        if progress is not None:
            progress(done, total, time.monotonic() - started)
        return traj

    return list(await asyncio.gather(*(one(item, i) for item in items for i in range(k))))
