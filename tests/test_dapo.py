"""DAPO in the RL trainer: dynamic sampling (zero-variance groups replaced by informative ones
drawn from extra prompts, up to a bound on rounds, or masked out of the loss), and that the loss
settings (the zero-variance mask, epsilon_high, the loss type) act inside TRL's loss.

The trainer tests use a tiny random Llama with the embedded model's tokenizer and a scripted
reward, so which groups are flat is known in advance; the loss tests call the trainer's
``compute_loss`` on hand-built inputs (as ``tests/test_rl.py`` does for the tool mask)."""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from train import dynamic_sampling as dapo
from train.rl_rollout import RolloutConfig
from train.rl_runner import RLReport, RLSettings

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("embedded_model")  # tests/conftest.py: skip, or fail under CI

N = 2  # rollouts per prompt in these tests
QUESTIONS = ["flat-a", "flat-b", "varied-a", "varied-b", "varied-c", "varied-d",
             "varied-e-asked-at-greater-length", "varied-f"]  # the longer prompt makes refill re-pad the batch


def _prompt(question: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "Answer."}, {"role": "user", "content": f"Question {question}?"}]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer random Llama saved with the embedded model's (ChatML) tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from train import base_model as bm

    base = bm.ensure_base_model(os.environ.get("SEEKFORGE_MODEL_CACHE") or REPO / "data" / "models" / "base")
    tokenizer = bm.load_tokenizer(base)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    out = tmp_path_factory.mktemp("tiny")
    LlamaForCausalLM(cfg).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def scripted_reward(prompts: Any, completions: Any, completion_ids: Any = None, *, question: list[str],
                    **_: Any) -> list[float]:
    """0.5 for every rollout of a ``flat-*`` question; 0, 1, 0, 1, ... otherwise, so each group of
    two rollouts of a ``varied-*`` question has one of each (TRL scores rows in group order)."""
    return [0.5 if q.startswith("flat") else float(i % 2) for i, q in enumerate(question)]


def constant_reward(prompts: Any, completions: Any, completion_ids: Any = None, **_: Any) -> list[float]:
    return [0.25] * len(prompts)


def fast_rollouts(tokenizer: Any, stats: dict[str, int]) -> Callable[[list[Any], Any], dict[str, Any]]:
    """A stand-in for the tool rollouts where only the batch's bookkeeping is under test (on CPU,
    ``generate`` with stop strings costs ~2 s a turn): the real prompt ids, then random policy
    tokens (2-4 for a ``flat-*`` question, 6-9 otherwise), 0-3 observation tokens the policy did
    not write, and EOS. Lengths vary, so merging batches has padding to redo, and replacing flat
    groups changes the number of loss tokens."""
    rng = random.Random(0)

    def rollout(prompts: list[Any], trainer: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"prompt_ids": [], "completion_ids": [], "logprobs": None, "env_mask": []}
        for messages in prompts:
            ids = tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)
            short = "flat-" in messages[-1]["content"]
            policy = [rng.randrange(200, 5000) for _ in range(rng.randint(2, 4) if short else rng.randint(6, 9))]
            observation = [rng.randrange(200, 5000) for _ in range(rng.randint(0, 3))]
            out["prompt_ids"].append(list(ids["input_ids"] if hasattr(ids, "keys") else ids))
            out["completion_ids"].append(policy + observation + [tokenizer.eos_token_id])
            out["env_mask"].append([1] * len(policy) + [0] * len(observation) + [1])
        stats["rollouts"] += len(prompts)
        return out

    return rollout


def make_trainer(tiny: Path, tmp: Path, reward: Callable[..., list[float]] | None = None, *, fast: bool = True,
                 **settings: Any) -> Any:
    """``build_trainer`` on the tiny model; ``reward`` replaces the Atom-Searcher reward and
    ``fast`` the tool rollouts (:func:`fast_rollouts`). ``trainer.stats["rollouts"]`` counts the
    rollouts generated."""
    import datasets

    from train.rl_runner import build_trainer

    ds = datasets.Dataset.from_list([{"prompt": _prompt(q), "question": q, "answer": "a", "aliases": []}
                                     for q in QUESTIONS])
    stats = {"rollouts": 0, "tool_calls": 0, "atr_asked": 0, "atr_graded": 0}
    s = RLSettings(**{"max_steps": 1, "num_generations": N, "rollout": RolloutConfig(
        max_turns=1, max_new_tokens=6, max_completion_tokens=40, max_observation_chars=40), **settings})
    trainer = build_trainer(ds, tiny, tmp / "out", s, tool=lambda n, a: "obs", tool_names=["search"], scorer=None,
                            stats=stats)
    if reward is not None:
        trainer.reward_funcs = [reward]
    if fast:
        trainer.rollout_func = fast_rollouts(trainer.processing_class, stats)
    trainer.stats = stats
    return trainer


def _batch(questions: list[str]) -> list[dict[str, Any]]:
    """A generation batch as TRL's sampler makes it: each prompt's row ``N`` times in a row."""
    return [{"prompt": _prompt(q), "question": q, "answer": "a", "aliases": []} for q in questions for _ in range(N)]


def _group_questions(trainer: Any, out: dict[str, Any]) -> list[str]:
    """The question of each group of the output, read back from its (left-padded) prompt ids."""
    found = []
    for g in range(out["prompt_ids"].shape[0] // N):
        texts = {trainer.processing_class.decode(ids[mask.bool()]) for ids, mask in
                 zip(out["prompt_ids"][g * N:(g + 1) * N], out["prompt_mask"][g * N:(g + 1) * N], strict=True)}
        assert len(texts) == 1, texts  # a group is one prompt's rollouts
        text = texts.pop()
        found.append(next(q for q in QUESTIONS if f"Question {q}?" in text))
    return found


def _metric(trainer: Any, key: str) -> list[float]:
    return list(trainer._metrics["train"][key])


def _check_padding(trainer: Any, out: dict[str, Any]) -> None:
    """Prompts left-padded, completions right-padded, with the pad token; the stored reference
    log-probs are those of the final batch's rows (re-padding kept them aligned)."""
    import torch

    pad = trainer.processing_class.pad_token_id
    pm, cm = out["prompt_mask"], out["completion_mask"]
    assert torch.equal(pm, pm.sort(dim=1).values) and bool((out["prompt_ids"][pm == 0] == pad).all())
    assert torch.equal(cm, cm.sort(dim=1, descending=True).values)
    assert bool((out["completion_ids"][cm == 0] == pad).all())
    ids = torch.cat([out["prompt_ids"], out["completion_ids"]], dim=1)
    with torch.no_grad():
        ref, _, _ = trainer._get_per_token_logps_and_entropies(trainer.ref_model, ids, torch.cat([pm, cm], dim=1),
                                                               cm.shape[1])
    keep = (cm * out["tool_mask"]).bool()
    assert torch.allclose(ref[keep], out["ref_per_token_logps"][keep], atol=1e-4)


def test_refill_replaces_zero_variance_groups_with_informative_ones(tiny: Path, tmp_path: Path) -> None:
    # Seed 2's refill shuffle starts flat-a, varied-f | varied-e: round 1 fills one of the two flat
    # groups (its flat draw is flat again), round 2 the other, with a longer prompt than the batch's.
    drawn = [QUESTIONS[i][:8] for i in dapo.RefillSource(len(QUESTIONS), 2).draw(3)]
    assert drawn == ["flat-a", "varied-f", "varied-e"]
    trainer = make_trainer(tiny, tmp_path, scripted_reward, max_refill_rounds=4, seed=2)
    trainer.model.train()
    out = trainer._generate_and_score_completions(_batch(["flat-a", "varied-a", "flat-b"]))
    assert out["completion_ids"].shape[0] == 3 * N  # the batch keeps its size
    assert [q[:8] for q in _group_questions(trainer, out)] == ["varied-f", "varied-a", "varied-e"]
    assert bool((out["prompt_mask"][2:4] == 0).any()) and bool((out["prompt_mask"][:2] == 0).any())  # re-padded
    adv = out["advantages"].view(-1, N)
    assert bool((adv.abs().amax(dim=1) > 0.5).all())  # every group carries signal
    loss_mask = out["completion_mask"] * out["tool_mask"]
    assert bool((loss_mask.sum(dim=1) > 0).all())  # and is in the loss
    assert int(out["num_items_in_batch"]) == int(loss_mask.sum())
    _check_padding(trainer, out)
    assert _metric(trainer, dapo.ZERO_VARIANCE) == [pytest.approx(2 / 3)]
    assert _metric(trainer, dapo.REFILL_ROUNDS) == [2.0] and _metric(trainer, dapo.REFILL_GROUPS) == [3.0]
    assert _metric(trainer, dapo.EFFECTIVE_GROUPS) == [3.0]
    assert trainer.stats["rollouts"] == (3 + 2 + 1) * N  # the drawn groups were rolled out


def test_refill_with_the_real_tool_rollouts(tiny: Path, tmp_path: Path) -> None:
    """The same through the real multi-turn rollout function (its extra columns, env_mask)."""
    trainer = make_trainer(tiny, tmp_path, scripted_reward, fast=False, max_refill_rounds=1)
    trainer.model.train()
    out = trainer._generate_and_score_completions(_batch(["flat-a", "varied-a"]))
    assert [q[:8] for q in _group_questions(trainer, out)] == ["varied-e", "varied-a"]  # seed 0's shuffle: varied-e
    loss_mask = out["completion_mask"] * out["tool_mask"]
    assert bool((loss_mask.sum(dim=1) > 0).all()) and int(out["num_items_in_batch"]) == int(loss_mask.sum())
    _check_padding(trainer, out)
    assert trainer.stats["rollouts"] == 3 * N and _metric(trainer, dapo.EFFECTIVE_GROUPS) == [2.0]


def test_without_refill_rounds_zero_variance_groups_are_masked(tiny: Path, tmp_path: Path) -> None:
    trainer = make_trainer(tiny, tmp_path, scripted_reward)  # max_refill_rounds defaults to 0
    assert trainer.rl_settings.max_refill_rounds == 0
    trainer.model.train()
    out = trainer._generate_and_score_completions(_batch(["flat-a", "varied-a", "flat-b"]))
    assert _group_questions(trainer, out) == ["flat-a", "varied-a", "flat-b"]
    per_group = (out["completion_mask"] * out["tool_mask"]).sum(dim=1).view(-1, N).sum(dim=1)
    assert per_group[0] == 0 and per_group[2] == 0 and per_group[1] > 0
    assert int(out["num_items_in_batch"]) == int(per_group[1])  # the normaliser counts only what is left
    assert trainer.stats["rollouts"] == 3 * N
    assert _metric(trainer, dapo.ZERO_VARIANCE) == [pytest.approx(2 / 3)]
    assert _metric(trainer, dapo.REFILL_ROUNDS) == [0.0] and _metric(trainer, dapo.REFILL_GROUPS) == [0.0]
    assert _metric(trainer, dapo.EFFECTIVE_GROUPS) == [1.0]


def test_refill_stops_at_the_bound_when_every_group_is_flat(tiny: Path, tmp_path: Path) -> None:
    trainer = make_trainer(tiny, tmp_path, constant_reward, max_refill_rounds=2)
    trainer.model.train()
    out = trainer._generate_and_score_completions(_batch(["varied-a", "varied-b", "varied-c"]))
    assert out["completion_ids"].shape[0] == 3 * N
    assert int(out["completion_mask"].sum()) == 0 and int(out["num_items_in_batch"]) == 0
    assert _metric(trainer, dapo.REFILL_ROUNDS) == [2.0] and _metric(trainer, dapo.REFILL_GROUPS) == [6.0]
    assert _metric(trainer, dapo.EFFECTIVE_GROUPS) == [0.0] and _metric(trainer, dapo.ZERO_VARIANCE) == [1.0]
    assert trainer.stats["rollouts"] == (3 + 3 + 3) * N


def test_oversampling_draws_more_prompts_per_round(tiny: Path, tmp_path: Path) -> None:
    trainer = make_trainer(tiny, tmp_path, constant_reward, max_refill_rounds=1, refill_oversample=2.0)
    trainer.model.train()
    trainer._generate_and_score_completions(_batch(["varied-a", "varied-b", "varied-c"]))
    assert _metric(trainer, dapo.REFILL_GROUPS) == [6.0] and trainer.stats["rollouts"] == (3 + 6) * N


def test_training_steps_with_refill_log_the_dapo_metrics(tiny: Path, tmp_path: Path) -> None:
    """Two optimizer steps through TRL's own loop (generation batch of two groups, split into two
    micro-batches): the refilled batch goes through TRL's shuffling and slicing, and every step
    logs the dynamic-sampling metrics that rl_model's metadata reads."""
    trainer = make_trainer(tiny, tmp_path, scripted_reward, max_steps=2, prompts_per_step=2, max_refill_rounds=2)
    trainer.train()
    steps = [h for h in trainer.state.log_history if "loss" in h]
    assert len(steps) == 2 and all(k in h for h in steps for k in dapo.METRICS)
    assert all(math.isfinite(h["loss"]) for h in steps)
    row = dapo.summary(trainer.state.log_history)
    # Seed 0's sampler puts a flat question into one of the steps; refill fills every batch.
    assert row["steps"] == 2 and row["refill_rounds"] >= 1 and row["effective_groups"] == 2.0
    assert trainer.stats["rollouts"] == (2 * 2 + row["refill_groups"]) * N


# ---------------------------------------------------------------------------
# The settings inside TRL's loss (hand-built inputs, as in tests/test_rl.py)
# ---------------------------------------------------------------------------

def _grads(trainer: Any, inputs: dict[str, Any]) -> tuple[Any, list[Any]]:
    import torch

    model = trainer.model
    model.eval()  # eval: no gradient-accumulation scaling, so the normalisers are plain
    model.zero_grad()
    loss = trainer.compute_loss(model, inputs)
    loss.backward()
    grads = [torch.zeros_like(p) if p.grad is None else p.grad.detach().clone() for p in model.parameters()]
    return loss.detach().clone(), grads


def _same(a: list[Any], b: list[Any], atol: float = 1e-7) -> bool:
    import torch

    return all(torch.allclose(x, y, atol=atol, rtol=1e-5) for x, y in zip(a, b, strict=True))


def _zero(grads: list[Any]) -> bool:
    return all(not bool(g.any()) for g in grads)


def _two_groups() -> dict[str, Any]:
    """Two groups of two rollouts, prompts left-padded (pad 0), completions right-padded; the
    first group has advantages +1 / -1, the second (rows 2 and 3) none: its rewards were equal."""
    import torch

    c = torch.tensor([[11, 12, 13, 14, 15, 16], [17, 18, 19, 0, 0, 0],
                      [21, 22, 23, 24, 25, 0], [26, 27, 28, 29, 30, 31]])
    cm = (c != 0).long()
    tm = torch.ones_like(c)
    tm[0, 4:] = 0  # an observation
    return {
        "prompt_ids": torch.tensor([[0, 1, 2, 3], [0, 1, 2, 3], [4, 5, 6, 7], [4, 5, 6, 7]]),
        "prompt_mask": torch.tensor([[0, 1, 1, 1], [0, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1]]),
        "completion_ids": c, "completion_mask": cm, "tool_mask": tm,
        "advantages": torch.tensor([1.0, -1.0, 0.0, 0.0]),
        "ref_per_token_logps": torch.zeros(c.shape),  # far from the model: the KL term is large on every token
        "num_items_in_batch": (cm * tm).sum(),
    }


def test_zero_variance_tokens_add_nothing_to_the_gradient_or_the_normaliser(tiny: Path, tmp_path: Path) -> None:
    """With KL and entropy terms (which move the weights even at zero advantage), the flat group's
    tokens change neither loss nor gradient once masked, and the loss equals that of the
    informative group alone: they are not counted in num_items_in_batch. Unmasked, they do count."""
    import torch

    trainer = make_trainer(tiny, tmp_path, beta=0.5, entropy_base=0.5)
    batch = _two_groups()
    masked = dapo.drop_groups(batch, torch.tensor([False, True]), N)
    assert int(masked["num_items_in_batch"]) == 4 + 3  # group 0's model tokens
    loss0, g0 = _grads(trainer, masked)
    other = dict(masked, completion_ids=masked["completion_ids"].clone())
    other["completion_ids"][2:] = torch.tensor([[41, 42, 43, 44, 45, 0], [46, 47, 48, 49, 50, 51]])
    loss1, g1 = _grads(trainer, other)
    assert torch.equal(loss0, loss1) and _same(g0, g1)
    alone = {k: (v if v.ndim == 0 else v[:2]) for k, v in masked.items()}
    loss2, g2 = _grads(trainer, alone)
    assert torch.allclose(loss0, loss2, atol=1e-6) and _same(g0, g2, atol=1e-6)
    # Sensitivity: without the mask the same change reaches the gradient, and the normaliser is larger.
    _, h0 = _grads(trainer, batch)
    _, h1 = _grads(trainer, dict(batch, completion_ids=other["completion_ids"]))
    assert not _same(h0, h1)
    assert int(batch["num_items_in_batch"]) > int(masked["num_items_in_batch"])


def _ratio_inputs(trainer: Any, ratio: float) -> dict[str, Any]:
    """One rollout with advantage 1 whose old log-probs make every token's ratio ``ratio``."""
    import torch

    c = torch.tensor([[11, 12, 13, 14, 15, 16]])
    inputs = {"prompt_ids": torch.tensor([[1, 2, 3, 4]]), "prompt_mask": torch.ones(1, 4, dtype=torch.long),
              "completion_ids": c, "completion_mask": torch.ones_like(c), "tool_mask": torch.ones_like(c),
              "advantages": torch.tensor([1.0]), "num_items_in_batch": torch.tensor(6)}
    with torch.no_grad():
        logps, _, _ = trainer._get_per_token_logps_and_entropies(
            trainer.model, torch.cat([inputs["prompt_ids"], c], dim=1),
            torch.cat([inputs["prompt_mask"], inputs["completion_mask"]], dim=1), c.shape[1])
    inputs["old_per_token_logps"] = logps - math.log(ratio)
    return inputs


def test_epsilon_high_lets_a_ratio_above_one_plus_epsilon_keep_its_gradient(tiny: Path, tmp_path: Path) -> None:
    """Ratio 1.25 with a positive advantage: inside clip-higher's 1.28, clipped at 1.2 without it."""
    wide = make_trainer(tiny, tmp_path / "wide", beta=0.0, entropy_base=0.0)  # epsilon 0.2, epsilon_high 0.28
    assert (wide.epsilon_low, wide.epsilon_high) == (0.2, 0.28)
    loss, grads = _grads(wide, _ratio_inputs(wide, 1.25))
    assert float(loss) == pytest.approx(-1.25, abs=1e-4) and not _zero(grads)
    narrow = make_trainer(tiny, tmp_path / "narrow", beta=0.0, entropy_base=0.0, epsilon_high=0.2)
    loss, grads = _grads(narrow, _ratio_inputs(narrow, 1.25))
    assert float(loss) == pytest.approx(-1.2, abs=1e-4) and _zero(grads)


def test_loss_type_sets_the_normalisation(tiny: Path, tmp_path: Path) -> None:
    """Two rollouts with 3 and 4 loss tokens (the second has 6 tokens, 2 of them an observation),
    advantages 1 and 0.5, ratio 1, no KL or entropy: every loss token's loss is -advantage.
    dapo: sum over all loss tokens / their number; grpo: mean over tokens per sequence, then over sequences."""
    import torch

    c = torch.tensor([[11, 12, 13, 0, 0, 0], [14, 15, 16, 17, 18, 19]])
    cm = (c != 0).long()
    tm = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 0, 0, 1, 1]])
    inputs = {"prompt_ids": torch.tensor([[1, 2, 3, 4]] * 2), "prompt_mask": torch.ones(2, 4, dtype=torch.long),
              "completion_ids": c, "completion_mask": cm, "tool_mask": tm, "advantages": torch.tensor([1.0, 0.5]),
              "num_items_in_batch": (cm * tm).sum()}
    by_hand = {"dapo": -(3 * 1.0 + 4 * 0.5) / 7, "grpo": -(1.0 + 0.5) / 2}
    for loss_type, expected in by_hand.items():
        trainer = make_trainer(tiny, tmp_path / loss_type, beta=0.0, entropy_base=0.0, loss_type=loss_type)
        loss, _ = _grads(trainer, inputs)
        assert float(loss) == pytest.approx(expected, abs=1e-6), loss_type
    assert by_hand["dapo"] != pytest.approx(by_hand["grpo"])


# ---------------------------------------------------------------------------
# The pure pieces
# ---------------------------------------------------------------------------

def test_substitute_groups_repads_every_aligned_tensor() -> None:
    """The extra batch has a longer prompt and a longer completion: the batch's prompts gain left
    padding, its completion-aligned tensors right padding, each with its own pad value."""
    import torch

    pad = 9
    batch = {
        "prompt_ids": torch.tensor([[1, 2], [1, 2], [3, 4], [3, 4]]), "prompt_mask": torch.ones(4, 2, dtype=torch.long),
        "completion_ids": torch.tensor([[5, 6], [5, pad], [7, 8], [7, 8]]),
        "completion_mask": torch.tensor([[1, 1], [1, 0], [1, 1], [1, 1]]),
        "tool_mask": torch.tensor([[1, 0], [1, 1], [1, 1], [1, 1]]),
        "old_per_token_logps": torch.full((4, 2), -1.0), "ref_per_token_logps": torch.full((4, 2), -2.0),
        "sampling_per_token_logps": torch.full((4, 2), -3.0), "importance_sampling_ratio": torch.full((4, 2), 0.9),
        "advantages": torch.tensor([0.0, 0.0, 1.0, -1.0]), "num_items_in_batch": torch.tensor(6),
    }
    extra = {
        "prompt_ids": torch.tensor([[pad, 20, 21], [pad, 20, 21], [22, 23, 24], [22, 23, 24]]),
        "prompt_mask": torch.tensor([[0, 1, 1], [0, 1, 1], [1, 1, 1], [1, 1, 1]]),
        "completion_ids": torch.tensor([[30, 31, 32], [33, pad, pad], [34, 35, 36], [37, 38, 39]]),
        "completion_mask": torch.tensor([[1, 1, 1], [1, 0, 0], [1, 1, 1], [1, 1, 1]]),
        "tool_mask": torch.tensor([[1, 1, 0], [1, 1, 1], [1, 1, 1], [1, 1, 1]]),
        "old_per_token_logps": torch.full((4, 3), -4.0), "ref_per_token_logps": torch.full((4, 3), -5.0),
        "sampling_per_token_logps": torch.full((4, 3), -6.0), "importance_sampling_ratio": torch.full((4, 3), 1.1),
        "advantages": torch.tensor([0.0, 0.0, 0.5, -0.5]), "num_items_in_batch": torch.tensor(10),
    }
    out = dapo.substitute_groups(batch, extra, [(0, 1)], 2, pad_token_id=pad)
    assert out["prompt_ids"].tolist() == [[22, 23, 24], [22, 23, 24], [pad, 3, 4], [pad, 3, 4]]
    assert out["prompt_mask"].tolist() == [[1, 1, 1], [1, 1, 1], [0, 1, 1], [0, 1, 1]]
    assert out["completion_ids"].tolist() == [[34, 35, 36], [37, 38, 39], [7, 8, pad], [7, 8, pad]]
    assert out["completion_mask"].tolist() == [[1, 1, 1], [1, 1, 1], [1, 1, 0], [1, 1, 0]]
    assert out["tool_mask"].tolist() == [[1, 1, 1], [1, 1, 1], [1, 1, 1], [1, 1, 1]]
    assert out["old_per_token_logps"].tolist() == [[-4.0] * 3] * 2 + [[-1.0, -1.0, 0.0]] * 2
    assert out["ref_per_token_logps"].tolist() == [[-5.0] * 3] * 2 + [[-2.0, -2.0, 0.0]] * 2
    assert out["sampling_per_token_logps"].tolist() == [[-6.0] * 3] * 2 + [[-3.0, -3.0, 0.0]] * 2
    assert torch.allclose(out["importance_sampling_ratio"],
                          torch.tensor([[1.1] * 3] * 2 + [[0.9, 0.9, 1.0]] * 2))
    assert out["advantages"].tolist() == [0.5, -0.5, 1.0, -1.0]
    assert int(out["num_items_in_batch"]) == 6  # drop_groups recomputes it
    assert batch["prompt_ids"].shape == (4, 2)  # the input is not modified
    with pytest.raises(ValueError, match="pixel_values"):
        dapo.substitute_groups({**batch, "pixel_values": torch.zeros(4, 1)}, extra, [(0, 1)], 2, pad_token_id=pad)
    with pytest.raises(ValueError, match="differ in keys"):
        dapo.substitute_groups({k: v for k, v in batch.items() if k != "old_per_token_logps"}, extra, [(0, 1)], 2,
                               pad_token_id=pad)


def test_zero_variance_groups_ignore_float_noise_and_unscored_rows() -> None:
    import torch

    nan = float("nan")
    rewards = torch.tensor([[0.7], [0.7 + 1e-7], [0.2], [0.2 + 1e-3], [nan], [nan], [nan], [0.3]])
    assert dapo.zero_variance_groups(rewards, torch.ones(1), 2).tolist() == [True, False, True, True]
    # Two reward functions that cancel: the summed reward is flat, but normalised per function it is not.
    two = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert dapo.zero_variance_groups(two, torch.ones(2), 2).tolist() == [True]
    assert dapo.zero_variance_groups(two, torch.ones(2), 2, per_function=True).tolist() == [False]


def test_refill_plan_and_source_agree_across_processes() -> None:
    import torch

    flat = torch.tensor([[True, True, False], [False, True, False]])
    extra = torch.tensor([[False, True], [True, False]])
    plans, left = dapo.plan_refill(flat, extra)
    assert plans == [[(0, 0)], [(1, 1)]] and left.tolist() == [[False, True, False], [False, False, False]]
    a, b = dapo.RefillSource(5, seed=3), dapo.RefillSource(5, seed=3)
    first = a.draw(7)
    assert first == b.draw(7) and sorted(first[:5]) == [0, 1, 2, 3, 4]  # every row once per pass
    assert sorted(first[5:] + a.draw(3)) == [0, 1, 2, 3, 4]  # the second pass goes on where the first draw stopped
    with pytest.raises(ValueError):
        RLSettings(max_refill_rounds=-1)
    with pytest.raises(ValueError):
        RLSettings(refill_oversample=0.5)


def test_report_summarises_dynamic_sampling_and_the_curve_keeps_its_keys() -> None:
    from assets.training import _RL_CURVE

    history = [{"reward": 0.1, dapo.ZERO_VARIANCE: 0.5, dapo.REFILL_ROUNDS: 2.0, dapo.REFILL_GROUPS: 3.0,
                dapo.EFFECTIVE_GROUPS: 4.0, "step": 1},
               {"reward": 0.2, dapo.ZERO_VARIANCE: 0.25, dapo.REFILL_ROUNDS: 1.0, dapo.REFILL_GROUPS: 1.0,
                dapo.EFFECTIVE_GROUPS: 3.0, "step": 2},
               {"train_loss": 0.3, "step": 2}]
    report = RLReport(checkpoint="c", device="cpu", dtype="float32", steps=2, seconds=1.0, tokens=1, tokens_per_s=1.0,
                      log_history=history, prompts=1, rollouts=4, tool_calls=0)
    assert report.dynamic_sampling() == {"steps": 2, "zero_variance_share": 0.375, "refill_rounds": 3.0,
                                         "refill_groups": 4.0, "effective_groups": 3.5}
    assert set(dapo.METRICS) <= set(_RL_CURVE)
