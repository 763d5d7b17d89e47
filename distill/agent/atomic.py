"""Atomic thoughts: reading them out of a ``<think>`` and making the system prompts that ask for them.

Atom-Searcher's agent splits its reasoning into self-named functional units, each an
upper-case tag (``<PLAN>``, ``<VERIFICATION>``, ...), nestable, from a vocabulary that is
not fixed. SFT data for that style comes from many system prompts that each propose a
different combination of units: a handful of hand-written seed templates
(``prompts/atomic_seeds.yaml``), each expanded by the teacher into new unit combinations
(``prompts/atomic_expand.j2``), deduplicated by the set of tag names so every prompt
teaches a distinct combination.

Model output is never trusted: every rejected expansion is a drop with a reason, and
nothing here raises for what a model wrote. Seed files are ours, so a broken seed is a
loud error naming the seed.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import yaml

from crawl.drop_reasons import (
    BAD_TAG,
    BAD_UNIT,
    DUPLICATE_COMBINATION,
    DUPLICATE_TAG,
    EMPTY_DESCRIPTION,
    LLM_ERROR,
    MALFORMED_JSON,
    MISSING_UNITS,
    RESERVED_TAG,
    TOO_FEW_UNITS,
    TOO_MANY_UNITS,
    TRUNCATED_OUTPUT,
    check,
)
from distill.agent.trajectory import AtomicUnit
from distill.jsonparse import extract_json_object
from distill.llm.client import LLMClient
from distill.prompt import PROMPT_DIR, Prompt

SEEDS_PATH = PROMPT_DIR / "atomic_seeds.yaml"
EXPAND_PROMPT_NAME = "atomic_expand"

TAG_PATTERN = r"^[A-Z][A-Z0-9_]{1,30}$"
_TAG = re.compile(TAG_PATTERN)
# Any upper-case opener or closer. Lower-case protocol tags (<think>, <tool_call>, <answer>)
# never match, so a whole assistant turn can be passed in.
_UNIT_TAG = re.compile(r"<(/?)([A-Z][A-Z0-9_]*)>")
_SLOT = re.compile(r"\{(units|examples)\}")  # the two slots of a seed template
# Upper-case spellings of the ReAct protocol's own tags: a unit called <ANSWER> would teach
# the student to confuse thinking about an answer with giving one.
RESERVED_TAGS = ("THINK", "ANSWER", "TOOL_CALL", "TOOL_RESPONSE")
# What each expansion request asks the teacher to emphasise; rotating it per request gives
# a small model something other than its sampling seed to vary on.
FOCI = (
    "checking who stands behind a source before trusting it",
    "planning several searches ahead",
    "recovering from searches that return nothing useful",
    "telling apart people, places and works that share a name",
    "keeping dates, numbers and units exact",
    "deciding when the evidence is enough to answer",
    "noticing and correcting its own mistakes",
    "combining facts found on different pages",
)


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------
def parse_units(think: str) -> list[AtomicUnit]:
    """Atomic units in ``think``, in order of opening, nested to any depth.

    A unit's ``text`` is its verbatim inner span (nested units' markup included), stripped,
    so a parent keeps the context its children were written in. Models write imperfect
    markup, so: a closer with no open unit of that tag is ignored; a closer for an outer
    unit also closes the units still open inside it (they end where it ends); an opener
    never closed runs to the end of the text.
    """
    units: list[AtomicUnit] = []
    stack: list[tuple[int, int]] = []  # (index into units, offset where its text starts)
    for m in _UNIT_TAG.finditer(think):
        closing, tag = m.group(1) == "/", m.group(2)
        if not closing:
            parent = units[stack[-1][0]].tag if stack else ""
            units.append(AtomicUnit(tag=tag, text="", depth=len(stack), parent=parent))
            stack.append((len(units) - 1, m.end()))
            continue
        level = next((i for i in range(len(stack) - 1, -1, -1) if units[stack[i][0]].tag == tag), None)
        if level is None:
            continue  # stray closer
        while len(stack) > level:
            index, start = stack.pop()
            units[index].text = think[start : m.start()].strip()
    for index, start in stack:
        units[index].text = think[start:].strip()
    return units


# ---------------------------------------------------------------------------
# Seeds
# ---------------------------------------------------------------------------
class SeedError(ValueError):
    """A seed template file that would produce broken prompts; always names the seed."""


@dataclass(frozen=True, slots=True)
class AtomicSeed:
    """One hand-written research temperament: a template with ``{units}`` and ``{examples}``
    slots, its default units and the two examples that show the format."""

    id: str
    name: str
    template: str
    units: tuple[tuple[str, str], ...]  # (tag, one-line description)
    examples: tuple[str, str]

    @property
    def persona(self) -> str:
        """The template's first paragraph: what the expansion prompt shows the teacher, so a
        small model reads who the agent is without the slots and boilerplate."""
        return self.template.strip().split("\n\n", 1)[0].strip()

    @property
    def tags(self) -> list[str]:
        return [tag for tag, _ in self.units]


def _seed_units(seed_id: str, raw: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, list) or not 2 <= len(raw) <= 6:
        raise SeedError(f"seed {seed_id!r}: 'units' must be a list of 2 to 6 'TAG: description' items")
    units: list[tuple[str, str]] = []
    for item in raw:
        if not isinstance(item, dict) or len(item) != 1:
            raise SeedError(f"seed {seed_id!r}: each unit must be one 'TAG: description' pair, got {item!r}")
        ((tag, description),) = item.items()
        if not isinstance(tag, str) or not _TAG.match(tag):
            raise SeedError(f"seed {seed_id!r}: unit tag {tag!r} is not upper case (pattern {TAG_PATTERN})")
        if tag in RESERVED_TAGS:
            raise SeedError(f"seed {seed_id!r}: unit tag {tag!r} is reserved for the ReAct protocol")
        if not isinstance(description, str) or not description.strip():
            raise SeedError(f"seed {seed_id!r}: unit {tag} has no description")
        if tag in (t for t, _ in units):
            raise SeedError(f"seed {seed_id!r}: unit {tag} is listed twice")
        units.append((tag, " ".join(description.split())))
    return tuple(units)


def _seed_examples(seed_id: str, raw: Any) -> tuple[str, str]:
    if not isinstance(raw, list) or len(raw) != 2:
        count = len(raw) if isinstance(raw, list) else "no list of"
        raise SeedError(f"seed {seed_id!r}: needs exactly 2 examples, has {count}")
    examples: list[str] = []
    for i, example in enumerate(raw, 1):
        if not isinstance(example, str) or not example.strip():
            raise SeedError(f"seed {seed_id!r}: example {i} is empty")
        if len(parse_units(example)) < 2:
            raise SeedError(f"seed {seed_id!r}: example {i} must show at least 2 upper-case units")
        examples.append(example.strip())
    return examples[0], examples[1]


def parse_seeds(data: Any) -> list[AtomicSeed]:
    """Validated seeds from the parsed YAML document (a list of seed mappings)."""
    if not isinstance(data, list) or not data:
        raise SeedError("the seed file must be a non-empty list of seeds")
    seeds: list[AtomicSeed] = []
    combos: dict[frozenset[str], str] = {}
    for position, raw in enumerate(data, 1):
        if not isinstance(raw, dict):
            raise SeedError(f"seed #{position}: not a mapping")
        seed_id = raw.get("id")
        if not isinstance(seed_id, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", seed_id):
            raise SeedError(f"seed #{position}: 'id' must be a lower-case identifier, got {seed_id!r}")
        if any(s.id == seed_id for s in seeds):
            raise SeedError(f"seed {seed_id!r}: id used twice")
        for key in ("name", "template", "units", "examples"):
            if key not in raw:
                raise SeedError(f"seed {seed_id!r}: missing field {key!r}")
        name, template = raw["name"], raw["template"]
        if not isinstance(name, str) or not name.strip():
            raise SeedError(f"seed {seed_id!r}: 'name' must be a non-empty string")
        if not isinstance(template, str):
            raise SeedError(f"seed {seed_id!r}: 'template' must be a string")
        for slot in ("{units}", "{examples}"):
            if template.count(slot) != 1:
                raise SeedError(f"seed {seed_id!r}: template must contain {slot} exactly once")
        seed = AtomicSeed(id=seed_id, name=name.strip(), template=template.strip(),
                          units=_seed_units(seed_id, raw["units"]), examples=_seed_examples(seed_id, raw["examples"]))
        combo = frozenset(seed.tags)
        if combo in combos:
            # Deduplication would silently drop one of two hand-written seeds.
            raise SeedError(f"seed {seed_id!r}: same unit set as seed {combos[combo]!r}")
        combos[combo] = seed_id
        seeds.append(seed)
    return seeds


def load_seeds(path: str | Path | None = None) -> list[AtomicSeed]:
    """The seed templates (``prompts/atomic_seeds.yaml`` unless ``path``), validated."""
    source = Path(path) if path is not None else SEEDS_PATH
    return parse_seeds(yaml.safe_load(source.read_text(encoding="utf-8")))


# ---------------------------------------------------------------------------
# Prompts
# ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AtomicPrompt:
    """One system-prompt body for atomic-thought rollouts. ``id`` hashes ``text`` so a
    trajectory can name the exact wording it was made with."""

    id: str
    seed_id: str
    units: list[str] = field(default_factory=list)  # tag names, in listed order
    text: str = ""
    source: str = "seed"  # "seed" | "expanded"

    @classmethod
    def make(cls, seed: AtomicSeed, units: Sequence[tuple[str, str]], source: str) -> AtomicPrompt:
        text = render(seed, units)
        return cls(id=prompt_id(text), seed_id=seed.id, units=[t for t, _ in units], text=text, source=source)


def prompt_id(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def render(seed: AtomicSeed, units: Sequence[tuple[str, str]]) -> str:
    """The seed's template with ``units`` listed and its own two examples.

    One pass over the template's two slots, not ``str.format`` or chained replaces:
    examples and model-written descriptions may contain braces or even a slot's name.
    """
    filled = {
        "units": "\n".join(f"- <{tag}>: {description}" for tag, description in units),
        "examples": "\n\n".join(f"Example {i}:\n{ex}" for i, ex in enumerate(seed.examples, 1)),
    }
    return _SLOT.sub(lambda m: filled[m.group(1)], seed.template).strip()


_J2 = jinja2.Environment(loader=jinja2.FileSystemLoader(str(PROMPT_DIR)), undefined=jinja2.StrictUndefined,
                         trim_blocks=True, lstrip_blocks=True, autoescape=False)


@cache
def expand_prompt() -> Prompt:
    """``atomic_expand.j2`` as a :class:`Prompt` (user message only), versioned by content
    hash like every other prompt so editing it re-asks the teacher instead of hitting cache."""
    path = PROMPT_DIR / f"{EXPAND_PROMPT_NAME}.j2"
    version = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return Prompt(id=EXPAND_PROMPT_NAME, version=version, system=None, user=_J2.get_template(path.name))


def units_schema(min_units: int = 2, max_units: int = 6) -> dict[str, Any]:
    """JSON schema for one expansion reply, tight enough that constrained decoding keeps a
    tiny local model inside the rules (tag pattern, unit count)."""
    return {
        "type": "object",
        "properties": {
            "units": {
                "type": "array",
                "minItems": min_units,
                "maxItems": max_units,
                "items": {
                    "type": "object",
                    "properties": {
                        "tag": {"type": "string", "pattern": TAG_PATTERN},
                        "description": {"type": "string", "minLength": 1, "maxLength": 200},
                    },
                    "required": ["tag", "description"],
                    "additionalProperties": False,
                },
            },
        },
        "required": ["units"],
        "additionalProperties": False,
    }


def _derive_seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("\x00".join(map(str, parts)).encode()).digest()[:4], "big")


def validate_units(data: dict[str, Any] | None, *, min_units: int = 2,
                   max_units: int = 6) -> tuple[list[tuple[str, str]] | None, str, str]:
    """``(units, "", "")`` for an acceptable reply, else ``(None, reason, detail)``.

    No repair beyond trimming whitespace: a lower-case or malformed tag is the model not
    following the format, and a prompt built from it would teach that.
    """
    if data is None:
        return None, MALFORMED_JSON, ""
    raw = data.get("units")
    if not isinstance(raw, list):
        return None, MISSING_UNITS, f"units is {type(raw).__name__}"
    units: list[tuple[str, str]] = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("tag"), str):
            return None, BAD_UNIT, repr(item)[:120]
        tag = item["tag"].strip()
        if not _TAG.match(tag):
            return None, BAD_TAG, tag[:60]
        if tag in RESERVED_TAGS:
            return None, RESERVED_TAG, tag
        description = item.get("description")
        description = " ".join(description.split()) if isinstance(description, str) else ""
        if not description:
            return None, EMPTY_DESCRIPTION, tag
        if any(t == tag for t, _ in units):
            return None, DUPLICATE_TAG, tag
        units.append((tag, description))
    if len(units) < min_units:
        return None, TOO_FEW_UNITS, str(len(units))
    if len(units) > max_units:
        return None, TOO_MANY_UNITS, str(len(units))
    return units, "", ""


async def expand_prompts(
    client: LLMClient,
    seeds: Sequence[AtomicSeed],
    *,
    per_seed: int,
    role: str = "teacher",
    seed: int = 0,
    min_units: int = 2,
    max_units: int = 6,
    max_tokens: int = 400,
    temperature: float | None = None,
) -> tuple[list[AtomicPrompt], list[dict[str, Any]]]:
    """System prompts with distinct atomic-thought combinations, and a drop per rejection.

    The seeds' own unit sets come first (``source="seed"``), then ``per_seed`` teacher
    expansions per seed, in seed order then sample order; that fixed order decides which
    copy of a repeated combination survives, so reruns give the same list. Combinations
    are compared as sets of tag names across all seeds: the same units under another
    persona teach the student nothing new about unit choice. Requests go out concurrently
    with a distinct seed and ``sample_index`` each, so they cache independently.
    """
    prompts: list[AtomicPrompt] = []
    drops: list[dict[str, Any]] = []
    seen: dict[frozenset[str], str] = {}  # combination -> id of the prompt that has it

    def drop(reason: str, seed_id: str, sample_index: int, detail: str = "") -> None:
        check(reason)
        drops.append({"reason": reason, "seed_id": seed_id, "sample_index": sample_index, "detail": detail})

    def admit(candidate: AtomicPrompt, sample_index: int) -> None:
        combo = frozenset(candidate.units)
        if combo in seen:
            drop(DUPLICATE_COMBINATION, candidate.seed_id, sample_index,
                 f"{','.join(sorted(combo))} (as prompt {seen[combo]})")
            return
        seen[combo] = candidate.id
        prompts.append(candidate)

    for s in seeds:
        admit(AtomicPrompt.make(s, s.units, "seed"), -1)

    prompt = expand_prompt()
    schema = units_schema(min_units, max_units)
    jobs = [(s, k) for s in seeds for k in range(per_seed)]

    async def ask(s: AtomicSeed, k: int) -> Any:
        messages = prompt.messages(
            seed_name=s.name, persona=s.persona, current_units=list(s.units), min_units=min_units,
            max_units=max_units, focus=FOCI[(_derive_seed(s.id) + k) % len(FOCI)], reserved=list(RESERVED_TAGS))
        return await client.chat(role, messages, seed=_derive_seed(seed, s.id, k), sample_index=k,
                                 json_schema=schema, max_tokens=max_tokens, temperature=temperature)

    results = await asyncio.gather(*(ask(s, k) for s, k in jobs))
    for (s, k), result in zip(jobs, results, strict=True):
        if not result.ok:
            drop(LLM_ERROR, s.id, k, f"{result.error}: {result.detail}"[:200])
            continue
        data = extract_json_object(result.text)
        if data is None and result.finish_reason == "length":
            drop(TRUNCATED_OUTPUT, s.id, k, result.text[-120:])
            continue
        units, reason, detail = validate_units(data, min_units=min_units, max_units=max_units)
        if units is None:
            drop(reason, s.id, k, detail or result.text[:200])
            continue
        admit(AtomicPrompt.make(s, units, "expanded"), k)
    return prompts, drops
