"""The model being trained, as a :class:`train.rl_rollout.Policy`: sampling with ``generate``.

Generation runs on the trainer's own model (no copy, no server): on one CPU or one GPU
that is the simplest correct choice, and the ids it returns are exactly what GRPO scores.
At scale the same rollouts would go through vLLM; TRL's ``rollout_func`` then receives
the vLLM client instead, and this class is the piece to swap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class _AllowOnly:
    """Logits processor: every token outside ``allowed`` gets -inf."""

    def __init__(self, allowed: Any) -> None:
        self.allowed = allowed

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        mask = self.allowed.to(scores.device)
        return scores.masked_fill(~mask[: scores.shape[-1]], -torch.inf)


class HFPolicy:
    def __init__(self, model: Any, tokenizer: Any, *, temperature: float = 1.0, top_p: float = 1.0) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.temperature, self.top_p = temperature, top_p
        eos: set[int] = set()
        for source in (tokenizer.eos_token_id, getattr(model.generation_config, "eos_token_id", None)):
            if isinstance(source, int):
                eos.add(source)
            elif source:
                eos.update(int(x) for x in source)
        if not eos:
            raise ValueError("the tokenizer has no eos token; rollouts could not end")
        self.eos_ids = frozenset(eos)
        self._string_mask: Any = None
        self._quote_ids: list[int] = []

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def decode(self, ids: Sequence[int]) -> str:
        return str(self.tokenizer.decode(list(ids), skip_special_tokens=False))

    def _json_string_tokens(self) -> tuple[Any, list[int]]:
        """Tokens that can sit inside a JSON string as they are (no quote, backslash or control
        character, not special), plus the lone-quote tokens that close it. Computed once."""
        if self._string_mask is None:
            import torch

            tok = self.tokenizer
            size = max(len(tok), int(self.model.get_input_embeddings().weight.shape[0]))
            special = set(tok.all_special_ids)
            allowed = torch.zeros(size, dtype=torch.bool)
            quotes: list[int] = []
            for i in range(len(tok)):
                if i in special:
                    continue
                text = tok.decode([i])
                if text == '"':
                    quotes.append(i)
                    allowed[i] = True
                elif text and not any(c in '"\\' or ord(c) < 32 for c in text):
                    allowed[i] = True
            if not quotes:
                raise ValueError("the tokenizer has no token for a lone '\"'; cannot close a JSON string")
            self._string_mask, self._quote_ids = allowed, quotes
        return self._string_mask, self._quote_ids

    def generate(self, ids: Sequence[int], max_new_tokens: int, *, stop: Sequence[str] = (),
                 string_only: bool = False) -> list[int]:
        import torch
        from transformers import LogitsProcessorList

        model = self.model
        inputs = torch.tensor([list(ids)], device=model.device)
        kwargs: dict[str, Any] = {
            "max_new_tokens": max_new_tokens, "do_sample": True, "temperature": self.temperature,
            "top_p": self.top_p, "top_k": 0, "pad_token_id": self.tokenizer.pad_token_id or min(self.eos_ids),
            "attention_mask": torch.ones_like(inputs),
        }
        if string_only:
            mask, quotes = self._json_string_tokens()
            kwargs["logits_processor"] = LogitsProcessorList([_AllowOnly(mask)])
            kwargs["eos_token_id"] = quotes
        else:
            kwargs["eos_token_id"] = sorted(self.eos_ids)
            if stop:
                kwargs["stop_strings"], kwargs["tokenizer"] = list(stop), self.tokenizer
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                out = model.generate(inputs, **kwargs)
        finally:
            model.train(was_training)
        return [int(x) for x in out[0, inputs.shape[1]:].tolist()]
