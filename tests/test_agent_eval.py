"""agent_eval's pieces: the held-out slice, the summary row, fingerprinted serving names,
and a real ``transformers serve`` process answering the project's LLM client."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from distill.agent.trajectory import Step, Trajectory
from train.agent_eval import fingerprint, held_out_items, serving_dir
from train.benchmarks import BenchmarkRecord
from train.eval_metrics import aggregate, behaviour, score_run

REPO = Path(__file__).resolve().parents[1]


def test_held_out_slice_excludes_training_questions_and_is_stable() -> None:
    rows = [{"id": f"q{i}", "question": f"Q{i}?", "answer": f"A{i}", "aliases": None} for i in range(20)]
    a = held_out_items(rows, {"q1", "q2", "q3"}, 5)
    b = held_out_items(list(reversed(rows)), {"q1", "q2", "q3"}, 5)
    assert [x.id for x in a] == [x.id for x in b] and len(a) == 5
    assert not {"q1", "q2", "q3"} & {x.id for x in a}
    assert held_out_items(rows, {r["id"] for r in rows}, 5) == []


def _traj(answer: str, finish: str, turns: list[str], actions: list[str], qid: str = "q") -> Trajectory:
    msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}]
    for t in turns:
        msgs += [{"role": "assistant", "content": t}, {"role": "tool", "content": "obs"}]
    return Trajectory(question_id=qid, question="q", reference="Ada Rinn", aliases=["A. Rinn"], messages=msgs,
                      steps=[Step(index=i, action=a) for i, a in enumerate(actions)], final_answer=answer,
                      finish_reason=finish)


def test_eval_row_counts_answers_format_scores_and_tool_calls() -> None:
    """The table agent_eval shows for a checkpoint, from three rollouts: a correct answer after a
    search, a wrong answer, and a run that never followed the protocol."""
    call = '<think>a</think>\n<tool_call>{"name": "search", "arguments": {"query": ["x"]}}</tool_call>'
    good = _traj("Ada Rinn", "answer", [call, "<think>b</think>\n<answer>Ada Rinn</answer>"], ["search", "answer"], "q1")
    wrong = _traj("Bob", "answer", ["<think>b</think>\n<answer>Bob</answer>"], ["answer"], "q2")
    broken = _traj("", "max_turns", ["search for it", "still"], ["invalid", "invalid"], "q3")
    records = [BenchmarkRecord(q, "q", ("Ada Rinn", "A. Rinn")) for q in ("q1", "q2", "q3")]
    (row, overall) = aggregate({"held_out": score_run(records, [good, wrong, broken], tool_names=("search", "visit"))})
    assert row["questions"] == 3 and row["answer_rate"] == pytest.approx(2 / 3)
    assert row["format_valid"] == pytest.approx(2 / 3)  # a lone answer turn is valid; the broken one is not
    assert row["f1"] == pytest.approx(1 / 3) and row["em"] == pytest.approx(1 / 3)
    assert overall["benchmark"] == "overall" and overall["f1"] == row["f1"]
    assert behaviour([good, wrong, broken]).tool_calls.values == (1.0, 0.0, 0.0)


def test_serving_name_changes_with_the_weights(tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "config.json").write_text("{}")
    (ckpt / "model.safetensors").write_bytes(b"v1")
    first = serving_dir(ckpt, "sft", tmp_path / "serving")
    assert first.is_symlink() and first.resolve() == ckpt.resolve() and first.name == f"sft-{fingerprint(ckpt)}"
    assert serving_dir(ckpt, "sft", tmp_path / "serving") == first
    (ckpt / "model.safetensors").write_bytes(b"v2")
    assert serving_dir(ckpt, "sft", tmp_path / "serving") != first


@pytest.mark.usefixtures("embedded_model")  # tests/conftest.py: skip, or fail under CI
@pytest.mark.timeout(300)
def test_checkpoint_server_answers_the_llm_client(tmp_path: Path) -> None:
    from distill.llm.client import LLMClient
    from distill.llm.roles import RoleConfig
    from train import base_model as bm
    from train.serve import CheckpointServer

    base = bm.ensure_base_model(os.environ.get("SEEKFORGE_MODEL_CACHE") or REPO / "data" / "models" / "base")
    link = serving_dir(base, "base", tmp_path / "serving")
    with CheckpointServer(link, device="cpu", log_path=tmp_path / "serve.log") as srv:
        assert srv.model.endswith(link.name)
        role = RoleConfig(name="policy", base_url=srv.base_url, model=srv.model, max_tokens=16, structured="openai")

        async def ask() -> object:
            async with LLMClient({"policy": role}) as client:
                return await client.chat("policy", [{"role": "user", "content": "Name a colour."}], seed=1)

        result = asyncio.run(ask())
    assert result.ok and result.text.strip() and result.completion_tokens > 0  # type: ignore[attr-defined]
    assert srv._proc is None  # stopped
