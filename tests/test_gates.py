"""Hardness and uniqueness gates (distill/gates.py) against a real OpenAI-compatible test server
whose answers each test scripts: every drop reason reachable, record mode keeps the question with
its verdicts, a dead endpoint is a drop and never a pass, and the funnel shows each gate."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from distill.gates import GateSettings, right, run_gates
from distill.llm.client import LLMClient
from distill.llm.roles import RoleConfig
from fake_llm_server import RecordedRequest, Reply, Status, reply, status

REC = {"id": "q1", "origin": "crawlqa", "question": "Who founded the Velmora Institute in 1912?",
       "answer": "Ada Rinn", "aliases": ["A. Rinn"], "evidence_urls": ["https://example.org/velmora"]}
EVIDENCE = [("Velmora Institute", "The Velmora Institute was founded in 1912 by Ada Rinn and Oskar Brask.")]


def _server(closed: str | Callable[[], Reply | Status], evidence: str = "Ada Rinn",
            verdict: str = "wrong") -> Callable[[RecordedRequest], Reply | Status]:
    def answer(r: RecordedRequest) -> Reply | Status:
        system = str(r.messages[0].get("content", ""))
        if "from memory" in system:
            return closed() if callable(closed) else reply(closed)
        if "using only the documents" in system:
            return reply(evidence)
        if "exactly one correct answer" in system:
            return reply(json.dumps({"verdict": verdict, "reason": "scripted"}))
        return status(400)
    return answer


def _run(fake_llm: Any, settings: GateSettings, records: list[dict[str, Any]] | None = None):  # type: ignore[no-untyped-def]
    roles = {name: RoleConfig(name=name, base_url=fake_llm.base_url, model=name, structured="openai")
             for name in ("teacher", "judge")}

    async def go() -> Any:
        async with LLMClient(roles, max_concurrency=4, max_retries=0) as client:
            return await run_gates(client, records or [REC], lambda rec: EVIDENCE, {"crawlqa": settings})

    return asyncio.run(go())


def test_right_is_cover_em_over_the_reference_and_aliases() -> None:
    assert right("It was A. Rinn, in 1912.", ["Ada Rinn", "A. Rinn"]) and not right("Oskar Brask", ["Ada Rinn"])


def test_a_question_the_closed_book_pass_answers_is_too_easy(fake_llm) -> None:  # type: ignore[no-untyped-def]
    fake_llm.set_default(_server("Ada Rinn"))
    kept, drops = _run(fake_llm, GateSettings(samples=3))
    assert kept == [] and [(d["stage"], d["reason"]) for d in drops] == [("gate_closed_book", "too_easy")]
    verdicts = json.loads(drops[0]["gates"])
    assert verdicts["closed_book"]["right"] == 3 and verdicts["closed_book"]["difficulty"] == 0.0
    assert "with_evidence" not in verdicts  # an enforced failure ends the question's gates
    # Record mode keeps it, with every gate's verdict.
    kept, drops = _run(fake_llm, GateSettings(samples=3, closed_book="record"))
    assert drops == [] and set(json.loads(kept[0]["gates"])) == {"closed_book", "with_evidence", "uniqueness"}


def test_a_hard_question_with_one_answer_passes_every_gate(fake_llm) -> None:  # type: ignore[no-untyped-def]
    fake_llm.set_default(_server("Oskar Brask"))
    kept, drops = _run(fake_llm, GateSettings(samples=2))
    assert drops == [] and len(kept) == 1
    verdicts = json.loads(kept[0]["gates"])
    assert verdicts["closed_book"] == {"answers": ["Oskar Brask", "Oskar Brask"], "right": 0, "asked": 2,
                                       "difficulty": 1.0}
    assert verdicts["with_evidence"] == {"answer": "Ada Rinn", "right": True}
    assert verdicts["uniqueness"] == {"judged": [{"answer": "Oskar Brask", "verdict": "wrong"}]}


def test_a_different_answer_judged_valid_makes_the_question_ambiguous(fake_llm) -> None:  # type: ignore[no-untyped-def]
    fake_llm.set_default(_server("Oskar Brask", verdict="other_valid"))
    kept, drops = _run(fake_llm, GateSettings(samples=2))
    assert kept == [] and [(d["stage"], d["reason"]) for d in drops] == [("gate_uniqueness", "ambiguous")]


def test_evidence_that_does_not_give_the_answer_drops_the_question(fake_llm) -> None:  # type: ignore[no-untyped-def]
    fake_llm.set_default(_server("Oskar Brask", evidence="unknown"))
    kept, drops = _run(fake_llm, GateSettings(samples=1))
    assert [(d["stage"], d["reason"]) for d in drops] == [("gate_with_evidence", "not_answerable_from_evidence")]


def test_a_dead_endpoint_is_a_drop_never_a_pass(fake_llm) -> None:  # type: ignore[no-untyped-def]
    fake_llm.set_default(_server(lambda: status(500)))
    kept, drops = _run(fake_llm, GateSettings(samples=2))
    assert kept == [] and [(d["stage"], d["reason"]) for d in drops] == [("gate_closed_book", "gate_llm_error")]


def test_an_origin_without_gates_is_not_gated(fake_llm) -> None:  # type: ignore[no-untyped-def]
    fake_llm.set_default(_server("Ada Rinn"))
    other = {**REC, "id": "q2", "origin": "e2hqa"}
    kept, drops = _run(fake_llm, GateSettings(samples=1), [REC, other])
    assert [k["id"] for k in kept] == ["q2"] and kept[0]["gates"] is None and len(drops) == 1
    with pytest.raises(ValueError, match="samples"):
        GateSettings(samples=0)


def test_the_funnel_shows_each_gate(tmp_path: Path) -> None:
    from assets.datasets import _upstream_funnel
    from assets.resources import StorageResource
    from distill.records import drops_frame, qa_frame

    storage = StorageResource(data_dir=str(tmp_path))
    ran = json.dumps({"closed_book": {}, "with_evidence": {}})  # uniqueness off: no stage of its own unless it dropped
    kept = [{**REC, "id": f"k{i}", "gates": ran} for i in range(3)]
    drops = [{**REC, "id": "d1", "stage": "dedup", "reason": "near_duplicate"},
             {**REC, "id": "d2", "stage": "gate_closed_book", "reason": "too_easy"},
             {**REC, "id": "d3", "stage": "gate_closed_book", "reason": "too_easy"},
             {**REC, "id": "d4", "stage": "gate_uniqueness", "reason": "ambiguous"}]
    (tmp_path / "qa").mkdir()
    qa_frame(kept).write_parquet(storage.path("qa", "qa_pool.parquet"))
    drops_frame("qa_pool", drops).write_parquet(storage.path("qa", "qa_pool_drops.parquet"))
    funnel = _upstream_funnel(storage, questions_rolled_out=3).to_dict()
    assert funnel["qa_pool"] == {"in": 7, "kept": 6, "drops": {"near_duplicate": 1}}
    assert funnel["gate_closed_book"] == {"in": 6, "kept": 4, "drops": {"too_easy": 2}}
    assert funnel["gate_with_evidence"] == {"in": 4, "kept": 4, "drops": {}}
    assert funnel["gate_uniqueness"] == {"in": 4, "kept": 3, "drops": {"ambiguous": 1}}
    assert pl.read_parquet(storage.path("qa", "qa_pool.parquet")).height == 3
