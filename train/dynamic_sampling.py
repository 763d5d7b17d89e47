"""DAPO dynamic sampling on TRL's generation batch: find the groups that carry no learning
signal, take them out of the loss, and put informative groups from extra prompts in their place.

A group (the ``num_generations`` rollouts of one prompt) whose rewards are all equal has zero
advantage on every token. Left in the batch it still costs a forward/backward pass, pulls on the
weights through the KL and entropy terms, and, under the token-level (DAPO) loss, inflates the
normaliser so that the informative groups weigh less. DAPO over-samples and keeps only groups whose
rewards differ, so every step trains on a full batch of signal.

The functions below are pure functions on the dict TRL 1.16's
``GRPOTrainer._generate_and_score_completions`` returns (so they are tested without a model);
:func:`train.rl_runner._trainer_class` wires them into the trainer. That dict's layout:

- rows come in contiguous groups of ``num_generations`` (TRL's ``RepeatSampler`` repeats each
  prompt that many times in a row), and the dict holds the whole generation batch
  (``per_device_train_batch_size * steps_per_generation`` rows), so several groups;
- ``prompt_ids`` / ``prompt_mask`` are left-padded, every completion-aligned tensor is
  right-padded (``completion_ids``, ``completion_mask``, ``tool_mask`` with 1,
  ``old_per_token_logps``, ``ref_per_token_logps``, ``sampling_per_token_logps``,
  ``importance_sampling_ratio`` unless it is one value per sequence);
- ``advantages`` has one value per row, computed within each group (``scale_rewards="group"``),
  so a whole group can move from one batch to another and keep valid advantages;
- ``num_items_in_batch`` counts the loss tokens (``completion_mask * tool_mask``) of the
  generation batch over all processes: TRL's DAPO loss divides by it, so it is recomputed over
  the final mask.

Keys this module does not know (the vision inputs) make :func:`substitute_groups` refuse; the
trainer checks :func:`unsupported_keys` first and then only masks.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch stays a lazy import: assets import train.rl_runner, which imports this module
    import torch

# Rewards closer than this count as equal. TRL divides by (group std + 1e-4), so float noise between
# "equal" rewards (a mean of identical float32s need not equal them) becomes advantages of ~1e-3:
# noise, not signal.
FLAT_REWARD_TOL = 1e-6

ZERO_VARIANCE = "dapo/zero_variance_groups"  # share of the batch's groups with equal rewards, before refill
REFILL_ROUNDS = "dapo/refill_rounds"  # extra generation rounds this step
REFILL_GROUPS = "dapo/refill_groups"  # groups (prompts) drawn for those rounds, all processes
EFFECTIVE_GROUPS = "dapo/effective_groups"  # groups with differing rewards in the final batch, all processes
METRICS = (ZERO_VARIANCE, REFILL_ROUNDS, REFILL_GROUPS, EFFECTIVE_GROUPS)

# Padding value of each tensor that is aligned with the prompt (left-padded) or the completion
# (right-padded); None: the tokenizer's pad token.
_LEFT_PADDED: dict[str, float | None] = {"prompt_ids": None, "prompt_mask": 0}
_RIGHT_PADDED: dict[str, float | None] = {
    "completion_ids": None, "completion_mask": 0, "tool_mask": 1, "old_per_token_logps": 0.0,
    "ref_per_token_logps": 0.0, "sampling_per_token_logps": 0.0, "importance_sampling_ratio": 1.0,
}
_PER_ROW = ("advantages",)
_PER_BATCH = ("num_items_in_batch",)  # recomputed by drop_groups
SUPPORTED_KEYS = frozenset(_LEFT_PADDED) | frozenset(_RIGHT_PADDED) | frozenset(_PER_ROW) | frozenset(_PER_BATCH)


def unsupported_keys(batch: Mapping[str, Any]) -> list[str]:
    """Keys of ``batch`` that :func:`substitute_groups` cannot re-pad (e.g. ``pixel_values``)."""
    return sorted(k for k, v in batch.items() if k not in SUPPORTED_KEYS and v is not None)


def zero_variance_groups(rewards_per_func: torch.Tensor, weights: torch.Tensor, n: int, *,
                         per_function: bool = False) -> torch.Tensor:
    """One bool per group of ``n`` consecutive rows: True where the group's rewards are all equal
    (within :data:`FLAT_REWARD_TOL`), so every advantage in it is zero.

    ``rewards_per_func`` is TRL's ``(rows, reward functions)`` tensor, NaN where a function gave
    None. With TRL's default ``sum_then_normalize`` a group is flat when its weighted sums are equal;
    with ``normalize_then_sum`` (``per_function``) each function is normalised within the group, so
    the group is flat only when every function is constant in it. NaN rewards are ignored (TRL
    gives those rows zero advantage); a group with fewer than two scored rows is flat.

    >>> import torch
    >>> r = torch.tensor([[1.0], [1.0], [0.0], [1.0], [float("nan")], [0.5]])
    >>> zero_variance_groups(r, torch.ones(1), 2).tolist()
    [True, False, True]
    """
    import torch

    if per_function:
        values = rewards_per_func.view(-1, n, rewards_per_func.shape[1])
    else:
        summed = (rewards_per_func * weights.to(rewards_per_func.device)).nansum(dim=1)
        summed[torch.isnan(rewards_per_func).all(dim=1)] = torch.nan
        values = summed.view(-1, n, 1)
    missing = torch.isnan(values)
    hi = torch.where(missing, -torch.inf, values).amax(dim=1)
    lo = torch.where(missing, torch.inf, values).amin(dim=1)
    varies = (hi - lo) > FLAT_REWARD_TOL  # all-NaN: -inf - inf, not > tol
    return ~varies.any(dim=1) if per_function else ~varies.squeeze(1)


def loss_tokens(batch: Mapping[str, Any]) -> torch.Tensor:
    """This process's loss tokens: ``completion_mask * tool_mask``, as TRL's loss masks them."""
    mask = batch["completion_mask"]
    tool_mask = batch.get("tool_mask")
    return (mask if tool_mask is None else mask * tool_mask).sum()


def drop_groups(batch: Mapping[str, Any], flat: torch.Tensor, n: int) -> dict[str, Any]:
    """``batch`` with the rows of the groups flagged in ``flat`` out of the loss (their
    ``completion_mask`` zeroed) and ``num_items_in_batch`` set to this process's remaining loss
    tokens. The rows stay, so the batch keeps its size and TRL's split into micro-batches still
    works; a multi-process caller sums ``num_items_in_batch`` over the processes."""
    out = dict(batch)
    mask = batch["completion_mask"]
    keep = (~flat.to(mask.device)).repeat_interleave(n).to(mask.dtype)
    out["completion_mask"] = mask * keep.unsqueeze(1)
    out["num_items_in_batch"] = loss_tokens(out)
    return out


def _pad(t: torch.Tensor, width: int, value: float, *, left: bool) -> torch.Tensor:
    import torch

    if t.shape[1] >= width:
        return t
    fill = t.new_full((t.shape[0], width - t.shape[1]), value)
    return torch.cat([fill, t] if left else [t, fill], dim=1)


def substitute_groups(batch: Mapping[str, Any], extra: Mapping[str, Any], pairs: Sequence[tuple[int, int]], n: int,
                      *, pad_token_id: int) -> dict[str, Any]:
    """``batch`` with group ``dest`` replaced by group ``src`` of ``extra`` for each ``(dest, src)``
    in ``pairs``: same number of rows, both sides padded to the wider prompt (on the left) and the
    wider completion (on the right) first. ``num_items_in_batch`` is passed through untouched:
    :func:`drop_groups` recomputes it over the final mask.

    >>> import torch
    >>> b = {"prompt_ids": torch.tensor([[5], [5], [6], [6]]), "prompt_mask": torch.ones(4, 1, dtype=torch.long),
    ...      "completion_ids": torch.tensor([[1], [2], [3], [4]]),
    ...      "completion_mask": torch.ones(4, 1, dtype=torch.long),
    ...      "advantages": torch.tensor([0.0, 0.0, 1.0, -1.0])}
    >>> e = {"prompt_ids": torch.tensor([[8, 9], [8, 9]]), "prompt_mask": torch.ones(2, 2, dtype=torch.long),
    ...      "completion_ids": torch.tensor([[7, 7], [7, 0]]), "completion_mask": torch.tensor([[1, 1], [1, 0]]),
    ...      "advantages": torch.tensor([0.5, -0.5])}
    >>> out = substitute_groups(b, e, [(0, 0)], 2, pad_token_id=0)
    >>> out["prompt_ids"].tolist(), out["completion_ids"].tolist(), out["advantages"].tolist()
    ([[8, 9], [8, 9], [0, 6], [0, 6]], [[7, 7], [7, 0], [3, 0], [4, 0]], [0.5, -0.5, 1.0, -1.0])
    """
    import torch

    bad = unsupported_keys(batch) + unsupported_keys(extra)
    if bad:
        raise ValueError(f"cannot substitute groups in a batch with {sorted(set(bad))}")
    present = {k for k, v in batch.items() if v is not None}
    present_extra = {k for k, v in extra.items() if v is not None}
    if present != present_extra:
        raise ValueError(f"the batches differ in keys: {sorted(present ^ present_extra)}")
    if not pairs:
        return dict(batch)
    device = batch["completion_ids"].device
    dest = torch.tensor([g * n + i for g, _ in pairs for i in range(n)], device=device)
    src = torch.tensor([g * n + i for _, g in pairs for i in range(n)], device=device)
    out: dict[str, Any] = {}
    for key, value in batch.items():
        if value is None or key in _PER_BATCH:
            out[key] = value
            continue
        other = extra[key].to(value.device)
        pads = _LEFT_PADDED if key in _LEFT_PADDED else _RIGHT_PADDED if key in _RIGHT_PADDED else None
        if pads is not None:
            fill = pads[key]
            width = max(value.shape[1], other.shape[1])  # a per-sequence ratio is (B, 1) on both sides
            value = _pad(value, width, pad_token_id if fill is None else fill, left=key in _LEFT_PADDED)
            other = _pad(other, width, pad_token_id if fill is None else fill, left=key in _LEFT_PADDED)
        merged = value.clone()
        merged[dest] = other[src]
        out[key] = merged
    return out


def plan_refill(flat: torch.Tensor, extra_flat: torch.Tensor) -> tuple[list[list[tuple[int, int]]], torch.Tensor]:
    """Which extra group fills which flat group, per process, and the flags after that.

    ``flat`` is ``(processes, groups)``, ``extra_flat`` ``(processes, drawn groups)``; process p's
    flat groups take its informative extra groups in order (extra informative groups beyond the
    need are dropped). Every process computes the same plan from the same gathered flags, so all
    of them agree on whether another round is needed.

    >>> import torch
    >>> plans, left = plan_refill(torch.tensor([[True, False, True]]), torch.tensor([[True, False]]))
    >>> plans, left.tolist()
    ([[(0, 1)]], [[False, False, True]])
    """
    left = flat.clone()
    plans: list[list[tuple[int, int]]] = []
    for p in range(flat.shape[0]):
        holes = flat[p].nonzero().flatten().tolist()
        fills = (~extra_flat[p]).nonzero().flatten().tolist()
        plan = list(zip(holes, fills, strict=False))
        for dest, _ in plan:
            left[p, dest] = False
        plans.append(plan)
    return plans, left


class RefillSource:
    """Prompts for refill rounds: row indices of the train dataset in a seeded shuffle, reshuffled
    each time it runs out (a small dataset cycles). Every process holds an identical one and draws
    the same amounts, so one global draw can be split between processes the way TRL's sampler
    splits a generation batch."""

    def __init__(self, size: int, seed: int) -> None:
        if size < 1:
            raise ValueError("refill needs a non-empty train dataset")
        self.size = size
        self._rng = random.Random(seed)
        self._order: list[int] = []

    def draw(self, k: int) -> list[int]:
        out: list[int] = []
        while len(out) < k:
            if not self._order:
                self._order = self._rng.sample(range(self.size), self.size)
            take = min(k - len(out), len(self._order))
            out += self._order[:take]
            del self._order[:take]
        return out


def summary(history: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One row for ``rl_model``'s metadata from a run's log history: the mean share of
    zero-variance groups before refill, the refill rounds and groups summed over the logged steps,
    and the mean number of informative groups per batch (None when nothing was logged: masking off).

    >>> summary([{"dapo/zero_variance_groups": 0.5, "dapo/refill_rounds": 1.0, "dapo/refill_groups": 2.0,
    ...           "dapo/effective_groups": 3.0}, {"loss": 0.1}, {"dapo/zero_variance_groups": 0.0,
    ...           "dapo/refill_rounds": 0.0, "dapo/refill_groups": 0.0, "dapo/effective_groups": 4.0}])
    {'steps': 2, 'zero_variance_share': 0.25, 'refill_rounds': 1.0, 'refill_groups': 2.0, 'effective_groups': 3.5}
    """
    steps = [h for h in history if h.get(ZERO_VARIANCE) is not None]

    def values(key: str) -> list[float]:
        return [float(h[key]) for h in steps if h.get(key) is not None]

    def mean(key: str) -> float | None:
        v = values(key)
        return round(sum(v) / len(v), 4) if v else None

    def total(key: str) -> float | None:
        v = values(key)
        return round(sum(v), 4) if v else None

    return {"steps": len(steps), "zero_variance_share": mean(ZERO_VARIANCE), "refill_rounds": total(REFILL_ROUNDS),
            "refill_groups": total(REFILL_GROUPS), "effective_groups": mean(EFFECTIVE_GROUPS)}
