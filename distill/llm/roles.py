"""Per-role endpoint settings: which server, which model, which sampling, what it costs.

Five roles ask different things of a model (teacher writes QA and rollouts, reasoner
thinks long, judge grades, rrm scores atomic thoughts, summarizer reads pages), so each
can point at its own endpoint. Everything comes from configuration; a role with no
``base_url`` is served by the embedded local model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

ROLES = ("teacher", "reasoner", "judge", "rrm", "summarizer")


@dataclass(frozen=True)
class RoleConfig:
    """One role's endpoint. ``api_key_env`` names the variable holding the key, so
    keys never sit in config files, run config or Dagster metadata."""

    name: str
    base_url: str | None = None  # None: the embedded server
    model: str = "smollm2-135m-instruct"
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 512
    timeout_s: float = 120.0
    price_in_per_mtok: float = 0.0  # USD per million prompt tokens
    price_out_per_mtok: float = 0.0  # USD per million completion tokens
    extra_body: dict[str, Any] = field(default_factory=dict)
    structured: str | None = None  # "llamacpp" | "openai"; None: llamacpp when embedded, else openai
    # A key resolved by the orchestrator from an environment variable (Dagster's ``{env: VAR}``);
    # never printed (repr=False) and never part of a cache key or metadata.
    key: str = field(default="", repr=False, compare=False)

    def api_key(self) -> str:
        """The resolved key, else the key from the environment; local endpoints accept any placeholder."""
        if self.key:
            return self.key
        key = os.environ.get(self.api_key_env, "")
        if key:
            return key
        if self.base_url is None or _is_local(self.base_url):
            return "sk-local-no-key"
        raise MissingCredential(
            f"role {self.name!r} points at {self.base_url} but ${self.api_key_env} is not set: "
            f"export {self.api_key_env}=... (or set SEEKFORGE_{self.name.upper()}_API_KEY_ENV to the variable that holds it)"
        )

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.price_in_per_mtok + completion_tokens * self.price_out_per_mtok) / 1e6


class MissingCredential(RuntimeError):
    pass


def _is_local(url: str) -> bool:
    return any(h in url for h in ("://127.0.0.1", "://localhost", "://[::1]"))


def role_from_env(name: str, base: RoleConfig | None = None) -> RoleConfig:
    """Overlay ``SEEKFORGE_<ROLE>_{BASE_URL,MODEL,API_KEY_ENV,STRUCTURED,TEMPERATURE,MAX_TOKENS,TIMEOUT_S,PRICE_IN,PRICE_OUT}``."""
    cfg = base or RoleConfig(name=name)
    prefix = f"SEEKFORGE_{name.upper()}_"
    env = os.environ
    updates: dict[str, Any] = {}
    if env.get(prefix + "BASE_URL"):
        updates["base_url"] = env[prefix + "BASE_URL"]
    if env.get(prefix + "MODEL"):
        updates["model"] = env[prefix + "MODEL"]
    if env.get(prefix + "API_KEY_ENV"):
        updates["api_key_env"] = env[prefix + "API_KEY_ENV"]
    if env.get(prefix + "STRUCTURED"):
        updates["structured"] = env[prefix + "STRUCTURED"]
    for key, attr, cast in (("TEMPERATURE", "temperature", float), ("MAX_TOKENS", "max_tokens", int),
                            ("TIMEOUT_S", "timeout_s", float),
                            ("PRICE_IN", "price_in_per_mtok", float), ("PRICE_OUT", "price_out_per_mtok", float)):
        if env.get(prefix + key):
            updates[attr] = cast(env[prefix + key])
    return replace(cfg, **updates) if updates else cfg
