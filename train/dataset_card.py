"""Dataset cards for the SFT and RL datasets, in the Hugging Face card format.

Why a card: the rows mix text with different owners (Wikipedia, arXiv, GitHub pages,
imported WebDancer trajectories, teacher-model output), and whoever trains on or shares
the data needs to know which licences travel with it, how the rows were selected (the
funnel) and how to load them. The YAML front matter is what the Hub reads (licence, task,
``configs`` pointing at the Parquet copies); the sections are for people.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import yaml

from train.rl_data import RL_LAYOUT
from train.sft_data import SFT_LAYOUT
from train.sft_select import DEFAULT_SELECTION, SELECTION_RULES

Kind = Literal["sft", "rl"]

#: Licence notes per origin of the text, shown in every card: CardInfo cannot know which
#: web corpora the pages came from, and a reader must see all that may apply.
SOURCE_LICENCES: dict[str, str] = {
    "Wikipedia": "article text is CC BY-SA 4.0 (attribution and share-alike apply to text derived from it).",
    "arXiv": "bibliographic metadata is CC0 1.0; abstracts and paper text stay under each paper's own licence "
             "(chosen by its authors: arXiv's non-exclusive distribution licence, CC BY, CC BY-SA, CC0, ...).",
    "GitHub": "each repository's content is under that repository's own licence (none stated means all rights "
              "reserved), and its use is subject to the GitHub Terms of Service.",
    "Other web pages": "their sites' own terms.",
    "WebDancer trajectories": "rows with `source_format` = `webdancer` come from the trajectories released with "
                              "WebDancer (MIT); the page text inside them belongs to its sites.",
    "Teacher-model output": "thoughts, tool calls and answers were written by the models listed above; their "
                            "licences and terms of use apply (the embedded SmolLM2-135M-Instruct is Apache-2.0).",
}


@dataclass(slots=True)
class CardInfo:
    """What a card says about one dataset. ``sources`` counts rows by ``source_format``
    (``seekforge`` rollouts, imported ``webdancer``), ``styles`` by trajectory style.

    SFT only: ``selection`` names sft_dataset's ``select`` rule, ``selection_rule`` says it in
    words (default: :data:`train.sft_select.SELECTION_RULES`'s), and ``selection_effort`` holds
    rows of mean tool calls / tokens (:meth:`train.sft_select.EffortStats.row`), the selected
    rollouts against all kept ones."""

    name: str
    kind: Kind
    rows: int
    sources: Mapping[str, int] = field(default_factory=dict)
    styles: Mapping[str, int] = field(default_factory=dict)
    models: list[str] = field(default_factory=list)
    funnel_markdown: str = ""
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    licence_notes: list[str] = field(default_factory=list)  # extra notes, after SOURCE_LICENCES
    selection: str = DEFAULT_SELECTION
    selection_rule: str = ""
    selection_effort: Sequence[Mapping[str, object]] = ()


def size_category(rows: int) -> str:
    """The Hub's ``size_categories`` bucket for a row count."""
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                         (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if rows < limit:
            return label
    return "n>10M"


def _configs(kind: Kind) -> list[dict[str, object]]:
    if kind == "sft":
        return [
            {"config_name": "conversational", "default": True,
             "data_files": [{"split": "train", "path": SFT_LAYOUT["conversational_parquet"]}]},
            {"config_name": "tokenized",
             "data_files": [{"split": "train", "path": SFT_LAYOUT["tokenized_parquet"]}]},
        ]
    return [{"config_name": "default", "default": True,
             "data_files": [{"split": "train", "path": RL_LAYOUT["parquet"]}]}]


def front_matter(info: CardInfo) -> dict[str, object]:
    """The card's YAML metadata as a dict (``render_card`` dumps it between ``---`` lines)."""
    return {
        "pretty_name": info.name,
        "license": "other",
        "license_name": "mixed-per-source",
        "license_details": "Rows carry text from several sources under different licences; see 'Licences of "
                           "sources' in this card. No single licence covers the whole dataset.",
        "language": ["en"],
        "task_categories": ["text-generation"],
        "tags": ["agent", "tool-use", "web-search", "synthetic", "trl",
                 "sft" if info.kind == "sft" else "reinforcement-learning"],
        "size_categories": [size_category(info.rows)],
        "configs": _configs(info.kind),
    }


def _table(counts: Mapping[str, int], key: str) -> str:
    if not counts:
        return "_none recorded_"
    lines = [f"| {key} | rows |", "| --- | ---: |"]
    lines += [f"| {k} | {v} |" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return "\n".join(lines)


def _summary(info: CardInfo) -> str:
    if info.kind == "sft":
        return (f"{info.rows} multi-turn trajectories of a web-searching agent for supervised fine-tuning: the agent "
                "thinks (`<think>`), calls `search` / `visit` (`<tool_call>`), reads the results "
                "(`<tool_response>`) and answers (`<answer>`). Two variants: `conversational` (TRL messages with "
                "`tool_calls` and `tool` turns, plus `tools`) and `tokenized` (`input_ids`, `labels` with -100 on "
                "everything the model did not write, for the base model named below).")
    return (f"{info.rows} held-out questions for reinforcement learning (GRPO / DAPO): a conversational `prompt`, "
            "the reference `answer` and `aliases` for reward functions, and the pass rate `n_correct / k` the "
            "teacher's rollouts reached. Questions every rollout solved or every rollout failed are left out "
            "(DAPO dynamic sampling), and none of them is in the SFT data.")


def _selection(info: CardInfo) -> str:
    """The SFT card's statement of which rollouts of a question were kept, and what that did to their effort."""
    rule = info.selection_rule or SELECTION_RULES.get(info.selection, "")
    text = f"Rule `{info.selection}`: {rule}"
    rows = list(info.selection_effort)
    if not rows:
        return text
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "| --- |" + " ---: |" * (len(keys) - 1)]
    lines += ["| " + " | ".join(str(r.get(k, "")) for k in keys) + " |" for r in rows]
    return text + "\n\nMean effort per rollout, before tokenization (completion and prompt tokens as the teacher's " \
                  "endpoint counted them; imported trajectories count none):\n\n" + "\n".join(lines)


def _columns(kind: Kind) -> str:
    if kind == "sft":
        return "\n".join([
            "- `messages`: `system`, `user`, `assistant` (its `<think>` text in `content`, the call in `tool_calls`, "
            "`arguments` a JSON object), `tool` (the observation). An assistant message with `weight` 0 is an invalid "
            "step kept as context and never trained.",
            "- `tools`: the function schemas the agent was offered (stored as JSON values, one fixed Arrow schema).",
            "- provenance: `id` (trajectory), `question_id`, `style`, `model`, `prompt_id`, `source_format`.",
            "- `tokenized` config: the same rows as `input_ids`, `attention_mask`, `labels`.",
        ])
    return "\n".join([
        "- `prompt`: system + user messages, as the agent saw them before its first turn.",
        "- `question`, `answer`, `aliases`: the question and its accepted answers.",
        "- `k`, `n_correct`, `pass_rate`: rollouts counted, rollouts judged correct, their ratio.",
        "- `path_entities`: the entities the QA pair was built along (CRAWLQA chain pages, entities E2HQA hid), "
        "less those the question names or the answer covers; empty for questions without a QA record. The "
        "optional entity-coverage reward (`entity_reward_alpha`) gives wrong answers partial credit for them.",
        "- provenance: `question_id`, `style` and `prompt_id` of the prompt, `source_format`.",
    ])


def _how_to_load(info: CardInfo) -> str:
    if info.kind == "sft":
        disk, parquet = SFT_LAYOUT["conversational"], SFT_LAYOUT["conversational_parquet"]
        train = ("\nTraining on the `conversational` variant needs the training chat template (it renders tool "
                 "calls and tool turns in the agent's text-tag protocol and marks assistant turns for the loss):\n\n"
                 "```python\nfrom train.base_model import load_tokenizer\nfrom trl import SFTConfig, SFTTrainer\n\n"
                 "tokenizer = load_tokenizer(base_model_dir)\n"
                 "trainer = SFTTrainer(model=base_model_dir, train_dataset=ds, processing_class=tokenizer,\n"
                 "                     args=SFTConfig(output_dir=\"out\", assistant_only_loss=True))\n```\n\n"
                 f"The `tokenized` variant (`{SFT_LAYOUT['tokenized']}`) is used as is, labels included.")
    else:
        disk, parquet = RL_LAYOUT["dataset"], RL_LAYOUT["parquet"]
        train = ("\nWith TRL's `GRPOTrainer` the `prompt` column is the prompt; `answer` and `aliases` reach "
                 "reward functions as keyword arguments.")
    return (f"```python\nfrom datasets import load_dataset, load_from_disk\n\n"
            f"ds = load_from_disk(\"path/to/{info.name}/{disk}\")\n"
            f"# or the Parquet copy (what `configs` above points at)\n"
            f"ds = load_dataset(\"parquet\", data_files=\"path/to/{info.name}/{parquet}\")[\"train\"]\n```\n{train}")


def _limitations(kind: Kind) -> str:
    common = [
        "Answers were judged automatically (rules and an LLM judge); some verdicts are wrong.",
        "Observations are web text as fetched: it can be outdated, wrong, or contain personal data.",
        "With the embedded profile the teacher is SmolLM2-135M under constrained decoding (demo only): "
        "its trajectories show the format, not good research.",
    ]
    if kind == "sft":
        common += [
            "Trajectories longer than the tokenized `max_length` were left out, not truncated, so long searches "
            "are under-represented.",
            "Every turn is trained with the full history before it; the `long` style hides earlier thoughts at "
            "inference, so its later turns are trained on more context than the agent then sees.",
        ]
    else:
        common += [
            "Pass rates come from a few rollouts per question (`k`) and are noisy estimates of difficulty.",
        ]
    return "\n".join(f"- {line}" for line in common)


def render_card(info: CardInfo) -> str:
    """The full README.md (YAML front matter + sections) for ``info``."""
    if info.kind not in ("sft", "rl"):
        raise ValueError(f"CardInfo.kind must be 'sft' or 'rl', got {info.kind!r}")
    meta = yaml.safe_dump(front_matter(info), sort_keys=False, allow_unicode=True, width=1000).strip()
    licences = "\n".join(f"- **{k}**: {v}" for k, v in SOURCE_LICENCES.items())
    if info.licence_notes:
        licences += "\n" + "\n".join(f"- {note}" for note in info.licence_notes)
    models = ", ".join(f"`{m}`" for m in info.models if m) or "_not recorded_"
    parts = [
        f"---\n{meta}\n---",
        f"# {info.name}",
        _summary(info),
        f"Created {info.created} by the seekforge pipeline.",
        "## Sources",
        _table(info.sources, "source_format"),
        f"Models that wrote the trajectories: {models}.",
        "## Funnel",
        info.funnel_markdown.strip() or "_not recorded_",
        "## Styles",
        _table(info.styles, "style"),
        *(["## Selection", _selection(info)] if info.kind == "sft" else []),
        "## Columns",
        _columns(info.kind),
        "## Licences of sources",
        licences,
        "## How to load",
        _how_to_load(info),
        "## Limitations",
        _limitations(info.kind),
    ]
    return "\n\n".join(parts) + "\n"
