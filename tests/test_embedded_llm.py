"""The embedded teacher: SmolLM2-135M behind llama.cpp's server, started and stopped by us."""

from __future__ import annotations

import asyncio
import socket

import pytest

from distill.crawlqa import QA_SCHEMA
from distill.jsonparse import extract_json_object
from distill.llm.client import LLMClient
from distill.llm.embedded import MODEL_ALIAS, EmbeddedLLMServer
from distill.llm.roles import RoleConfig

pytestmark = pytest.mark.usefixtures("embedded_server")  # tests/conftest.py: skip, or fail under CI


@pytest.mark.timeout(300)
def test_embedded_server_serves_schema_constrained_json(tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = EmbeddedLLMServer(log_path=tmp_path / "llm.log").start()
    port = server.port
    try:
        roles = {"teacher": RoleConfig(name="teacher", model=MODEL_ALIAS, max_tokens=120)}

        async def go():  # type: ignore[no-untyped-def]
            async with LLMClient(roles, default_base_url=server.base_url, max_concurrency=1) as client:
                msgs = [{"role": "user", "content": "Tessholm is the capital of Arvenland. Write a question and its answer as JSON."}]
                return [await client.chat("teacher", msgs, seed=s, json_schema=QA_SCHEMA) for s in (1, 2)]

        results = asyncio.run(go())
        for r in results:
            assert r.ok, r.detail
            data = extract_json_object(r.text)
            assert data is not None and isinstance(data["question"], str) and isinstance(data["answer"], str), r.text
            assert r.completion_tokens > 0
    finally:
        server.stop()
    with socket.socket() as s:  # the server is gone when the step ends
        assert s.connect_ex(("127.0.0.1", port)) != 0
