"""Dagster resources: where data lives and how the crawler reaches the web.

Thin: they only turn configuration (run config, env vars) into the plain settings
objects of the domain packages. Which instances a deployment gets is decided in
``pipelines/resources.py`` by profile.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import dagster as dg
from pydantic import Field, PrivateAttr

from assets.settings_fields import config_base, settings_from
from crawl.crawler import CrawlSettings, default_parse_workers
from crawl.fetcher import FetchSettings
from crawl.frontier import FrontierSettings
from crawl.session import SourceSettings

if TYPE_CHECKING:
    from distill.llm.cache import RequestCache
    from distill.llm.roles import RoleConfig
    from filters.contamination import BenchmarkIndex


#: Loggers of the domain packages; they never import Dagster, so their records are
#: forwarded to the step's event log here (Dagster's ``managed_python_loggers`` needs an
#: instance setting in dagster.yaml, which a user's own DAGSTER_HOME does not have).
DOMAIN_LOGGERS = ("crawl", "distill", "filters", "train")


class _EventLogHandler(logging.Handler):
    """Re-emits domain log records on a Dagster log manager (the run's event log)."""

    def __init__(self, log: Any) -> None:
        super().__init__(level=logging.INFO)
        self._log = log

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._log.log(record.levelno, f"{record.name}: {record.getMessage()}")
        except Exception:  # noqa: BLE001 - logging must never break a step
            self.handleError(record)


class StorageResource(dg.ConfigurableResource):
    """Root directory of every file the pipeline writes (``SEEKFORGE_DATA_DIR``).

    Every asset uses it, so it also carries the domain packages' warnings and info
    records into the run's event log for as long as the step (or in-process run) lasts:
    a warning in ``crawl/`` or ``distill/`` shows in the Dagster UI, not only on stderr."""

    data_dir: str = Field(default="./data", description="Directory for Parquet tables, WARC archives and indexes.")
    _handler: Any = PrivateAttr(default=None)
    _levels: dict[str, int] = PrivateAttr(default_factory=dict)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if context.log is None:
            return
        self._handler = _EventLogHandler(context.log)
        for name in DOMAIN_LOGGERS:
            logger = logging.getLogger(name)
            logger.addHandler(self._handler)
            self._levels[name] = logger.level
            if logger.level == logging.NOTSET or logger.level > logging.INFO:
                logger.setLevel(logging.INFO)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """Undo :meth:`setup_for_execution`: the handler goes, each logger gets its level back."""
        if self._handler is not None:
            for name in DOMAIN_LOGGERS:
                logger = logging.getLogger(name)
                logger.removeHandler(self._handler)
                logger.setLevel(self._levels.pop(name, logger.level))
            self._handler = None

    def path(self, *parts: str) -> Path:
        p = Path(self.data_dir).expanduser().resolve().joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p


_CrawlerFields: Any = config_base("CrawlerFields", dg.ConfigurableResource, SourceSettings, FetchSettings,
                                  CrawlSettings, exclude=("frontier", "parse_workers", "progress_every_s"))


class CrawlerResource(_CrawlerFields):
    """How the crawler fetches: source mode, politeness, safety limits, browser use.

    Its fields are those of :class:`crawl.session.SourceSettings`, :class:`crawl.fetcher.FetchSettings`
    and :class:`crawl.crawler.CrawlSettings` (defaults and help declared there, for the live
    web), plus ``parse_workers``. ``mode='replay'`` serves ``archives`` through a loopback
    replay server (the embedded profile and exact re-runs of a snapshot); ``'http'`` is the
    live web; ``'archive'`` reads WARC files in-process. An empty ``archives`` list in replay
    or archive mode means the embedded mini-web shipped with the package.
    """

    parse_workers: int = Field(default=-1, description="Processes for HTML parsing: -1 = min(cores, 4), 0 = in the "
                                                       "crawl's own thread.")

    def source_settings(self) -> SourceSettings:
        archives = tuple(self.archives)
        if self.mode in ("replay", "archive") and not archives:
            from crawl.miniweb import ARCHIVE_PATH

            archives = (str(ARCHIVE_PATH),)
        return settings_from(SourceSettings, self, archives=archives)

    def fetch_settings(self) -> FetchSettings:
        return settings_from(FetchSettings, self)

    def crawl_settings(self, frontier: FrontierSettings) -> CrawlSettings:
        return settings_from(CrawlSettings, self, frontier=frontier,
                             parse_workers=default_parse_workers() if self.parse_workers < 0 else self.parse_workers)


class RoleEndpoint(dg.Config):
    """One role's endpoint in run config. Give ``api_key`` only as ``{env: VAR}``: Dagster resolves
    it when the run is launched, so a missing variable stops the run before any step, naming
    the variable, and the UI and stored run config show the variable's name, never the key."""

    base_url: str = Field(default="", description="OpenAI-compatible base URL (…/v1); empty = the embedded server.")
    model: str = ""
    api_key: str = Field(default="", description="Only as {env: VAR}. Empty: the variable named by api_key_env.")
    api_key_env: str = ""
    structured: Literal["", "openai", "llamacpp"] = Field(default="", description="openai | llamacpp: how JSON schemas "
                                                                          "are requested; empty = by endpoint kind.")
    temperature: float | None = None
    max_tokens: int | None = None


class LLMResource(dg.ConfigurableResource):
    """Teacher LLMs per role. Endpoints come from run config (``endpoints``, see
    ``pipelines/configs/production.yaml``) or env (``SEEKFORGE_<ROLE>_BASE_URL``, ``..._MODEL``,
    ``..._API_KEY_ENV``), config winning; a role with neither is served by the embedded
    SmolLM2 server, started on a free loopback port for the step and stopped after.
    Answers are cached in ``cache_path`` so re-materializations cost nothing."""

    endpoints: dict[str, RoleEndpoint] = Field(default_factory=dict, description="Per role (teacher, reasoner, judge, "
                                               "rrm, summarizer): endpoint, model and key.")

    cache_path: str = Field(default="", description="sqlite request cache; empty = <data_dir>/llm_cache.sqlite")
    max_concurrency: int = Field(default=4, description="Requests in flight across all roles.")
    max_retries: int = 4
    backoff_base_s: float = Field(default=0.5, description="First retry waits about this long, doubling each time "
                                                           "(a server's Retry-After wins).")
    embedded_fallback: bool = Field(default=True, description="Serve roles without an endpoint with the embedded "
                                    "SmolLM2 server (the demo). The production resource has this off: such a role "
                                    "is an error.")
    embedded_threads: int = Field(default=0, description="CPU threads for the embedded server (0 = all cores).")
    embedded_ctx: int = 4096

    def endpoint_map(self) -> dict[str, RoleEndpoint]:
        """Run-config endpoints by role name (the production resource types them per role)."""
        return dict(self.endpoints)

    def role_configs(self) -> dict[str, RoleConfig]:
        from dataclasses import replace

        from distill.llm.roles import ROLES, role_from_env

        endpoints = self.endpoint_map()
        unknown = sorted(set(endpoints) - set(ROLES))
        if unknown:
            raise ValueError(f"llm.endpoints names unknown roles {unknown}; roles are {', '.join(ROLES)}")
        roles = {}
        for name in ROLES:
            cfg = role_from_env(name)
            ep = endpoints.get(name)
            if ep is not None:
                updates: dict[str, Any] = {k: v for k, v in (("base_url", ep.base_url), ("model", ep.model),
                                                             ("api_key_env", ep.api_key_env),
                                                             ("structured", ep.structured), ("key", ep.api_key),
                                                             ("temperature", ep.temperature),
                                                             ("max_tokens", ep.max_tokens)) if v not in ("", None)}
                cfg = replace(cfg, **updates)
            roles[name] = cfg
        if not self.embedded_fallback:
            missing = [name for name, cfg in roles.items() if not cfg.base_url]
            if missing:
                raise EmbeddedFallbackRefused(
                    f"role(s) {', '.join(repr(m) for m in missing)} have no endpoint, and this profile never falls back "
                    f"to the embedded demo model: set resources.llm.config.endpoints.<role>.base_url (or "
                    f"SEEKFORGE_<ROLE>_BASE_URL)")
        return roles

    @contextmanager
    def session(self, storage: StorageResource) -> Iterator[LLMSession]:
        """Roles, the request cache and clients for the duration of a step. The embedded
        server (for roles without an endpoint) starts on the first request that misses the
        cache, so a step whose answers are all cached starts no server at all."""
        from distill.llm.cache import RequestCache
        from distill.llm.embedded import EmbeddedLLMServer

        roles = self.role_configs()
        for cfg in roles.values():
            if cfg.base_url:
                cfg.api_key()  # fail fast, naming the missing variable, before any work
        cache = RequestCache(self.cache_path or storage.path("llm_cache.sqlite"))
        server = EmbeddedLLMServer(n_threads=self.embedded_threads or None, n_ctx=self.embedded_ctx,
                                   log_path=storage.path("logs", "embedded_llm.log")) \
            if self.embedded_fallback and any(cfg.base_url is None for cfg in roles.values()) else None
        try:
            yield LLMSession(self, roles, cache, server)
        finally:
            if server is not None and server.running:
                server.stop()
            cache.close()


class EmbeddedFallbackRefused(ValueError):
    """A role has no endpoint in a profile that must not use the embedded demo model."""


class LiveEndpoint(RoleEndpoint):
    """A production role's endpoint: ``base_url`` and ``model`` are required, so a role left
    out of run config is a launch error naming it, never a silent embedded fallback."""

    base_url: str = Field(description="OpenAI-compatible base URL (…/v1) of this role's server.")
    model: str = Field(description="Model name the server expects.")


class ProductionEndpoints(dg.Config):
    """One required endpoint per role (the names are :data:`distill.llm.roles.ROLES`)."""

    teacher: LiveEndpoint = Field(description="Writes QA and short / atomic rollouts.")
    reasoner: LiveEndpoint = Field(description="Long chain-of-thought rollouts.")
    judge: LiveEndpoint = Field(description="Judges QA pairs and final answers.")
    rrm: LiveEndpoint = Field(description="Reasoning reward model: grades atomic thoughts (Atom-Searcher ATR).")
    summarizer: LiveEndpoint = Field(description="Reads visited pages for the agent's visit tool.")


class ProductionLLMResource(LLMResource):
    """The production profile's LLM resource: every role's endpoint is required run config
    (``pipelines/configs/production.yaml``) and nothing falls back to the embedded model."""

    # Narrower than the base's dict on purpose: Dagster then requires each role; dict() reads both.
    endpoints: ProductionEndpoints = Field(  # type: ignore[assignment]
        description="Per role: endpoint, model and key (all five required).")
    embedded_fallback: bool = Field(default=False, description="Never on in production.")
    max_concurrency: int = Field(default=32, description="Requests in flight across all roles.")

    def endpoint_map(self) -> dict[str, RoleEndpoint]:
        return {name: getattr(self.endpoints, name) for name in type(self.endpoints).model_fields}


class LLMSession:
    """One step's view of the teacher endpoints: ``roles``, ``cache`` and :meth:`client`."""

    def __init__(self, resource: LLMResource, roles: dict[str, RoleConfig], cache: RequestCache,
                 server: Any) -> None:
        self.resource, self.roles, self.cache, self._server = resource, roles, cache, server

    def endpoints(self) -> dict[str, tuple[str, str]]:
        """(base URL or 'embedded', model) per role: what a result made with these endpoints depends on."""
        return {name: (cfg.base_url or "embedded", cfg.model) for name, cfg in self.roles.items()}

    def embedded_url(self) -> str:
        """Start the embedded server if it is not running yet; its base URL."""
        if self._server is None:
            raise RuntimeError("every role has an endpoint; there is no embedded server")
        if not self._server.running:
            self._server.start()
        return str(self._server.base_url)

    def client(self, extra_roles: dict[str, RoleConfig] | None = None, max_concurrency: int | None = None) -> Any:
        """An :class:`LLMClient` with the resource's limits, retries and this step's cache."""
        from distill.llm.client import LLMClient

        r = self.resource
        return LLMClient({**self.roles, **(extra_roles or {})},
                         default_base_url=self.embedded_url if self._server is not None else None,
                         cache=self.cache, max_concurrency=max_concurrency or r.max_concurrency,
                         max_retries=r.max_retries, backoff_base_s=r.backoff_base_s)


class ToolBox:
    """The tools of one step and their cache counters (read after the rollouts)."""

    def __init__(self, tools: dict[str, Any], cache: Any) -> None:
        self.tools = tools
        self.cache = cache

    def stats(self) -> dict[str, int]:
        return {"tool_cache_hits": self.cache.hits, "tool_cache_misses": self.cache.misses}


class AgentToolsResource(dg.ConfigurableResource):
    """The agent's environment: which search engine, how pages are read for ``visit``.

    ``search_backend='local'`` searches the crawled corpus (the ``search_index`` asset):
    offline and reproducible. ``searxng`` / ``serper`` query a live engine (the key comes
    from the variable named in ``search_api_key_env``). ``visit`` fetches through the
    crawler in the crawler resource's mode (replay of the snapshot, WARC, or live web)."""

    search_backend: Literal["local", "searxng", "serper"] = Field(default="local", description="local | searxng | serper")
    search_base_url: str = Field(default="", description="Engine URL for searxng / serper.")
    search_api_key_env: str = Field(default="SERPER_API_KEY", description="Variable holding the serper key.")
    search_k: int = Field(default=10, description="Results per query.")
    max_queries_per_call: int = 5
    max_page_chars: int = Field(default=12_000, description="Page text given to the summarizer (beginning kept).")
    max_urls_per_visit: int = 3
    summarizer_max_tokens: int = 512

    @asynccontextmanager
    async def tools(self, storage: StorageResource, crawler: CrawlerResource, client: Any,
                    cache: RequestCache) -> AsyncIterator[ToolBox]:
        from distill.agent.search import SearchTool, build_search_backend
        from distill.agent.tools import ToolCache
        from distill.agent.visit import PageReader, VisitTool

        tool_cache = ToolCache(cache)
        if self.search_backend == "local":
            backend = build_search_backend("local", index_dir=storage.path("search_index", "bm25"))
        elif self.search_backend == "serper":
            backend = build_search_backend("serper", api_key_env=self.search_api_key_env,
                                           **({"base_url": self.search_base_url} if self.search_base_url else {}))
        else:
            backend = build_search_backend(self.search_backend, base_url=self.search_base_url)
        try:
            async with PageReader(crawler.source_settings(), crawler.fetch_settings()) as reader:
                tools = {
                    "search": SearchTool(backend, tool_cache, k=self.search_k, max_queries=self.max_queries_per_call),
                    "visit": VisitTool(reader, client, tool_cache, max_page_chars=self.max_page_chars,
                                       max_urls=self.max_urls_per_visit, max_tokens=self.summarizer_max_tokens),
                }
                yield ToolBox(tools, tool_cache)
        finally:
            await backend.aclose()


Device = Literal["auto", "cuda", "cpu"]


class ModelsResource(dg.ConfigurableResource):
    """Where trainable models come from, where converted ones are kept, and where they train.

    ``base_model='embedded'`` is the SmolLM2-135M GGUF the embedded LLM serves, converted
    once into a trainable Hugging Face directory under ``cache_dir`` (default: ``models/``
    in the data dir; point several data dirs at one cache with ``SEEKFORGE_MODEL_CACHE``,
    since the conversion costs ~40 s and its output never changes). Any other value is a
    local model directory: nothing is downloaded from a hub."""

    base_model: str = Field(default="embedded", description="'embedded' (demo) or a local HF model directory.")
    device: Device = Field(default="auto", description="auto (CUDA when present) | cuda (an error without it) | cpu.")
    cache_dir: str = Field(default="", description="Converted models; empty = <data_dir>/models.")

    def base_model_path(self, storage: StorageResource) -> Path:
        from train.base_model import resolve_base_model

        cache = Path(self.cache_dir).expanduser() if self.cache_dir else storage.path("models", "base")
        return resolve_base_model(self.base_model, cache)


class ProductionModelsResource(ModelsResource):
    """The production profile's models: the base model is required run config
    (``production.yaml`` / ``production_train.yaml``) and the embedded demo model is refused."""

    base_model: str = Field(description="A local Hugging Face model directory (the embedded model is demo-only).")
    device: Device = Field(default="cuda", description="auto | cuda | cpu; production trains on a GPU by default.")

    def base_model_path(self, storage: StorageResource) -> Path:
        from train.base_model import EMBEDDED

        if self.base_model.strip() == EMBEDDED:
            raise ValueError("base_model 'embedded' is the demo's 135M model; the production profile needs a local "
                             "Hugging Face model directory (resources.models.config.base_model)")
        return super().base_model_path(storage)


class BenchmarksResource(dg.ConfigurableResource):
    """Benchmark files whose questions must never be trained on (decontamination).

    Formats that load (``filters.contamination``): JSON / JSONL (FlashRAG's
    ``{"id", "question", "golden_answers"}`` rows, HotpotQA's dev JSON, DeepResearcher's
    test sets) and Parquet, with the question under ``question_field``."""

    decontamination: Literal["on", "off"] = Field(default="on", description="on: drop rollouts of questions that "
                                                  "match a benchmark question; off: no files are read (say so "
                                                  "explicitly in production).")
    files: list[str] = Field(default_factory=list, description="Benchmark files (JSON / JSONL / Parquet).")
    question_field: str = "question"

    def active_files(self) -> list[str]:
        """The files to decontaminate against; ``on`` without any is an error, not a pass."""
        if self.decontamination == "off":
            return []
        if not self.files:
            raise ValueError("decontamination is 'on' but no benchmark files are named: list them in "
                             "resources.benchmarks.config.files, or write decontamination: 'off' explicitly")
        return list(self.files)

    def index(self) -> BenchmarkIndex | None:
        """The benchmark questions of :meth:`active_files`, read now; None when decontamination is off."""
        from filters.contamination import BenchmarkIndex

        files = self.active_files()
        return BenchmarkIndex.from_files(files, question_field=self.question_field) if files else None


class ProductionBenchmarksResource(BenchmarksResource):
    """Production: ``decontamination`` has no default, so a run config that says nothing about
    benchmarks is a launch error; ``'off'`` must be written out."""

    decontamination: Literal["on", "off"] = Field(description="on (with files) | off (written explicitly).")
