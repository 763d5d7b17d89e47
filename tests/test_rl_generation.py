"""The two rollout drivers share one protocol: episodes run in lockstep for a batching policy
(vLLM) give the same turns, tool calls and environment mask as one at a time, and the choice
of backend fails loudly where vLLM cannot run. (The vLLM engine itself needs CUDA: the GPU
check is `bench/rl_generation.py`, run on a GPU machine.)"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from train.rl_policy import VLLMPolicy, json_string_tokens
from train.rl_rollout import BatchPolicy, EpisodeRunner, Generated, GenRequest, RolloutConfig
from train.rl_runner import resolve_generation

REPO = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("embedded_model")  # tests/conftest.py: skip, or fail under CI


@pytest.fixture(scope="module")
def tokenizer():  # type: ignore[no-untyped-def]
    from train import base_model as bm
    from train.base_model import load_tokenizer

    return load_tokenizer(bm.ensure_base_model(os.environ.get("SEEKFORGE_MODEL_CACHE") or REPO / "data" / "models" / "base"))


class Replies:
    """Per-conversation scripted replies, keyed by the question in the prompt, so the order in
    which a driver asks does not change what each episode is told."""

    def __init__(self, tokenizer, script: dict[str, list[str]]) -> None:  # type: ignore[no-untyped-def]
        self.tok, self.script = tokenizer, {k: list(v) for k, v in script.items()}
        self.eos_ids = frozenset({tokenizer.eos_token_id})

    def encode(self, text: str) -> list[int]:
        return list(self.tok.encode(text, add_special_tokens=False))

    def decode(self, ids: Sequence[int]) -> str:
        return str(self.tok.decode(list(ids)))

    def reply(self, ids: Sequence[int], max_new_tokens: int) -> list[int]:
        context = self.tok.decode(list(ids))
        key = next(k for k in self.script if k in context)
        return self.encode(self.script[key].pop(0))[:max_new_tokens]


class OneAtATime(Replies):
    def generate(self, ids, max_new_tokens, *, stop=(), string_only=False):  # type: ignore[no-untyped-def]
        return self.reply(ids, max_new_tokens)


class Batched(Replies):
    def __init__(self, tokenizer, script: dict[str, list[str]]) -> None:  # type: ignore[no-untyped-def]
        super().__init__(tokenizer, script)
        self.batches: list[int] = []

    def generate_batch(self, requests: Sequence[GenRequest]) -> list[Generated]:
        self.batches.append(len(requests))
        out = []
        for r in requests:
            ids = self.reply(r.ids, r.max_new_tokens)
            out.append(Generated(ids, [-0.5] * len(ids)))
        return out


SEARCH = '<think>look</think>\n<tool_call>{"name": "search", "arguments": {"query": ["%s"]}}</tool_call>'
SCRIPT = {
    "Velmora": [SEARCH % "velmora", "<think>ok</think>\n<answer>Ada Rinn</answer><|im_end|>"],
    "Tessholm": [SEARCH % "tessholm", SEARCH % "tessholm 2", "<think>ok</think>\n<answer>1912</answer><|im_end|>"],
    "Arwen": ["<think>I know</think>\n<answer>Oslo</answer><|im_end|>"],
}


def _prompts() -> list[list[dict[str, str]]]:
    return [[{"role": "system", "content": "Use tools."}, {"role": "user", "content": f"Question about {k}?"}]
            for k in SCRIPT]


def test_lockstep_batches_give_the_same_episodes_as_one_at_a_time(tokenizer) -> None:  # type: ignore[no-untyped-def]
    def tool(name: str, args: dict) -> str:  # type: ignore[type-arg]
        return f"RESULT for {args['query'][0]}"

    cfg = RolloutConfig(max_turns=4)
    single = EpisodeRunner(OneAtATime(tokenizer, SCRIPT), tokenizer, tool, ["search"], cfg)
    one = [single.run(p) for p in _prompts()]
    batched_policy = Batched(tokenizer, SCRIPT)
    assert isinstance(batched_policy, BatchPolicy)
    many = EpisodeRunner(batched_policy, tokenizer, tool, ["search"], cfg).run_batch(_prompts())
    for a, b in zip(one, many, strict=True):
        assert (a.completion_ids, a.env_mask, a.turns, a.tool_calls, a.finish_reason) == \
            (b.completion_ids, b.env_mask, b.turns, b.tool_calls, b.finish_reason)
    assert [e.answer for e in many] == ["Ada Rinn", "1912", "Oslo"]
    # Round 1 asks all three, round 2 the two still searching, round 3 the last one.
    assert batched_policy.batches == [3, 2, 1]
    # The sampler's log-probabilities sit on policy tokens only; environment tokens have none.
    for ep in many:
        assert len(ep.logprobs) == len(ep.completion_ids)
        assert all((lp is not None) == bool(m) for lp, m in zip(ep.logprobs, ep.env_mask, strict=True))
    assert all(lp is None for ep in one for lp in ep.logprobs)  # HF generate reports none: TRL recomputes


def test_vllm_sampling_keeps_the_stops_and_the_json_string_constraint(tokenizer) -> None:  # type: ignore[no-untyped-def]
    policy = VLLMPolicy(generation=None, mode="colocate", tokenizer=tokenizer, temperature=0.7)
    free = policy.sampling_kwargs(GenRequest([1, 2], 64, stop=("</tool_call>", "</answer>")))
    assert free["stop"] == ["</tool_call>", "</answer>"] and free["include_stop_str_in_output"]
    assert free["stop_token_ids"] == [tokenizer.eos_token_id] and free["max_tokens"] == 64
    assert free["temperature"] == 0.7 and free["logprobs"] == 0 and "allowed_token_ids" not in free
    inside, quotes = json_string_tokens(tokenizer)
    field = policy.sampling_kwargs(GenRequest([1, 2], 16, string_only=True))
    assert field["stop_token_ids"] == quotes and set(field["allowed_token_ids"]) == set(inside) | set(quotes)
    assert not any('"' in tokenizer.decode([t]) or "\\" in tokenizer.decode([t]) for t in inside)
    with pytest.raises(ValueError, match="colocate or server"):
        VLLMPolicy(generation=None, mode="remote", tokenizer=tokenizer)


def test_generation_backend_fails_loudly_where_vllm_cannot_run(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a))
    assert resolve_generation("hf", "cuda") is False
    assert resolve_generation("auto", "cpu") is False
    assert resolve_generation("auto", "cuda") is False  # no vLLM installed: HF generate
    with pytest.raises(ValueError, match="needs CUDA"):
        resolve_generation("vllm", "cpu")
    with pytest.raises(ValueError, match=r"pip install -e '\.\[gpu\]'"):
        resolve_generation("vllm", "cuda")
    with pytest.raises(ValueError, match="unknown generation"):
        resolve_generation("vLLM", "cuda")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "vllm" else real(name, *a))
    assert resolve_generation("auto", "cuda") is True and resolve_generation("auto", "cpu") is False
