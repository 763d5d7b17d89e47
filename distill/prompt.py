"""Prompt templates as files (Jinja), identified by name and content hash.

Every record a prompt produces stores ``prompt_id`` and ``prompt_version`` (a hash of
the template files), so a dataset can say exactly which wording made it, and editing a
template changes the version, which changes the cache key, which re-asks the model.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

PROMPT_DIR = Path(__file__).resolve().parent / "prompts"
_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(PROMPT_DIR)),
    undefined=jinja2.StrictUndefined,  # a missing variable is a bug, not an empty string
    keep_trailing_newline=False,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,
)


@dataclass(frozen=True)
class Prompt:
    id: str
    version: str
    system: jinja2.Template | None
    user: jinja2.Template

    def messages(self, **variables: Any) -> list[dict[str, str]]:
        out = []
        if self.system is not None:
            out.append({"role": "system", "content": self.system.render(**variables).strip()})
        out.append({"role": "user", "content": self.user.render(**variables).strip()})
        return out


@cache
def load_prompt(name: str) -> Prompt:
    """Load ``prompts/<name>.user.j2`` (+ optional ``<name>.system.j2``)."""
    user_path = PROMPT_DIR / f"{name}.user.j2"
    if not user_path.exists():
        raise FileNotFoundError(f"no prompt template {user_path}")
    system_path = PROMPT_DIR / f"{name}.system.j2"
    digest = hashlib.sha256()
    for path in (system_path, user_path):
        if path.exists():
            digest.update(path.read_bytes())
    system = _ENV.get_template(system_path.name) if system_path.exists() else None
    return Prompt(id=name, version=digest.hexdigest()[:12], system=system, user=_ENV.get_template(user_path.name))
