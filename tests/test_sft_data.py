"""SFT data: records from real WebDancer trajectories and a crafted seekforge one, loss masks
checked two ways, the saved dataset, and one real TRL SFTTrainer step on each saved variant.

The base model is converted from the embedded GGUF once into a cache shared across test
runs (``SEEKFORGE_MODEL_CACHE``, else ``data/models/base`` in the repo, which is gitignored
and is also where the demo pipeline puts it), so only the first run pays the ~40 s.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from webdata import shared_path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is imported anywhere below

from distill.agent.formats import question_id, read_jsonl, step_from_turn
from distill.agent.protocol import corrective_message, parse_turn
from distill.agent.styles import SystemPrompt, render_system, user_message
from distill.agent.trajectory import Trajectory
from train import base_model as bm
from train.dataset_card import CardInfo, render_card
from train.sft_data import (
    IGNORE_INDEX,
    SFT_LAYOUT,
    mask_report,
    save_sft_dataset,
    sft_records,
    tokenize_sft,
)

REPO = Path(__file__).resolve().parents[1]
TOOLS = [
    {"name": "search", "description": "Web search; several queries per call.",
     "parameters": {"type": "object", "properties": {"query": {"type": "array", "items": {"type": "string"}}},
                    "required": ["query"]}},
    {"name": "visit", "description": "Read web pages with a goal.",
     "parameters": {"type": "object", "properties": {"url": {"type": "array", "items": {"type": "string"}},
                                                     "goal": {"type": "string"}}, "required": ["url", "goal"]}},
]
TOOL_NAMES = frozenset(t["name"] for t in TOOLS)
# A short system prompt that lists the tools in one line each, for rows that must stay short.
COMPACT_SYSTEM = ("Answer by searching the web. Tools:\n<tools>\n"
                  '{"name": "search", "arguments": {"query": ["..."]}}\n'
                  '{"name": "visit", "arguments": {"url": ["..."], "goal": "..."}}\n</tools>')
needs_model = pytest.mark.usefixtures("embedded_model")  # tests/conftest.py: skip, or fail under CI


def crafted_trajectory(*, question: str = "Who wrote the novel Dune?", answer: str = "Frank Herbert",
                       invalid_only: bool = False, system_text: str = "") -> Trajectory:
    """A seekforge rollout in the canonical convention: an invalid step (bad JSON) and its
    corrective observation, then search, visit and answer; ``invalid_only`` stops after the
    invalid step (nothing in it is trainable). ``system_text`` replaces the real ReAct
    system prompt (~340 tokens) where length is what costs: a training step on 2 CPU cores."""
    system = render_system(TOOLS, "2026-01-01")
    if system_text:
        system = SystemPrompt(text=system_text, family="test-compact@1")
    bad = '<think>I will search.</think>\n<tool_call>\n{"name": "search", "arguments": </tool_call>'
    turns = [
        (bad, corrective_message(parse_turn(bad, TOOL_NAMES), TOOL_NAMES)),
        ('<think>Search with valid JSON this time.</think>\n<tool_call>\n{"name": "search", "arguments": '
         '{"query": ["Dune novel author"]}}\n</tool_call>',
         "1. [Dune (novel)](https://en.wikipedia.org/wiki/Dune_(novel))\n  Dune is a 1965 science fiction novel "
         "by American author Frank Herbert."),
        ('<think>Read the article to confirm.</think>\n<tool_call>\n{"name": "visit", "arguments": '
         '{"url": ["https://en.wikipedia.org/wiki/Dune_(novel)"], "goal": "who is the author"}}\n</tool_call>',
         "The useful information in https://en.wikipedia.org/wiki/Dune_(novel) for user goal who is the author:\n"
         "Evidence: Dune is a 1965 epic science fiction novel by Frank Herbert.\nSummary: Frank Herbert."),
    ]
    if invalid_only:
        turns = turns[:1]
    messages = [{"role": "system", "content": system.text}, {"role": "user", "content": user_message(question)}]
    for content, observation in turns:
        messages += [{"role": "assistant", "content": content}, {"role": "tool", "content": f"\n{observation}\n"}]
    if not invalid_only:
        final = f"<think>Both sources agree.</think>\n<answer>{answer}</answer>"
        messages.append({"role": "assistant", "content": final})
    steps = []
    for i, m in enumerate(messages):
        if m["role"] == "assistant":
            obs = messages[i + 1]["content"][1:-1] if i + 1 < len(messages) else ""
            steps.append(step_from_turn(len(steps), m["content"], TOOL_NAMES, obs))
    return Trajectory(question_id=question_id(question), question=question, reference=answer,
                      model="smollm2-135m-instruct", prompt_id=system.family, system_prompt_id=system.id,
                      messages=messages, steps=steps, final_answer="" if invalid_only else answer,
                      finish_reason="invalid" if invalid_only else "answer", tools_json=json.dumps(TOOLS))


def inference_messages(traj: Trajectory) -> list[dict[str, str]]:
    """What the agent loop sends the model (``_Run.request_messages`` with full history):
    tool turns as user ``<tool_response>`` turns, everything else verbatim."""
    return [{"role": "user", "content": f"<tool_response>{m['content']}</tool_response>"} if m["role"] == "tool"
            else dict(m) for m in traj.messages]


@pytest.fixture(scope="module")
def webdancer() -> list[Trajectory]:
    return read_jsonl(shared_path("webdancer", "sample_traj_20.jsonl"), "webdancer")


@pytest.fixture(scope="module")
def crafted() -> Trajectory:
    return crafted_trajectory()


@pytest.fixture(scope="session")
def base_model_dir(embedded_model: None) -> Path:
    cache = os.environ.get("SEEKFORGE_MODEL_CACHE") or str(REPO / "data" / "models" / "base")
    return bm.ensure_base_model(cache)


@pytest.fixture(scope="module")
def tokenizer(base_model_dir: Path) -> Any:
    return bm.load_tokenizer(base_model_dir)


# ---------------------------------------------------------------------------
# records
# ---------------------------------------------------------------------------

def test_records_from_webdancer_keep_calls_observations_and_provenance(webdancer: list[Trajectory]) -> None:
    records = sft_records(webdancer)
    assert len(records) == 20 and len({r["id"] for r in records}) == 20
    for traj, rec in zip(webdancer, records, strict=True):
        assert {k: rec[k] for k in ("id", "question_id", "style", "model", "prompt_id", "source_format")} == {
            "id": traj.id, "question_id": traj.question_id, "style": traj.style, "model": traj.model,
            "prompt_id": traj.prompt_id, "source_format": "webdancer"}
        assert [t["function"]["name"] for t in rec["tools"]] == ["search", "visit"]
        msgs = rec["messages"]
        assert [m["role"] for m in msgs] == [m["role"] for m in traj.messages]
        assistants = [m for m in msgs if m["role"] == "assistant"]
        assert len(assistants) == len(traj.steps)
        for i, m in enumerate(msgs):
            if m["role"] != "assistant":
                continue
            step = traj.steps[sum(1 for x in msgs[:i] if x["role"] == "assistant")]
            assert "weight" not in m  # every WebDancer step is valid
            if step.action == "answer":
                assert m["content"] == traj.messages[i]["content"] and "tool_calls" not in m
                continue
            (call,) = m["tool_calls"]
            assert call["function"]["name"] == step.action
            assert call["function"]["arguments"] == json.loads(step.arguments)  # a dict, not wire JSON
            assert isinstance(call["function"]["arguments"], dict)
            assert m["content"] == f"<think>{step.think}</think>"
            obs = msgs[i + 1]
            assert obs["role"] == "tool" and obs["tool_call_id"] == call["id"] and obs["content"] == step.observation
        assert msgs[-1]["role"] == "assistant" and "<answer>" in msgs[-1]["content"]


def test_crafted_invalid_step_is_kept_as_context_with_weight_zero(crafted: Trajectory) -> None:
    (rec,) = sft_records([crafted])
    roles = [m["role"] for m in rec["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "tool", "assistant", "tool", "assistant"]
    invalid, corrective = rec["messages"][2], rec["messages"][3]
    assert invalid["weight"] == 0 and invalid["content"] == crafted.messages[2]["content"]
    assert "tool_calls" not in invalid
    # to_openai alone would make this a bare user turn; the agent saw it as a <tool_response>
    assert corrective["role"] == "tool" and corrective["content"].startswith("Invalid action:")
    assert [m.get("weight") for m in rec["messages"][4::2]] == [None, None, None]
    visit = rec["messages"][6]["tool_calls"][0]["function"]
    assert visit == {"name": "visit", "arguments": {"url": ["https://en.wikipedia.org/wiki/Dune_(novel)"],
                                                    "goal": "who is the author"}}


def test_duplicate_trajectory_ids_are_refused(crafted: Trajectory) -> None:
    with pytest.raises(ValueError, match="duplicate trajectory id"):
        sft_records([crafted, crafted])


# ---------------------------------------------------------------------------
# template and masks
# ---------------------------------------------------------------------------

@needs_model
def test_training_template_renders_exactly_what_the_agent_saw(tokenizer: Any, base_model_dir: Path,
                                                              webdancer: list[Trajectory], crafted: Trajectory) -> None:
    from transformers import AutoTokenizer
    from trl.chat_template_utils import has_generation_markers, is_chat_template_stop_token_trained

    smollm2 = AutoTokenizer.from_pretrained(str(base_model_dir))  # the GGUF's own ChatML template
    assert not has_generation_markers(smollm2.chat_template) and has_generation_markers(tokenizer.chat_template)
    assert is_chat_template_stop_token_trained(tokenizer)  # the model learns to end its turn
    trajs = [*webdancer, crafted]
    for traj, rec in zip(trajs, sft_records(trajs), strict=True):
        trained_on = tokenizer.apply_chat_template(rec["messages"], tools=rec["tools"], tokenize=False)
        seen = smollm2.apply_chat_template(inference_messages(traj), tokenize=False)
        assert trained_on == seen, traj.id
    # tools are listed once: the prompts already carry <tools>, so the template adds none
    assert trained_on.count("<tools>") == 1
    # a conversation whose prompt does not list them gets them in the system turn
    bare = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    text = tokenizer.apply_chat_template(bare, tools=rec["tools"], tokenize=False)
    assert text.startswith(f"<|im_start|>system\n{bm.SMOLLM2_DEFAULT_SYSTEM}\n\nYou can use these tools:\n<tools>\n")
    assert json.dumps(TOOLS[1]) in text


@needs_model
def test_labels_train_model_output_only(tokenizer: Any, webdancer: list[Trajectory], crafted: Trajectory) -> None:
    records = sft_records([*webdancer, crafted])
    tok = tokenize_sft(records, tokenizer, max_length=1 << 16)
    assert tok.rejected == [] and len(tok.rows) == 21
    for row in tok.rows:
        assert len(row["input_ids"]) == len(row["labels"]) == len(row["attention_mask"])
        assert all(lab in (IGNORE_INDEX, tid) for lab, tid in zip(row["labels"], row["input_ids"], strict=True))
    # On the crafted row the trained text is exactly the valid assistant turns, each with its stop token.
    row = tok.rows[-1]
    trained = tokenizer.decode([lab for lab in row["labels"] if lab != IGNORE_INDEX])
    valid = [m["content"] for m in crafted.messages[4::2]]
    assert trained == "".join(f"{c}<|im_end|>" for c in valid)
    assert "I will search." not in trained and "Invalid action" not in trained and "Frank Herbert wrote" not in trained
    report = mask_report(tok.rows, tokenizer, records)
    assert report.ok, report.problems
    assert report.rows_checked == 21 and report.observation_tokens > 10_000
    assert report.assistant_tokens > 0 and report.observation_tokens_trained == 0


@needs_model
def test_mask_report_catches_corrupted_labels(tokenizer: Any, crafted: Trajectory) -> None:
    records = sft_records([crafted])
    (row,) = tokenize_sft(records, tokenizer, max_length=4096).rows
    text = tokenizer.apply_chat_template(records[0]["messages"], tools=records[0]["tools"], tokenize=False)
    offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    obs_at = text.index("Evidence: Dune is a 1965")
    obs_tok = next(i for i, (a, b) in enumerate(offsets) if a <= obs_at < b)
    first_trained = next(i for i, lab in enumerate(row["labels"]) if lab != IGNORE_INDEX)

    def corrupt(i: int, label: int) -> dict[str, Any]:
        labels = list(row["labels"])
        labels[i] = label
        return {**row, "labels": labels}

    assert mask_report([row], tokenizer, records).ok
    rep = mask_report([corrupt(obs_tok, row["input_ids"][obs_tok])], tokenizer, records)
    assert not rep.ok and rep.observation_tokens_trained == 1
    rep = mask_report([corrupt(first_trained + 3, IGNORE_INDEX)], tokenizer, records)
    assert not rep.ok and rep.assistant_tokens_masked == 1
    rep = mask_report([corrupt(2, row["input_ids"][2])], tokenizer, records)  # inside the system turn
    assert not rep.ok and rep.context_tokens_trained == 1
    rep = mask_report([corrupt(first_trained, 7)], tokenizer, records)
    assert not rep.ok and rep.wrong_label_tokens == 1
    rep = mask_report([{**row, "id": "nope"}], tokenizer, records)
    assert not rep.ok and rep.unknown_rows == 1


@needs_model
def test_mask_report_catches_a_template_that_trains_observations(base_model_dir: Path, crafted: Trajectory) -> None:
    """The check derives spans from the ChatML turns, not from the template's generation
    blocks: a template that marks tool turns for the loss is caught."""
    broken = bm.load_tokenizer(base_model_dir)
    tool_turn = "{{- '<|im_start|>user\\n<tool_response>\\n' + content + '\\n</tool_response><|im_end|>\\n' -}}"
    assert tool_turn in bm.TRAINING_CHAT_TEMPLATE
    broken.chat_template = bm.TRAINING_CHAT_TEMPLATE.replace(
        tool_turn, "{%- generation -%}" + tool_turn + "{%- endgeneration -%}")
    records = sft_records([crafted])
    rows = tokenize_sft(records, broken, max_length=4096).rows
    rep = mask_report(rows, broken, records)
    assert not rep.ok and rep.observation_tokens_trained > 20 and rep.context_tokens_trained > 0


@needs_model
def test_too_long_and_untrainable_records_are_rejected(tokenizer: Any, webdancer: list[Trajectory],
                                                      crafted: Trajectory) -> None:
    only_invalid = crafted_trajectory(question="What is the capital of Peru?", answer="Lima", invalid_only=True)
    records = sft_records([*webdancer, crafted, only_invalid])
    tok = tokenize_sft(records, tokenizer, max_length=1024)
    assert tok.ids == [records[20]["id"]]
    reasons = {r["id"]: r["reason"] for r in tok.rejected}
    assert reasons.pop(only_invalid.id) == "no_trained_tokens"
    assert set(reasons) == {t.id for t in webdancer} and set(reasons.values()) == {"too_long"}
    assert all(r["tokens"] > 1024 for r in tok.rejected if r["reason"] == "too_long")


def test_tokenize_refuses_a_tokenizer_without_the_training_template(crafted: Trajectory) -> None:
    class Plain:
        chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"

    with pytest.raises(ValueError, match="load_tokenizer"):
        tokenize_sft(sft_records([crafted]), Plain(), max_length=512)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# saving, loading, training
# ---------------------------------------------------------------------------

def _sft_card(rows: int) -> str:
    return render_card(CardInfo(name="seekforge-sft", kind="sft", rows=rows, sources={"webdancer": 20, "seekforge": 1},
                                styles={"short": 21}, models=["smollm2-135m-instruct"],
                                funnel_markdown="| stage | in | out |\n| --- | --- | --- |\n| sft | 21 | 21 |"))


def _strip_none(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in m.items() if v is not None} for m in messages]


@needs_model
def test_saved_variants_round_trip(tmp_path: Path, tokenizer: Any, webdancer: list[Trajectory],
                                   crafted: Trajectory) -> None:
    import datasets
    import pyarrow.parquet as pq
    import yaml

    records = sft_records([*webdancer, crafted])
    tok = tokenize_sft(records, tokenizer, max_length=1 << 16)
    out = tmp_path / "sft"
    card = _sft_card(len(tok.rows))
    paths = save_sft_dataset(records, tok, out, card)
    conv = datasets.load_from_disk(str(paths["conversational"]))
    assert conv.num_rows == 21
    for rec, got in zip(records, conv, strict=True):
        # Json() keeps every call as written: no null-filled keys from other tools' arguments
        assert _strip_none(got["messages"]) == rec["messages"]
        assert got["tools"] == rec["tools"] and got["id"] == rec["id"]
    toks = datasets.load_from_disk(str(paths["tokenized"]))
    assert [dict(r) for r in toks] == tok.rows
    assert mask_report([dict(r) for r in toks], tokenizer, [dict(r) for r in conv]).ok
    for key in ("conversational_parquet", "tokenized_parquet"):
        assert pq.read_metadata(paths[key]).num_rows == 21
    from_parquet = datasets.load_dataset("parquet", data_files=str(paths["conversational_parquet"]),
                                         cache_dir=str(tmp_path / "hf-cache"))["train"]
    assert from_parquet.features == conv.features and from_parquet[20] == conv[20]
    text = paths["card"].read_text(encoding="utf-8")
    assert text == card
    meta = yaml.safe_load(text.split("---\n")[1])
    assert meta["license"] == "other"
    for config in meta["configs"]:
        for spec in config["data_files"]:
            assert (out / spec["path"]).is_file(), spec
    # a second save replaces the first whole, leaving no temp directories behind
    fewer = tokenize_sft(records, tokenizer, max_length=1024)
    save_sft_dataset(records, fewer, out, _sft_card(1))
    assert datasets.load_from_disk(str(paths["conversational"])).num_rows == 1
    # everything rejected: both variants still save and load, with their schemas
    save_sft_dataset(records, tokenize_sft(records, tokenizer, max_length=8), out, _sft_card(0))
    for key in ("conversational", "tokenized"):
        empty = datasets.load_from_disk(str(paths[key]))
        assert empty.num_rows == 0 and empty.features == (conv if key == "conversational" else toks).features
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hf-cache", "sft"]


def test_sft_card_names_licences_and_loading() -> None:
    card = _sft_card(21)
    for needle in ("CC BY-SA 4.0", "CC0", "GitHub Terms of Service", "MIT", "load_from_disk",
                   SFT_LAYOUT["conversational_parquet"], "assistant_only_loss=True", "## Limitations",
                   "| webdancer | 20 |", "| sft | 21 | 21 |"):
        assert needle in card, needle


@needs_model
@pytest.mark.timeout(300)
def test_one_sft_trainer_step_on_each_saved_variant(tmp_path: Path, base_model_dir: Path, tokenizer: Any,
                                                    webdancer: list[Trajectory], crafted: Trajectory) -> None:
    """Both saved variants go straight into TRL, and TRL's own masking of the conversational
    variant (``assistant_only_loss`` with the training template) gives our tokenized labels."""
    import datasets
    import torch
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    compact = crafted_trajectory(system_text=COMPACT_SYSTEM)
    records = sft_records([*webdancer, compact])
    tok = tokenize_sft(records, tokenizer, max_length=512)  # WebDancer rows are rejected as too long
    assert tok.ids == [compact.id]
    paths = save_sft_dataset(records, tok, tmp_path / "sft", _sft_card(len(tok.rows)))
    losses = {}
    for variant in ("conversational", "tokenized"):
        ds = datasets.load_from_disk(str(paths[variant]))
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_pretrained(str(base_model_dir), dtype=torch.float32)
        args = SFTConfig(output_dir=str(tmp_path / f"run-{variant}"), max_steps=1, per_device_train_batch_size=1,
                         max_length=512, bf16=False, use_cpu=True, report_to="none",
                         save_strategy="no", logging_steps=1, assistant_only_loss=variant == "conversational",
                         disable_tqdm=True, activation_checkpointing=False)  # on by default in TRL: +60% CPU
        trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tokenizer)
        prepared = trainer.train_dataset[0]
        assert prepared["input_ids"] == tok.rows[0]["input_ids"]
        assert prepared["labels"] == tok.rows[0]["labels"]
        before = model.model.embed_tokens.weight.detach().clone()
        result = trainer.train()
        assert math.isfinite(result.training_loss) and result.training_loss > 0
        assert not torch.equal(before, model.model.embed_tokens.weight.detach())  # the step updated weights
        losses[variant] = result.training_loss
    assert math.isclose(losses["conversational"], losses["tokenized"], rel_tol=1e-4)


# ---------------------------------------------------------------------------
# base model
# ---------------------------------------------------------------------------

@needs_model
def test_base_model_is_converted_once_and_resolved(base_model_dir: Path, tmp_path: Path) -> None:
    assert bm.is_complete(base_model_dir)
    meta = json.loads((base_model_dir / bm.MARKER).read_text())
    assert meta["dtype"] == "float32" and meta["parameters"] > 100_000_000
    config = json.loads((base_model_dir / "config.json").read_text())
    assert "quantization_config" not in config
    started = time.monotonic()
    assert bm.ensure_base_model(base_model_dir.parent) == base_model_dir  # cached: no conversion
    assert time.monotonic() - started < 2.0
    assert bm.resolve_base_model("embedded", base_model_dir.parent) == base_model_dir
    assert bm.resolve_base_model(str(base_model_dir), tmp_path) == base_model_dir
    with pytest.raises(bm.BaseModelError, match="hub"):
        bm.resolve_base_model("HuggingFaceTB/SmolLM2-135M-Instruct", tmp_path)
    with pytest.raises(bm.BaseModelError, match="not an existing directory"):
        bm.resolve_base_model(str(tmp_path / "missing"), tmp_path)
    with pytest.raises(bm.BaseModelError, match="no config.json"):
        bm.resolve_base_model(str(tmp_path), tmp_path)


def test_racing_conversions_end_in_one_complete_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the lock both racers convert; the loser's rename fails and its copy is removed."""
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"GGUF" + bytes(100))
    calls: list[int] = []
    barrier = threading.Barrier(2)

    def fake_convert(src: Path, out: Path) -> dict[str, Any]:
        calls.append(1)
        barrier.wait(timeout=10)  # both are converting at once
        (out / "config.json").write_text("{}")
        return {"source": str(src)}

    monkeypatch.setattr(bm, "_convert", fake_convert)
    monkeypatch.setattr(bm, "_exclusive", lambda path: __import__("contextlib").nullcontext())
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(bm.ensure_base_model(tmp_path / "cache", gguf=gguf)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(calls) == 2 and len(results) == 2 and results[0] == results[1]
    assert bm.is_complete(results[0])
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [results[0].name]


def test_lock_makes_the_second_caller_wait_instead_of_converting(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"GGUF" + bytes(100))
    calls: list[int] = []

    def slow_convert(src: Path, out: Path) -> dict[str, Any]:
        calls.append(1)
        time.sleep(0.3)
        (out / "config.json").write_text("{}")
        return {"source": str(src)}

    monkeypatch.setattr(bm, "_convert", slow_convert)
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(bm.ensure_base_model(tmp_path / "cache", gguf=gguf)))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(calls) == 1 and len(set(results)) == 1 and len(results) == 3
    assert bm.is_complete(results[0])
