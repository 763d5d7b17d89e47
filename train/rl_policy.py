"""The model being trained, as the rollouts' policy: HF ``generate`` or TRL's vLLM engine.

:class:`HFPolicy` samples with ``generate`` on the trainer's own model (no copy, no server),
one sequence at a time: on a CPU the simplest correct choice, and the ids it returns are
exactly what GRPO scores. :class:`VLLMPolicy` sends every live episode's next turn to the
vLLM engine TRL keeps in sync with the trained weights (``trainer.vllm_generation``:
colocated in the trainer's process, or a ``trl vllm-serve`` server), in one batched call,
and returns the sampler's log-probabilities for TRL's importance-sampling correction.
Both stop at the same texts and constrain JSON strings to the same tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from train.rl_rollout import Generated, GenRequest


class _AllowOnly:
    """Logits processor: every token outside ``allowed`` gets -inf."""

    def __init__(self, allowed: Any) -> None:
        self.allowed = allowed

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        mask = self.allowed.to(scores.device)
        return scores.masked_fill(~mask[: scores.shape[-1]], -torch.inf)


def eos_ids(tokenizer: Any, generation_config: Any = None) -> frozenset[int]:
    """The tokens that end a turn: the tokenizer's eos and the model's generation config's."""
    eos: set[int] = set()
    for source in (tokenizer.eos_token_id, getattr(generation_config, "eos_token_id", None)):
        if isinstance(source, int):
            eos.add(source)
        elif source:
            eos.update(int(x) for x in source)
    if not eos:
        raise ValueError("the tokenizer has no eos token; rollouts could not end")
    return frozenset(eos)


def json_string_tokens(tokenizer: Any) -> tuple[list[int], list[int]]:
    """Tokens that can sit inside a JSON string as they are (no quote, backslash or control
    character, not special), and the lone-quote tokens that close it."""
    special = set(tokenizer.all_special_ids)
    inside: list[int] = []
    quotes: list[int] = []
    for i in range(len(tokenizer)):
        if i in special:
            continue
        text = tokenizer.decode([i])
        if text == '"':
            quotes.append(i)
        elif text and not any(c in '"\\' or ord(c) < 32 for c in text):
            inside.append(i)
    if not quotes:
        raise ValueError("the tokenizer has no token for a lone '\"'; cannot close a JSON string")
    return inside, quotes


class _TokenText:
    """Text <-> ids the way the rollout protocol needs them: no special tokens added, none hidden."""

    tokenizer: Any

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def decode(self, ids: Sequence[int]) -> str:
        return str(self.tokenizer.decode(list(ids), skip_special_tokens=False))


class HFPolicy(_TokenText):
    def __init__(self, model: Any, tokenizer: Any, *, temperature: float = 1.0, top_p: float = 1.0) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.temperature, self.top_p = temperature, top_p
        self.eos_ids = eos_ids(tokenizer, getattr(model, "generation_config", None))
        self._string_mask: Any = None
        self._quote_ids: list[int] = []
        self._stops: dict[tuple[str, ...], Any] = {}

    def _stop_criteria(self, stop: Sequence[str]) -> Any:
        """A ``StopStringCriteria`` per set of stop texts, built once: transformers rebuilds it from
        the vocabulary on every ``generate(stop_strings=...)`` call (its cache keys on the vocab's
        order, which changes between calls), about a second of CPU per turn."""
        key = tuple(stop)
        if key not in self._stops:
            from transformers import StopStringCriteria

            self._stops[key] = StopStringCriteria(tokenizer=self.tokenizer, stop_strings=list(key))
        return self._stops[key]

    def _json_string_tokens(self) -> tuple[Any, list[int]]:
        """Tokens that can sit inside a JSON string as they are (no quote, backslash or control
        character, not special), plus the lone-quote tokens that close it. Computed once."""
        if self._string_mask is None:
            import torch

            size = max(len(self.tokenizer), int(self.model.get_input_embeddings().weight.shape[0]))
            inside, quotes = json_string_tokens(self.tokenizer)
            allowed = torch.zeros(size, dtype=torch.bool)
            allowed[inside + quotes] = True
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
                from transformers import StoppingCriteriaList

                kwargs["stopping_criteria"] = StoppingCriteriaList([self._stop_criteria(stop)])
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                out = model.generate(inputs, **kwargs)
        finally:
            model.train(was_training)
        return [int(x) for x in out[0, inputs.shape[1]:].tolist()]


class VLLMPolicy(_TokenText):
    """Rollout turns from TRL's vLLM engine (``trainer.vllm_generation``), many episodes per call.

    ``mode`` is the trainer's ``vllm_mode``: ``colocate`` calls the in-process ``LLM`` with one
    ``SamplingParams`` per request; ``server`` calls ``trl vllm-serve`` through TRL's client, one
    call per distinct set of sampling parameters. TRL syncs the trained weights into the engine
    before each ``rollout_func`` call, so the turns come from the current policy.
    """

    def __init__(self, generation: Any, mode: str, tokenizer: Any, *, temperature: float = 1.0,
                 top_p: float = 1.0, generation_config: Any = None) -> None:
        if mode not in ("colocate", "server"):
            raise ValueError(f"vllm mode must be colocate or server, got {mode!r}")
        self.generation, self.mode, self.tokenizer = generation, mode, tokenizer
        self.temperature, self.top_p = temperature, top_p
        self.eos_ids = eos_ids(tokenizer, generation_config)
        self._string: tuple[list[int], list[int]] | None = None

    def sampling_kwargs(self, request: GenRequest) -> dict[str, Any]:
        """vLLM sampling parameters of one request: the same stops and JSON-string constraint as
        :class:`HFPolicy` (stop texts kept in the output, as ``generate`` keeps them)."""
        kw: dict[str, Any] = {"n": 1, "temperature": self.temperature, "top_p": self.top_p,
                              "max_tokens": request.max_new_tokens, "logprobs": 0, "skip_special_tokens": False}
        if request.string_only:
            if self._string is None:
                self._string = json_string_tokens(self.tokenizer)
            inside, quotes = self._string
            kw.update(allowed_token_ids=inside + quotes, stop_token_ids=quotes)
        else:
            kw["stop_token_ids"] = sorted(self.eos_ids)
            if request.stop:
                kw.update(stop=list(request.stop), include_stop_str_in_output=True)
        return kw

    def generate_batch(self, requests: Sequence[GenRequest]) -> list[Generated]:
        if not requests:
            return []
        if self.mode == "colocate":
            return self._colocate(requests)
        return self._server(requests)

    def _colocate(self, requests: Sequence[GenRequest]) -> list[Generated]:
        from vllm import SamplingParams

        params = [SamplingParams(**self.sampling_kwargs(r)) for r in requests]
        outputs = self.generation.llm.generate([{"prompt_token_ids": list(r.ids)} for r in requests],
                                               sampling_params=params, use_tqdm=False)
        results = []
        for out in outputs:
            sample = out.outputs[0]
            ids = [int(t) for t in sample.token_ids]
            logprobs = ([float(lp[t].logprob) for t, lp in zip(ids, sample.logprobs, strict=True)]
                        if sample.logprobs else None)
            results.append(Generated(ids, logprobs))
        return results

    def _server(self, requests: Sequence[GenRequest]) -> list[Generated]:
        groups: dict[str, list[int]] = {}
        kwargs: dict[str, dict[str, Any]] = {}
        for i, r in enumerate(requests):
            kw = self.sampling_kwargs(r)
            key = repr(sorted(kw.items()))
            groups.setdefault(key, []).append(i)
            kwargs[key] = kw
        results: list[Generated | None] = [None] * len(requests)
        client = self.generation.vllm_client
        for key, members in groups.items():
            kw = dict(kwargs[key])
            named = {k: kw.pop(k) for k in ("n", "temperature", "top_p", "max_tokens", "logprobs")}
            out = client.generate(prompts=[list(requests[i].ids) for i in members], generation_kwargs=kw, **named)
            logprobs = out.get("logprobs")
            for j, i in enumerate(members):
                lps = logprobs[j] if logprobs is not None else None
                flat = [float(x[0]) if isinstance(x, list | tuple) else float(x) for x in lps] if lps else None
                results[i] = Generated([int(t) for t in out["completion_ids"][j]], flat)
        return [r for r in results if r is not None]
