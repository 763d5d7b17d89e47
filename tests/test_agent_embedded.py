"""Rollouts of all three styles with the real embedded model (SmolLM2-135M on llama.cpp),
the real search index over the mini-web and the real visit tool (archive mode): the demo's
path, small. The model is weak; the GBNF action grammar (demo only) keeps every turn
well-formed, so the loop must never see an invalid action."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from crawl.corpus import pages_frame
from crawl.crawler import CrawlSettings
from crawl.fetcher import FetchSettings
from crawl.frontier import FrontierSettings
from crawl.miniweb import ARCHIVE_PATH, SEED_URLS
from crawl.search_index import SearchIndex
from crawl.session import SourceSettings, run_crawl
from distill.agent.atomic import AtomicPrompt, load_seeds
from distill.agent.loop import QAItem, RolloutSettings, run_rollouts
from distill.agent.search import LocalIndexBackend, SearchTool
from distill.agent.styles import atomic_style, long_style, short_style
from distill.agent.tools import ToolCache
from distill.agent.visit import PageReader, VisitTool
from distill.llm.cache import RequestCache
from distill.llm.client import LLMClient
from distill.llm.embedded import MODEL_ALIAS, EmbeddedLLMServer
from distill.llm.roles import ROLES, RoleConfig

pytestmark = pytest.mark.usefixtures("embedded_server")  # tests/conftest.py: skip, or fail under CI


@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_three_styles_with_the_embedded_model(tmp_path: Path) -> None:
    source = SourceSettings(mode="archive", archives=(str(ARCHIVE_PATH),))
    rows = run_crawl(SEED_URLS["wikipedia"], source=source, fetch=FetchSettings(per_host_delay_s=0),
                     crawl=CrawlSettings(frontier=FrontierSettings(max_depth=1))).rows
    index = SearchIndex.build(pages_frame(rows))
    seed = load_seeds()[0]
    atomic = [AtomicPrompt.make(seed, list(seed.units), "seed")]
    item = QAItem(id="q-tessholm", question="Which country has Tessholm as its capital?", answer="Arvenland")
    settings = RolloutSettings(max_turns=3, max_tokens_per_turn=200, max_total_tokens=900, max_context_chars=8000,
                               max_observation_chars=1200, constrain=True, require_tool_first=True,
                               max_thought_chars=200, action_schedule=("search", "visit", "answer"),
                               answer_space="observed")
    cache = RequestCache(tmp_path / "cache.sqlite")

    with EmbeddedLLMServer(log_path=tmp_path / "llm.log") as server:
        roles = {r: RoleConfig(name=r, model=MODEL_ALIAS, max_tokens=200) for r in ROLES}

        async def go():  # type: ignore[no-untyped-def]
            async with LLMClient(roles, default_base_url=server.base_url, cache=cache, max_concurrency=1) as client, \
                    PageReader(source, FetchSettings(per_host_delay_s=0)) as reader:
                tools = {"search": SearchTool(LocalIndexBackend(index), ToolCache(cache), k=3),
                         "visit": VisitTool(reader, client, ToolCache(cache), max_page_chars=800, max_tokens=150)}
                schemas = [t.schema for t in tools.values()]
                out = []
                for style in (short_style(schemas, "2026-11-22"), long_style(schemas, "2026-11-22"),
                              atomic_style(schemas, "2026-11-22", atomic)):
                    out += await run_rollouts(client, style, [item], tools, settings, k=1, seed=3)
                return out

        trajs = asyncio.run(go())

    assert [t.style for t in trajs] == ["short", "long", "atomic"]
    for t in trajs:
        assert t.finish_reason in ("answer", "max_turns", "max_tokens"), (t.style, t.finish_reason, t.error)
        assert t.steps and t.steps[0].action == "search", t.style  # constrained: a tool call comes first
        assert all(s.action in ("search", "visit", "answer") for s in t.steps), [s.invalid_reason for s in t.steps]
        assert all(s.think.strip() for s in t.steps)
        assert t.steps[0].observation.startswith(("A Google search for", "No results found for"))
        assert t.model == MODEL_ALIAS and t.messages[0]["role"] == "system"
    tags = set(seed.tags)
    assert all(len(s.units) >= 2 and {u.tag for u in s.units} <= tags for s in trajs[2].steps)
