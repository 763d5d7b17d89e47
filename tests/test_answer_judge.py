"""The judge role's verdict on final answers, against a scripted OpenAI-compatible server."""

from __future__ import annotations

import asyncio
from pathlib import Path

from distill.answer_judge import JudgeItem, judge_answers
from distill.llm.cache import RequestCache
from distill.llm.client import LLMClient
from distill.llm.roles import RoleConfig
from fake_llm_server import FakeLLMServer, reply, status
from scripted_teacher import reliable_teacher


def _judge(fake_llm: FakeLLMServer, tmp_path: Path, items: list[JudgeItem]):  # type: ignore[no-untyped-def]
    roles = {"judge": RoleConfig(name="judge", base_url=fake_llm.base_url, model="j", timeout_s=2.0,
                                 api_key_env="SEEKFORGE_TEST_UNSET_KEY")}

    async def go():  # type: ignore[no-untyped-def]
        async with LLMClient(roles, cache=RequestCache(tmp_path / "c.sqlite"), max_retries=0) as client:
            return await judge_answers(client, items)

    return asyncio.run(go())


def _item(i: str, answer: str, reference: str = "Paris") -> JudgeItem:
    return JudgeItem(i, "What is the capital of France?", reference, ("City of Paris",), answer)


def test_verdicts_in_order_and_identical_answers_asked_once(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.set_default(reliable_teacher)
    verdicts = _judge(fake_llm, tmp_path, [_item("a", "paris"), _item("b", "Lyon"), _item("c", "paris")])
    assert [(v.id, v.correct) for v in verdicts] == [("a", True), ("b", False), ("c", True)]
    assert fake_llm.count() == 2  # "a" and "c" are the same question, reference and answer
    prompt = fake_llm.requests[0].last_user_message
    assert "Reference answer: Paris" in prompt and "Accepted aliases: City of Paris" in prompt
    again = _judge(fake_llm, tmp_path, [_item("d", "Lyon")])  # cached: no new request
    assert again[0].correct is False and fake_llm.count() == 2


def test_malformed_reply_or_error_is_no_verdict_not_a_crash(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.script(reply('{"correct": "maybe"}'), status(500))
    verdicts = _judge(fake_llm, tmp_path, [_item("a", "Paris"), _item("b", "Berlin")])
    assert {v.id: v.correct for v in verdicts} == {"a": None, "b": None}
    assert sorted(v.reason.split(":")[0] for v in verdicts) == ["llm_error", "malformed_verdict"]


def test_empty_answer_is_wrong_without_a_request(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    verdicts = _judge(fake_llm, tmp_path, [_item("a", "  ")])
    assert verdicts[0].correct is False and verdicts[0].reason == "empty_answer" and fake_llm.count() == 0
