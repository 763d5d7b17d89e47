"""RL pieces: the episode bookkeeping (which tokens the policy wrote), the loss mask inside
TRL's GRPO loss, the reward wiring, the windowed entropy regulator, and two real GRPO steps."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import pytest

from train.rewards import thoughts_for_rrm
from train.rl_rollout import EpisodeRunner, RolloutConfig, between_turns
from train.rl_runner import EntropyRegulator, RLSettings, RolloutReward

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("embedded_model")  # tests/conftest.py: skip, or fail under CI


@pytest.fixture(scope="module")
def base() -> Path:
    from train import base_model as bm

    return bm.ensure_base_model(os.environ.get("SEEKFORGE_MODEL_CACHE") or REPO / "data" / "models" / "base")


@pytest.fixture(scope="module")
def tokenizer(base: Path):  # type: ignore[no-untyped-def]
    from train.base_model import load_tokenizer

    return load_tokenizer(base)


class ScriptedPolicy:
    """Returns scripted texts as token ids (unit tests of the bookkeeping only)."""

    def __init__(self, tokenizer, replies: Sequence[str]) -> None:  # type: ignore[no-untyped-def]
        self.tok, self.replies = tokenizer, list(replies)
        self.eos_ids = frozenset({tokenizer.eos_token_id})
        self.contexts: list[list[int]] = []

    def encode(self, text: str) -> list[int]:
        return list(self.tok.encode(text, add_special_tokens=False))

    def decode(self, ids: Sequence[int]) -> str:
        return str(self.tok.decode(list(ids)))

    def generate(self, ids, max_new_tokens, *, stop=(), string_only=False):  # type: ignore[no-untyped-def]
        self.contexts.append(list(ids))
        return self.encode(self.replies.pop(0))[:max_new_tokens]


PROMPT = [{"role": "system", "content": "Answer with tools."}, {"role": "user", "content": "Who founded Velmora?"}]


def _spans(tok, ep):  # type: ignore[no-untyped-def]
    model = tok.decode([t for t, m in zip(ep.completion_ids, ep.env_mask, strict=True) if m])
    env = tok.decode([t for t, m in zip(ep.completion_ids, ep.env_mask, strict=True) if not m])
    return model, env


def test_episode_marks_observations_as_environment_tokens(tokenizer) -> None:  # type: ignore[no-untyped-def]
    calls = []

    def tool(name, args):  # type: ignore[no-untyped-def]
        calls.append((name, args))
        return "OBSERVATION: Velmora was founded by Ada Rinn."

    policy = ScriptedPolicy(tokenizer, [
        '<think>look it up</think>\n<tool_call>{"name": "search", "arguments": {"query": ["Velmora founder"]}}</tool_call>',
        "<think>found</think>\n<answer>Ada Rinn</answer><|im_end|>",
    ])
    ep = EpisodeRunner(policy, tokenizer, tool, ["search", "visit"], RolloutConfig(max_turns=4)).run(PROMPT)
    assert ep.finish_reason == "answer" and ep.answer == "Ada Rinn" and ep.tool_calls == 1
    assert calls == [("search", {"query": ["Velmora founder"]})]
    assert len(ep.completion_ids) == len(ep.env_mask)
    model, env = _spans(tokenizer, ep)
    assert "OBSERVATION" in env and "OBSERVATION" not in model
    assert "Ada Rinn</answer>" in model and "<tool_response>" in env
    # The second generation saw exactly prompt + everything so far, observation included.
    assert policy.contexts[1] == ep.prompt_ids + ep.completion_ids[: len(policy.contexts[1]) - len(ep.prompt_ids)]
    assert "OBSERVATION" in tokenizer.decode(policy.contexts[1])
    # The whole sequence is what the chat template renders for the same conversation.
    full = tokenizer.decode(ep.prompt_ids + ep.completion_ids)
    assert full.endswith("<answer>Ada Rinn</answer><|im_end|>")


def test_invalid_turn_gets_a_corrective_observation_and_the_tool_is_not_called(tokenizer) -> None:  # type: ignore[no-untyped-def]
    calls = []
    policy = ScriptedPolicy(tokenizer, ["<think>hmm</think>\n<tool_call>{not json}</tool_call>",
                                        '<think>x</think>\n<tool_call>{"name": "browse", "arguments": {}}</tool_call>'])
    ep = EpisodeRunner(policy, tokenizer, lambda n, a: calls.append(n) or "x", ["search"],
                       RolloutConfig(max_turns=2)).run(PROMPT)
    assert calls == [] and ep.invalid_turns == 2 and ep.finish_reason == "max_turns"
    assert [t.invalid_reason for t in ep.parsed] == ["bad_json", "unknown_tool"]
    _, env = _spans(tokenizer, ep)
    assert "Invalid action" in env


def test_scaffold_text_is_environment_and_fields_are_policy(tokenizer) -> None:  # type: ignore[no-untyped-def]
    seen = []
    policy = ScriptedPolicy(tokenizer, ["plan a search</think>", 'velmora founder"', "compare</think>", "Ada Rinn</answer>"])
    ep = EpisodeRunner(policy, tokenizer, lambda n, a: seen.append((n, a)) or "Ada Rinn founded it.", ["search", "visit"],
                       RolloutConfig(max_turns=3, scaffold=("search", "answer"))).run(PROMPT)
    assert seen == [("search", {"query": ["velmora founder"]})]
    assert ep.finish_reason == "answer" and ep.answer == "Ada Rinn"
    model, env = _spans(tokenizer, ep)
    assert '"name": "search"' in env and "velmora founder" in model and '"name"' not in model
    assert ep.turns[0] == '<think>plan a search</think>\n<tool_call>{"name": "search", "arguments": {"query": ["velmora founder"]}}</tool_call>'


def test_between_turns_follows_the_template(tokenizer) -> None:  # type: ignore[no-untyped-def]
    glue = between_turns(tokenizer, "OBS")
    assert glue.startswith("<|im_end|>") and "<tool_response>\nOBS\n</tool_response>" in glue
    assert glue.endswith("<|im_start|>assistant\n")


def _mask_loss_grads(trainer, completion_ids, tool_mask):  # type: ignore[no-untyped-def]
    import torch

    model = trainer.model
    model.zero_grad()
    c = torch.tensor([completion_ids])
    inputs = {
        "prompt_ids": torch.tensor([[1, 2, 3, 4]]), "prompt_mask": torch.ones(1, 4, dtype=torch.long),
        "completion_ids": c, "completion_mask": torch.ones_like(c), "tool_mask": torch.tensor([tool_mask]),
        "advantages": torch.tensor([1.0]), "num_items_in_batch": torch.tensor(float(sum(tool_mask))),
        "ref_per_token_logps": torch.zeros(c.shape),
    }
    loss = trainer.compute_loss(model, inputs)
    loss.backward()
    return loss.detach().clone(), [p.grad.detach().clone() for p in model.parameters() if p.grad is not None]


def _same(a, b) -> bool:  # type: ignore[no-untyped-def]
    import torch

    return all(torch.allclose(x, y, atol=1e-7, rtol=0) for x, y in zip(a, b, strict=True))


def test_grpo_loss_ignores_observation_tokens_but_not_model_tokens(tmp_path: Path, tokenizer) -> None:  # type: ignore[no-untyped-def]
    """Changing the observation's tokens leaves loss and gradient unchanged; changing a model token does not.
    (The observation is last, so it is context for no model token.) With the mask off, the same change shows."""
    import datasets
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                      eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    LlamaForCausalLM(cfg).save_pretrained(tmp_path / "tiny")
    tokenizer.save_pretrained(tmp_path / "tiny")
    ds = datasets.Dataset.from_list([{"prompt": PROMPT, "question": "q", "answer": "a", "aliases": []}] * 2)
    from train.rl_runner import build_trainer

    trainer = build_trainer(ds, tmp_path / "tiny", tmp_path / "out", RLSettings(max_steps=1, num_generations=2),
                            tool=lambda n, a: "", tool_names=["search"], scorer=None)
    model_part, obs = [11, 12, 13, 14, 15], [21, 22, 23, 24]
    mask = [1] * len(model_part) + [0] * len(obs)
    loss0, g0 = _mask_loss_grads(trainer, model_part + obs, mask)
    loss1, g1 = _mask_loss_grads(trainer, model_part + [31, 32, 33, 34], mask)
    assert torch.equal(loss0, loss1) and _same(g0, g1)
    loss2, g2 = _mask_loss_grads(trainer, [11, 12, 99, 14, 15] + obs, mask)
    assert not _same(g0, g2)
    # Sensitivity: without the mask the observation change does reach the gradient.
    _, h0 = _mask_loss_grads(trainer, model_part + obs, [1] * 9)
    _, h1 = _mask_loss_grads(trainer, model_part + [31, 32, 33, 34], [1] * 9)
    assert not _same(h0, h1)


def test_reward_blends_atr_and_f1_by_the_curriculum_and_penalises_format() -> None:
    scored = []

    def scorer(items):  # type: ignore[no-untyped-def]
        scored.extend([u.tag for u in units] for _, units, _ in items)
        return [[1.0] * len(units) for _, units, _ in items]

    r = RolloutReward(RLSettings(alpha0=0.5), ["search"], scorer)
    good = ['<think><PLAN>search it</PLAN></think>\n<tool_call>{"name": "search", "arguments": {"query": ["x"]}}</tool_call>',
            "<think>done</think>\n<answer>Ada Rinn</answer>"]
    bad = ["<think>x</think>\n<answer>Ada Rinn</answer>", "<think>y</think>\n<answer>again</answer>"]
    kw = dict(answer=["Ada Rinn"] * 2, aliases=[[], []], question=["q"] * 2, turns=[good, bad],
              thoughts=[["<PLAN>search it</PLAN>", "done"], ["x", "y"]], observations=[["obs"], []], tool_calls=[1, 0])
    metrics: dict[str, float] = {}
    at0 = r([None] * 2, [None] * 2, trainer_state=SimpleNamespace(global_step=0, max_steps=10),
            log_metric=metrics.__setitem__, **kw)
    assert at0[1] == -1.0  # answer before the last turn breaks the format
    assert at0[0] == pytest.approx(0.5 * 1.0 + 0.5 * 1.0)
    assert scored[0] == ["PLAN", "THOUGHT"] and metrics["reward/alpha"] == 0.5
    half = r([None] * 2, [None] * 2, trainer_state=SimpleNamespace(global_step=5, max_steps=10), **kw)
    assert metrics and half[0] == pytest.approx(1.0)  # F1 = ATR = 1 here, so the blend stays 1
    no_rrm = RolloutReward(RLSettings(), ["search"], lambda items: [[None] * len(u) for _, u, _ in items])
    kw["answer"] = ["Ada"] * 2
    out = no_rrm([None] * 2, [None] * 2, trainer_state=SimpleNamespace(global_step=0, max_steps=10), **kw)
    assert out[0] == pytest.approx(2 * 0.5 * 1.0 / 1.5)  # F1 alone when the RRM grades nothing
    wd = RolloutReward(RLSettings(reward="webdancer"), ["search"], None)
    assert wd([None] * 2, [None] * 2, **kw) == [pytest.approx(0.1), 0.0]


def test_thoughts_for_rrm_uses_units_or_the_whole_thought() -> None:
    units = thoughts_for_rrm(["<PLAN>a</PLAN><REFLECTION>b <VERIFY>c</VERIFY></REFLECTION>", "plain", "  "])
    assert [(u.tag, u.text) for u in units] == [("PLAN", "a"), ("REFLECTION", "b <VERIFY>c</VERIFY>"),
                                                ("THOUGHT", "plain")]


def test_entropy_regulator_raises_the_bonus_only_while_the_window_is_low() -> None:
    reg = EntropyRegulator(base=0.001, target=0.5, window=3, step=0.001, maximum=0.003)
    assert reg.update(1.0) == 0.001
    assert reg.update(0.1) == 0.001  # window mean 0.55 is still above target
    assert reg.update(0.1) == pytest.approx(0.002)  # mean 0.4
    assert reg.update(0.1) == pytest.approx(0.003)
    assert reg.update(0.1) == pytest.approx(0.003)  # capped
    assert reg.update(float("nan")) == pytest.approx(0.003)  # a NaN step is not a reading
    for _ in range(3):
        reg.update(2.0)
    assert reg.coef == pytest.approx(0.001)


@pytest.mark.timeout(900)
def test_two_grpo_steps_with_tool_calls_in_rollouts(tmp_path: Path, base: Path) -> None:
    """Real GRPO steps on the embedded model: scaffolded multi-turn rollouts call the tool,
    the checkpoint loads, and the report counts steps, rollouts, tool calls and tokens/s."""
    import datasets
    from transformers import AutoModelForCausalLM

    from train.rl_runner import run_rl

    prompt = [{"role": "system", "content": "Use <think>, then <tool_call> or <answer>."},
              {"role": "user", "content": "Who founded the Velmora Institute?"}]
    datasets.Dataset.from_list([{"prompt": prompt, "question": "Who founded the Velmora Institute?",
                                 "answer": "Ada Rinn", "aliases": ["A. Rinn"], "path_entities": ["Velmora"]}]
                               ).save_to_disk(str(tmp_path / "ds"))
    calls = []

    def tool(name, args):  # type: ignore[no-untyped-def]
        calls.append(name)
        return "The Velmora Institute was founded by Ada Rinn in 1901."

    settings = RLSettings(max_steps=2, num_generations=2, learning_rate=1e-5, entity_reward_alpha=0.3,
                          rollout=RolloutConfig(max_turns=2, scaffold=("search", "answer"), max_thought_tokens=12,
                                                max_field_tokens=8))
    report = run_rl(tmp_path / "ds", base, tmp_path / "out", settings, tool=tool, tool_names=["search", "visit"],
                    scorer=lambda items: [[0.5 + 0.1 * (len(u.text) % 3) for u in units] for _, units, _ in items])
    assert report.steps == 2 and report.rollouts == 4 and report.tool_calls >= 4 and calls
    assert report.tokens_per_s > 0 and report.device == "cpu"
    assert "reward/alpha" in report.metrics and "entropy" in report.metrics
    # the path_entities column reached the reward through TRL (with the term on and no column, it raises)
    assert 0.0 <= report.metrics["reward/entity_coverage"] <= 1.0
    saved = json.loads((tmp_path / "out" / "train_report.json").read_text())
    assert saved["tool_calls"] == report.tool_calls
    AutoModelForCausalLM.from_pretrained(report.checkpoint)


def test_scaffold_fields_get_their_token_allowance_late_in_the_budget(tokenizer) -> None:  # type: ignore[no-untyped-def]
    """Each policy piece may use up to its own allowance while the rollout's budget lasts
    (a regression: the budget was once subtracted twice, leaving later fields one token)."""
    asked: list[int] = []

    class Recording(ScriptedPolicy):
        def generate(self, ids, max_new_tokens, *, stop=(), string_only=False):  # type: ignore[no-untyped-def]
            asked.append(max_new_tokens)
            return super().generate(ids, max_new_tokens, stop=stop, string_only=string_only)

    def run(budget: int, turns: int):  # type: ignore[no-untyped-def]
        policy = Recording(tokenizer, ["a</think>", 'q"', "b</think>", "Ada</answer>"])
        cfg = RolloutConfig(max_turns=turns, scaffold=("search", "answer"), max_thought_tokens=20, max_field_tokens=10,
                            max_completion_tokens=budget)
        return EpisodeRunner(policy, tokenizer, lambda n, a: "short observation", ["search"], cfg).run(PROMPT)

    first_turn = len(run(10_000, 1).completion_ids)  # the search turn and its observation
    asked.clear()
    ep = run(first_turn + 40, 2)  # 40 tokens left for the answer turn
    assert ep.finish_reason == "answer"
    assert asked == [20, 10, 20, 10]
