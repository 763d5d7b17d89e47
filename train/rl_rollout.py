"""Multi-turn agent rollouts for RL, token by token, with the environment's tokens marked.

GRPO needs, for every rollout, the exact token ids the policy produced and a mask saying
which completion tokens the policy chose (1) and which the environment wrote (0: tool
observations, chat-template glue between turns, and the DEMO-ONLY scaffold below). The
ReAct loop in ``distill.agent.loop`` talks to an HTTP endpoint and keeps only text, so this
module runs the same protocol (``parse_turn``, the corrective message after an invalid
turn, the ``<tool_response>`` user turn) against an in-process model and keeps the ids.

Observations are appended as text rendered by the tokenizer's own chat template, so the
sequence the loss sees is the one the model would see at inference.

Each episode is a generator that yields generation requests (:class:`GenRequest`) and runs
the tools itself, so one protocol serves two drivers: :meth:`EpisodeRunner.run` answers the
requests one at a time (HF ``generate`` on the trainer's model), :meth:`EpisodeRunner.run_batch`
gathers one pending request per live episode and answers them in one call of a batching
policy (vLLM). The tool loop and the environment mask are the same code in both.

DEMO ONLY, ``scaffold``: a 135M model left free rarely writes a well-formed tool call, and a
group whose rollouts are all malformed has zero reward variance and teaches nothing. With a
scaffold the protocol's fixed text (``<think>``, ``<tool_call>{"name": "search", ...``) is
written by the environment (mask 0) and the policy fills in the thought, the query, the URL,
the goal and the answer (mask 1), sampled under a mask that keeps JSON strings closed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from distill.agent.protocol import TOOL_RESPONSE_OPEN, Turn, corrective_message, parse_turn, truncate_observation

log = logging.getLogger(__name__)

SCAFFOLD_ACTIONS = ("search", "visit", "answer")
STOPS = ("</tool_call>", "</answer>", TOOL_RESPONSE_OPEN)
_SENTINEL = "\x00SEEKFORGE_TURN\x00"

ToolFn = Callable[[str, dict[str, Any]], str]


@dataclass(frozen=True, slots=True)
class GenRequest:
    """One generation an episode waits for (the arguments of :meth:`Policy.generate`)."""

    ids: list[int]
    max_new_tokens: int
    stop: tuple[str, ...] = ()
    string_only: bool = False


@dataclass(frozen=True, slots=True)
class Generated:
    """What the policy sampled: token ids, and the sampler's log-probability of each when the
    backend reports them (vLLM; TRL's importance-sampling correction needs them)."""

    ids: list[int]
    logprobs: list[float] | None = None


#: An episode in progress: yields requests, is sent what was generated, returns the episode.
EpisodeSteps = Generator[GenRequest, Generated, "Episode"]


class Policy(Protocol):
    """What a rollout needs from the model being trained."""

    eos_ids: frozenset[int]

    def generate(self, ids: Sequence[int], max_new_tokens: int, *, stop: Sequence[str] = (),
                 string_only: bool = False) -> list[int]:
        """Sample up to ``max_new_tokens`` after ``ids``; stop at eos or after any ``stop`` text.
        ``string_only``: only tokens that can sit inside a JSON string, and stop at the closing quote."""
        ...

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...


@runtime_checkable
class BatchPolicy(Protocol):
    """A policy that answers many requests in one call (vLLM), each with its own stop texts."""

    eos_ids: frozenset[int]

    def generate_batch(self, requests: Sequence[GenRequest]) -> list[Generated]: ...

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...


@dataclass(frozen=True, slots=True)
class RolloutConfig:
    max_turns: int = field(default=10, metadata={"help": "Assistant turns per rollout (DeepResearcher: up to 10)."})
    max_new_tokens: int = field(default=512, metadata={"help": "Tokens per turn."})
    max_completion_tokens: int = field(default=4096, metadata={"help": "Policy + environment tokens after the "
                                                                       "prompt."})
    max_observation_chars: int = field(default=4000, metadata={"help": "One tool observation, as the policy sees it."})
    # DEMO ONLY: the action of turn i (the last repeats); () lets the policy write everything.
    scaffold: tuple[str, ...] = ()
    max_thought_tokens: int = field(default=96, metadata={"help": "With scaffold: tokens of a thought."})
    max_field_tokens: int = field(default=32, metadata={"help": "With scaffold: tokens of a query, URL, goal or "
                                                                "answer."})

    def __post_init__(self) -> None:
        bad = [a for a in self.scaffold if a not in SCAFFOLD_ACTIONS]
        if bad:
            raise ValueError(f"unknown scaffold actions {bad}; use {', '.join(SCAFFOLD_ACTIONS)}")


@dataclass(slots=True)
class Episode:
    prompt_ids: list[int]
    completion_ids: list[int] = field(default_factory=list)
    env_mask: list[int] = field(default_factory=list)  # 1 = the policy chose the token
    logprobs: list[float | None] = field(default_factory=list)  # the sampler's, per completion token (None: env)
    turns: list[str] = field(default_factory=list)  # assistant texts as the model wrote them
    parsed: list[Turn] = field(default_factory=list)
    observations: list[str] = field(default_factory=list)
    tool_calls: int = 0
    invalid_turns: int = 0
    finish_reason: str = ""  # answer | max_turns | max_tokens | invalid

    def add(self, ids: Sequence[int], *, policy: bool, logprobs: Sequence[float] | None = None) -> None:
        self.completion_ids.extend(ids)
        self.env_mask.extend([1 if policy else 0] * len(ids))
        self.logprobs.extend(logprobs if logprobs is not None and len(logprobs) == len(ids) else [None] * len(ids))

    @property
    def answer(self) -> str:
        return next((t.answer.strip() for t in reversed(self.parsed) if t.action == "answer"), "")

    @property
    def thoughts(self) -> list[str]:
        return [t.think for t in self.parsed if t.think.strip()]


def between_turns(tokenizer: Any, observation: str) -> str:
    """The text after an assistant message up to the next generation prompt, with
    ``observation`` as the ``<tool_response>`` user turn, in the tokenizer's chat template.
    Rendered around a sentinel so any template (ChatML or not) gives its own glue."""
    msgs = [{"role": "user", "content": "q"}, {"role": "assistant", "content": _SENTINEL},
            {"role": "user", "content": f"{TOOL_RESPONSE_OPEN}\n{observation}\n</tool_response>"}]
    text = tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    if _SENTINEL not in text:
        raise ValueError("the chat template dropped the assistant message; cannot find the text between turns")
    return text.split(_SENTINEL, 1)[1]


class EpisodeRunner:
    """Runs episodes; ``tool`` executes a validated call and returns the observation. ``policy``
    is a :class:`Policy` (:meth:`run`) or a :class:`BatchPolicy` (:meth:`run_batch`)."""

    def __init__(self, policy: Policy | BatchPolicy, tokenizer: Any, tool: ToolFn, tool_names: Sequence[str],
                 config: RolloutConfig | None = None) -> None:
        self.policy, self.tokenizer, self.tool = policy, tokenizer, tool
        self.tool_names = frozenset(tool_names)
        self.config = config or RolloutConfig()
        missing = [a for a in self.config.scaffold if a != "answer" and a not in self.tool_names]
        if missing:
            raise ValueError(f"the scaffold names tools the environment lacks: {missing}")
        end = between_turns(tokenizer, "x").split(TOOL_RESPONSE_OPEN, 1)[0]
        # The end-of-turn text that precedes a user turn, e.g. "<|im_end|>\n<|im_start|>user\n".
        self._turn_end = end

    def prompt_ids(self, messages: Sequence[dict[str, str]]) -> list[int]:
        ids = self.tokenizer.apply_chat_template(list(messages), tokenize=True, add_generation_prompt=True)
        if isinstance(ids, dict) or hasattr(ids, "keys"):  # transformers 5 may return a BatchEncoding
            ids = ids["input_ids"]
        return list(ids)

    def run(self, messages: Sequence[dict[str, str]]) -> Episode:
        """One episode, each generation answered as it is asked for."""
        return self.run_batch([messages])[0]

    def run_batch(self, batch: Sequence[Sequence[dict[str, str]]]) -> list[Episode]:
        """Episodes in lockstep: every round, one pending request per live episode, answered in one
        :meth:`BatchPolicy.generate_batch` call (or one by one by a plain :class:`Policy`)."""
        steps = [self._episode(m) for m in batch]
        done: dict[int, Episode] = {}
        pending: dict[int, GenRequest] = {}
        for i, ep in enumerate(steps):
            try:
                pending[i] = next(ep)
            except StopIteration as stop:
                done[i] = stop.value
        while pending:
            order = list(pending)
            outputs = self._answer([pending[i] for i in order])
            pending = {}
            for i, out in zip(order, outputs, strict=True):
                try:
                    pending[i] = steps[i].send(out)
                except StopIteration as stop:
                    done[i] = stop.value
        return [done[i] for i in range(len(steps))]

    def _answer(self, requests: Sequence[GenRequest]) -> list[Generated]:
        if isinstance(self.policy, BatchPolicy):
            out = self.policy.generate_batch(requests)
            if len(out) != len(requests):
                raise RuntimeError(f"the policy answered {len(out)} of {len(requests)} generation requests")
            return out
        return [Generated(self.policy.generate(r.ids, r.max_new_tokens, stop=r.stop, string_only=r.string_only))
                for r in requests]

    def _episode(self, messages: Sequence[dict[str, str]]) -> EpisodeSteps:
        cfg = self.config
        ep = Episode(prompt_ids=self.prompt_ids(messages))
        for turn_no in range(cfg.max_turns):
            budget = cfg.max_completion_tokens - len(ep.completion_ids)
            if budget <= 0:
                ep.finish_reason = "max_tokens"
                return ep
            if cfg.scaffold:
                action = cfg.scaffold[min(turn_no, len(cfg.scaffold) - 1)]
                text, ended_eos = yield from self._scaffolded_turn(ep, action)
            else:
                text, ended_eos = yield from self._gen(ep, min(cfg.max_new_tokens, budget), stop=STOPS)
            capped = not ended_eos and not any(text.rstrip().endswith(s) for s in STOPS)
            turn = parse_turn(text, self.tool_names, length_capped=capped)
            ep.turns.append(text)
            ep.parsed.append(turn)
            if turn.action == "answer":
                ep.finish_reason = "answer"
                if not ended_eos:
                    self._append_env(ep, self.tokenizer.eos_token or "")
                return ep
            if turn.invalid_reason:
                ep.invalid_turns += 1
                observation = corrective_message(turn, self.tool_names)
            else:
                ep.tool_calls += 1
                try:
                    observation = self.tool(turn.name, dict(turn.arguments or {}))
                except Exception as exc:  # noqa: BLE001 - the environment failing is an observation, not a lost rollout
                    log.warning("tool %s failed in an RL rollout: %s", turn.name, exc)
                    observation = f"The {turn.name} tool failed: {type(exc).__name__}."
                observation, _ = truncate_observation(observation, cfg.max_observation_chars)
            ep.observations.append(observation)
            glue = between_turns(self.tokenizer, observation)
            if ended_eos and glue.startswith(self.tokenizer.eos_token or "\x00"):
                glue = glue[len(self.tokenizer.eos_token):]
            self._append_env(ep, glue)
        ep.finish_reason = "max_turns"
        return ep

    def _append_env(self, ep: Episode, text: str) -> None:
        if text:
            ep.add(self.policy.encode(text), policy=False)

    def _gen(self, ep: Episode, max_new: int, *, stop: Sequence[str] = (),
             string_only: bool = False) -> Generator[GenRequest, Generated, tuple[str, bool]]:
        out = yield GenRequest(ep.prompt_ids + ep.completion_ids, max_new, tuple(stop), string_only)
        ep.add(out.ids, policy=True, logprobs=out.logprobs)
        eos = self.policy.eos_ids
        ended_eos = bool(out.ids) and out.ids[-1] in eos
        return self.policy.decode([i for i in out.ids if i not in eos]), ended_eos

    def _scaffolded_turn(self, ep: Episode, action: str) -> Generator[GenRequest, Generated, tuple[str, bool]]:
        """Environment text and policy text interleaved; returns the turn's text. Each policy
        piece gets at least one token, so a turn may overrun the budget by a few tokens."""
        cfg = self.config
        parts: list[str] = []

        def env(text: str) -> None:
            parts.append(text)
            self._append_env(ep, text)

        def policy(max_new: int, *, stop: Sequence[str] = (),
                   string_only: bool = False) -> Generator[GenRequest, Generated, str]:
            left = cfg.max_completion_tokens - len(ep.completion_ids)
            text, _ = yield from self._gen(ep, max(1, min(max_new, left)), stop=stop, string_only=string_only)
            parts.append(text)
            return text

        env("<think>")
        thought = yield from policy(cfg.max_thought_tokens, stop=("</think>",))
        if not thought.endswith("</think>"):
            env("</think>")
        if action == "answer":
            env("\n<answer>")
            answer = yield from policy(cfg.max_field_tokens, stop=("</answer>",))
            if not answer.endswith("</answer>"):
                env("</answer>")
            return "".join(parts), False

        def field(prefix: str) -> Generator[GenRequest, Generated, None]:
            env(prefix)
            value = yield from policy(cfg.max_field_tokens, string_only=True)
            if not value.endswith('"'):
                env('"')

        env(f'\n<tool_call>{{"name": {json.dumps(action)}, "arguments": ')
        if action == "search":
            yield from field('{"query": ["')
            env("]}}</tool_call>")
        else:
            yield from field('{"url": ["')
            yield from field('], "goal": "')
            env("}}</tool_call>")
        return "".join(parts), False
