"""Every reason a stage can give for dropping (or invalidating) a record, declared once.

Why this module exists: pages, QA pairs, rollouts and dataset records are dropped by
different stages, and each drop carries a reason that ends up in a Parquet column
(``web_pages.invalid_reason``, ``qa/*_drops.parquet`` ``reason``,
``scored_trajectories.reasons``) and in the funnel. Declaring them here, each with its
stage and a one-line meaning, gives one vocabulary that ``grep`` finds, that
``docs/drop_reasons.md`` is generated from (``python -m crawl.drop_reasons``), and that
:class:`filters.funnel.Funnel` and :func:`filters.pipeline.run_filters` check at run time,
so a misspelt or composed reason fails loudly instead of becoming a new funnel row.

Why it lives in ``crawl/``: imports point one way (crawl <- distill <- filters <- train
<- assets <- pipelines), and the crawl's own page reasons are declared here too, so the
lowest package is the only one every stage can import. It imports nothing of the project.

The contract:

* a reason is a constant declared with :func:`reason` (a plain ``str``, so comparisons,
  ``Counter`` keys and Parquet columns work unchanged), never a string composed at run
  time; what varies (an HTTP status, an exception message, which tag was unbalanced)
  goes in a separate field (``invalid_detail``, ``detail``, ``error``) or is read from
  the record itself (``status``, ``finish_reason``, the steps' ``invalid_reason``);
* :func:`check` raises :class:`UndeclaredReason` for a name not in :data:`REGISTRY`;
* the funnel may show a reason behind a display prefix naming where it came from
  (``crawlqa:judge_reject``, see :func:`prefixed`); only :data:`DISPLAY_PREFIXES` are
  allowed, and the part after the colon must be declared.

The agent's per-step invalid-action codes (``distill.agent.protocol.INVALID_REASONS``:
``bad_json``, ``unknown_tool`` ...) are not drop reasons: a rollout with one is dropped
as :data:`INVALID_ACTION`, and its steps say which.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

#: Stages in pipeline order: the order of docs/drop_reasons.md.
STAGES: Final[tuple[str, ...]] = (
    "fetch", "page", "qa_generation", "qa_rules", "qa_judge", "qa_pool", "qa_gates", "atomic_prompts", "rollout",
    "contamination", "validity", "repetition", "bounds", "correctness", "voting", "dedup", "input", "sft", "rl",
)

_STAGE_DOC: Final[dict[str, str]] = {
    "fetch": "the request failed; `web_pages.invalid_reason` equals the `outcome` column (`crawl/fetcher.py` "
             "`Outcome`), `detail` says more",
    "page": "a response arrived but is not content (`crawl/validity.py`, `crawl/adapters/`); "
            "`web_pages.invalid_reason`, with `invalid_detail` where something varies",
    "qa_generation": "CRAWLQA / E2HQA generation steps (`distill/crawlqa.py`, `distill/e2hqa.py`); "
                     "`qa/<origin>_drops.parquet` `reason`",
    "qa_rules": "cheap rules on a QA pair (`distill/qa_rules.py` `lint_qa`, `seekforge qa-lint`)",
    "qa_judge": "the strict LLM judge of a QA pair (`distill/crawlqa.py`)",
    "qa_pool": "the QA pool's deduplication (`distill/qa_pool.py`); `qa/qa_pool_drops.parquet`",
    "qa_gates": "the QA pool's hardness and uniqueness gates (`distill/gates.py`); `qa/qa_pool_drops.parquet` with "
                "`stage` gate_closed_book / gate_with_evidence / gate_uniqueness and the verdicts in `record_json`",
    "atomic_prompts": "teacher expansions of atomic-thought system prompts (`distill/agent/atomic.py`)",
    "rollout": "QA pool questions not rolled out (funnel stage `rolled_out`)",
    "contamination": "rollouts of benchmark questions (`filters/contamination.py`), the first filter stage",
    "validity": "format of a rollout (`filters/rules.py`)",
    "repetition": "a rollout repeating itself (`filters/rules.py`)",
    "bounds": "size limits of a rollout (`filters/rules.py`)",
    "correctness": "the final answer against the reference (`filters/rules.py`, `filters/answer_span.py`)",
    "voting": "majority voting over a question's rollouts (`filters/voting.py`)",
    "dedup": "near-duplicates (`filters/dedup.py`, `distill/qa_pool.py`) and repeated questions (`seekforge filter`)",
    "input": "lines of a file given to the command line that are not records",
    "sft": "SFT dataset building (`train/sft_data.py`, `assets/datasets.py`)",
    "rl": "RL dataset building (`train/rl_data.py`)",
}

#: Display prefixes the funnel may put before a declared reason (``crawlqa:judge_reject``):
#: the ``qa_candidates`` stage merges the drops of both QA generators.
DISPLAY_PREFIXES: Final[frozenset[str]] = frozenset({"crawlqa", "e2hqa"})


@dataclass(frozen=True, slots=True)
class DropReason:
    """One declared reason: its ``name`` (what records carry), the ``stage`` that gives it,
    a one-line ``meaning``, and ``also``: other stages that give it with the same sense."""

    name: str
    stage: str
    meaning: str
    also: tuple[str, ...] = ()


class UndeclaredReason(ValueError):
    """A drop reason that is not in :data:`REGISTRY` (the message says where to declare it)."""


#: name -> entry, in declaration order.
REGISTRY: dict[str, DropReason] = {}


def reason(name: str, *, stage: str, meaning: str, also: Iterable[str] = ()) -> str:
    """Declare a reason and return its name (a plain ``str``) for a module-level constant."""
    if name in REGISTRY:
        raise ValueError(f"drop reason {name!r} is declared twice")
    stages = (stage, *also)
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ValueError(f"drop reason {name!r}: unknown stage(s) {unknown}; known: {', '.join(STAGES)}")
    if not name or not name.replace("_", "").isalnum() or name != name.lower():
        raise ValueError(f"drop reason {name!r}: use lower_snake_case, no spaces, colons or values")
    REGISTRY[name] = DropReason(name, stage, meaning.strip(), tuple(also))
    return name


def check(name: object) -> DropReason:
    """The entry of a declared reason; :class:`UndeclaredReason` for anything else."""
    entry = REGISTRY.get(name) if isinstance(name, str) else None
    if entry is None:
        raise UndeclaredReason(
            f"undeclared drop reason {name!r}: declare it in crawl/drop_reasons.py (a constant, with its stage and "
            "meaning) and use the constant; for a table written before the registry, materialize it again")
    return entry


def check_display(name: object) -> str:
    """Like :func:`check`, but also accepts ``<prefix>:<reason>`` with a :data:`DISPLAY_PREFIXES` prefix."""
    if isinstance(name, str) and ":" in name:
        prefix, _, rest = name.partition(":")
        if prefix in DISPLAY_PREFIXES:
            check(rest)
            return name
    return check(name).name


def prefixed(prefix: str, name: str) -> str:
    """``<prefix>:<reason>`` for display in the funnel, both parts checked."""
    if prefix not in DISPLAY_PREFIXES:
        raise ValueError(f"unknown display prefix {prefix!r}; known: {', '.join(sorted(DISPLAY_PREFIXES))}")
    check(name)
    return f"{prefix}:{name}"


def by_stage(stage: str) -> list[DropReason]:
    """Entries whose main stage is ``stage``, in declaration order."""
    return [e for e in REGISTRY.values() if e.stage == stage]


# ---------------------------------------------------------------------------
# fetch: crawl.fetcher.Outcome values other than "ok"
# ---------------------------------------------------------------------------

TIMEOUT = reason("timeout", stage="fetch", meaning="no complete response within the timeout, after the retries")
CONNECT_ERROR = reason("connect_error", stage="fetch", meaning="the connection failed (refused, reset, TLS), after "
                       "the retries")
DNS_ERROR = reason("dns_error", stage="fetch", meaning="the host name did not resolve")
BLOCKED_SCHEME = reason("blocked_scheme", stage="fetch", meaning="not an http(s) URL (file:, ftp:, javascript: ...), "
                        "or a redirect to one")
BLOCKED_ADDRESS = reason("blocked_address", stage="fetch", meaning="the host resolves to a private, loopback, "
                         "link-local or metadata address (SSRF guard)")
ROBOTS_DISALLOWED = reason("robots_disallowed", stage="fetch", meaning="robots.txt disallows the URL")
TOO_MANY_REDIRECTS = reason("too_many_redirects", stage="fetch", meaning="more redirects than the fetch settings allow")
REDIRECT_LOOP = reason("redirect_loop", stage="fetch", meaning="a redirect led back to a URL already visited")
BODY_TOO_LARGE = reason("body_too_large", stage="fetch", meaning="the raw or decoded body exceeds the byte cap")
DECOMPRESSION_BOMB = reason("decompression_bomb", stage="fetch", meaning="the body inflates by more than the allowed "
                            "compression ratio")
DECODE_ERROR = reason("decode_error", stage="fetch", meaning="a corrupt gzip / deflate body, or a content-encoding the "
                      "crawler cannot decode")
UNSUPPORTED_ENCODING = reason("unsupported_encoding", stage="fetch", meaning="`seekforge parse` only: a WARC record "
                              "with a content-encoding other than gzip / deflate / identity (the crawler records "
                              "decode_error)")
CONTENT_TYPE_NOT_ALLOWED = reason("content_type_not_allowed", stage="fetch", meaning="the Content-Type is not in the "
                                  "crawler's allow-list (images, PDFs, binaries)")
PROTOCOL_ERROR = reason("protocol_error", stage="fetch", meaning="the server broke HTTP (malformed response, "
                        "connection closed mid-body), after the retries")
INVALID_URL = reason("invalid_url", stage="fetch", meaning="the URL cannot be parsed or requested")
NOT_IN_ARCHIVE = reason("not_in_archive", stage="fetch", meaning="replay / archive mode: the snapshot has no record "
                        "for the URL")
INTERNAL_ERROR = reason("internal_error", stage="fetch", meaning="a crawler bug while fetching (the detail has the "
                        "exception); the crawl goes on")

# ---------------------------------------------------------------------------
# page: validity of a response that arrived (crawl/validity.py, crawl/adapters/)
# ---------------------------------------------------------------------------

CLOUDFLARE_CHALLENGE = reason("cloudflare_challenge", stage="page", meaning="a Cloudflare / JS challenge "
                              "interstitial, whatever its HTTP status")
CAPTCHA = reason("captcha", stage="page", meaning="a CAPTCHA or human-verification page")
RATE_LIMITED = reason("rate_limited", stage="page", meaning="a rate-limit page (a 429 with such text, or a 200 page "
                      "saying so)")
LOGIN_WALL = reason("login_wall", stage="page", meaning="a sign-in wall instead of content")
ACCESS_DENIED = reason("access_denied", stage="page", meaning="an access-denied page served with status 200 (WAF, "
                       "geo block)")
NOT_FOUND = reason("not_found", stage="page", meaning="a soft 404: a not-found page served with status 200")
HTTP_ERROR = reason("http_error", stage="page", meaning="HTTP status >= 300 reached the adapter (4xx, 5xx, a 3xx not "
                    "followed); the row's `status` column holds the code")
NEAR_EMPTY = reason("near_empty", stage="page", meaning="fewer than 200 characters of words in the main text "
                    "(stub, blank template, JS-rendered page)")
BINARY_CONTENT = reason("binary_content", stage="page", meaning="the body is binary, not text")
EMPTY_BODY = reason("empty_body", stage="page", meaning="an empty body with a success status")
PARSE_ERROR = reason("parse_error", stage="page", meaning="the adapter could not parse the body (bad JSON / XML, "
                     "not an Atom feed ...); `invalid_detail` has the exception type and message")
API_ERROR = reason("api_error", stage="page", meaning="an API answered with an error object (Wikipedia Action API, "
                   "arXiv export API); `invalid_detail` has its code or message")
MISSING_PAGE = reason("missing_page", stage="page", meaning="the Wikipedia API reports every requested page as missing")
EMPTY_FEED = reason("empty_feed", stage="page", meaning="a well-formed arXiv Atom feed without entries")
MISSING_FIELDS = reason("missing_fields", stage="page", also=("qa_generation",),
                        meaning="required fields are missing: an arXiv abstract page without id, title or abstract "
                                "(`invalid_detail` lists them), or a teacher reply without string `question` and "
                                "`answer`")
EMPTY_LISTING = reason("empty_listing", stage="page", meaning="a listing page (category, topic, arXiv list) that "
                       "lists no items")
UNEXPLAINED_INVALID = reason("invalid", stage="page", meaning="funnel only: an invalid `web_pages` row stored "
                             "without a reason (rows written by older code)")

# ---------------------------------------------------------------------------
# qa_generation: CRAWLQA / E2HQA
# ---------------------------------------------------------------------------

LLM_ERROR = reason("llm_error", stage="qa_generation", also=("atomic_prompts",),
                   meaning="the teacher call failed after its retries; the drop's `error` (QA) and `detail` say how")
TRUNCATED_OUTPUT = reason("truncated_output", stage="qa_generation", also=("atomic_prompts",),
                          meaning="the teacher hit max_tokens before its JSON was complete")
MALFORMED_JSON = reason("malformed_json", stage="qa_generation", also=("atomic_prompts",),
                        meaning="no JSON object could be read from the teacher's reply")
NO_ENTITY = reason("no_entity", stage="qa_generation", meaning="E2HQA: the question has no entity left to replace")
NO_SEARCH_RESULTS = reason("no_search_results", stage="qa_generation", meaning="E2HQA: searching the entity found "
                           "nothing to describe it from")
ENTITY_NAMED = reason("entity_named", stage="qa_generation", meaning="E2HQA: the description names the entity it "
                      "should hide")
DESCRIPTION_TOO_LONG = reason("description_too_long", stage="qa_generation", meaning="E2HQA: the description is "
                              "longer than max_description_words")

# ---------------------------------------------------------------------------
# qa_rules: distill/qa_rules.py lint_qa (its docstring explains each)
# ---------------------------------------------------------------------------

ANSWER_EMPTY = reason("answer_empty", stage="qa_rules", meaning="blank, punctuation-only or placeholder answer "
                      "(\"N/A\", \"unknown\")")
ANSWER_IN_CHOICES = reason("answer_in_choices", stage="qa_rules", meaning="with flag_choices: the answer is one of "
                           "the alternatives the question offers")
ANSWER_IS_SENTENCE = reason("answer_is_sentence", stage="qa_rules", meaning="the answer is a full sentence, not a span")
ANSWER_LEAKED = reason("answer_leaked", stage="qa_rules", meaning="the answer occurs, as whole words, in the question")
ANSWER_MULTILINE = reason("answer_multiline", stage="qa_rules", meaning="the answer contains a line break")
ANSWER_OPTION_LETTER = reason("answer_option_letter", stage="qa_rules", meaning="the answer is an option label "
                              "(\"B\", \"(c)\", \"Option D\")")
ANSWER_TOO_LONG = reason("answer_too_long", stage="qa_rules", meaning="more words or characters than an answer span "
                         "should have")
ANSWER_WHITESPACE = reason("answer_whitespace", stage="qa_rules", meaning="leading / trailing whitespace, a tab or "
                           "double spaces in the answer")
ERROR_PAGE_LEFTOVER = reason("error_page_leftover", stage="qa_rules", meaning="question or answer quotes an error, "
                             "bot-wall, rate-limit or login page")
EVIDENCE_UNKNOWN = reason("evidence_unknown", stage="qa_rules", meaning="an evidence URL is not in the crawled corpus")
MENTIONS_BROWSING = reason("mentions_browsing", stage="qa_rules", meaning="the question refers to \"this page\", the "
                           "source or browsing")
NOT_GROUNDED = reason("not_grounded", stage="qa_rules", meaning="the answer is not found in the evidence text")
QUESTION_MALFORMED = reason("question_malformed", stage="qa_rules", meaning="empty, too short, not a question, "
                            "several lines, or template leftovers")
COPIED_EXAMPLE = reason("copied_example", stage="qa_rules", meaning="CRAWLQA: the question copies the prompt's "
                        "example for its type")
QUESTION_OFF_TOPIC = reason("question_off_topic", stage="qa_rules", meaning="CRAWLQA: the question is not about the "
                            "chain's documents")

# ---------------------------------------------------------------------------
# qa_judge
# ---------------------------------------------------------------------------

JUDGE_REJECT = reason("judge_reject", stage="qa_judge", meaning="the judge rejected the pair (`judge_reason` says why)")
JUDGE_LLM_ERROR = reason("judge_llm_error", stage="qa_judge", meaning="the judge call failed after its retries "
                         "(`judge_reason` has the error code)")
JUDGE_MALFORMED_VERDICT = reason("judge_malformed_verdict", stage="qa_judge", meaning="the judge's reply had no "
                                 "accept / reject verdict")

# ---------------------------------------------------------------------------
# qa_pool
# ---------------------------------------------------------------------------

DUPLICATE_ID = reason("duplicate_id", stage="qa_pool", meaning="a second record with an id already in the pool")

# ---------------------------------------------------------------------------
# atomic_prompts: distill/agent/atomic.py validate_units / expand_prompts
# ---------------------------------------------------------------------------

MISSING_UNITS = reason("missing_units", stage="atomic_prompts", meaning="the reply has no `units` list")
BAD_UNIT = reason("bad_unit", stage="atomic_prompts", meaning="a unit is not an object with a string `tag`")
BAD_TAG = reason("bad_tag", stage="atomic_prompts", meaning="a tag is not UPPER_SNAKE_CASE (2-31 characters)")
RESERVED_TAG = reason("reserved_tag", stage="atomic_prompts", meaning="a tag is one of the protocol's own (THINK, "
                      "ANSWER, TOOL_CALL, TOOL_RESPONSE)")
EMPTY_DESCRIPTION = reason("empty_description", stage="atomic_prompts", meaning="a unit without a description")
DUPLICATE_TAG = reason("duplicate_tag", stage="atomic_prompts", meaning="the same tag twice in one prompt")
TOO_FEW_UNITS = reason("too_few_units", stage="atomic_prompts", meaning="fewer units than min_units")
TOO_MANY_UNITS = reason("too_many_units", stage="atomic_prompts", meaning="more units than max_units")
DUPLICATE_COMBINATION = reason("duplicate_combination", stage="atomic_prompts", meaning="the same set of unit tags "
                               "as an earlier prompt")

# ---------------------------------------------------------------------------
# rollout
# ---------------------------------------------------------------------------

NOT_SAMPLED = reason("not_sampled", stage="rollout", meaning="a pool question the rollout stage did not sample")

# ---------------------------------------------------------------------------
# contamination
# ---------------------------------------------------------------------------

BENCHMARK_EXACT = reason("benchmark_exact", stage="contamination", meaning="the question equals a benchmark question "
                         "after normalisation (`benchmark_match` names it)")
BENCHMARK_NEAR = reason("benchmark_near", stage="contamination", meaning="the question nearly copies a benchmark "
                        "question (word n-grams or character shingles)")

# ---------------------------------------------------------------------------
# trajectory filters: validity, repetition, bounds, correctness, voting, dedup
# ---------------------------------------------------------------------------

NOT_FINISHED = reason("not_finished", stage="validity", meaning="the rollout did not end with an answer; its "
                      "`finish_reason` says how it ended (max_turns, max_tokens, invalid, error)")
EMPTY_ANSWER = reason("empty_answer", stage="validity", meaning="finished with a blank answer")
SELF_OBSERVATION = reason("self_observation", stage="validity", meaning="the model wrote its own <tool_response>")
BAD_TAGS = reason("bad_tags", stage="validity", meaning="protocol tags nested, unbalanced, unclosed, or think after "
                  "the action (`filters.rules.tag_problem` on the messages says which)")
INVALID_ACTION = reason("invalid_action", stage="validity", meaning="a turn's action was invalid (bad JSON, unknown "
                        "tool, repeated call ...); the steps' `invalid_reason` says which")
SYSTEM_PROMPT_LEAK = reason("system_prompt_leak", stage="validity", meaning="the model repeated 10 consecutive words "
                            "of its system prompt")
TOOL_FAILURES = reason("tool_failures", stage="validity", meaning="the answer rests on failed tool calls (none "
                       "brought content, or too large a share failed)")
REPEATED_NGRAM = reason("repeated_ngram", stage="repetition", meaning="some 10-word sequence occurs more than "
                        "max_ngram_repeats times in what the model wrote")
REPEATED_TOOL_CALL = reason("repeated_tool_call", stage="repetition", meaning="the same tool call (name and "
                            "arguments) more often than allowed")
REDUNDANT_THOUGHT = reason("redundant_thought", stage="repetition", meaning="two consecutive thoughts are "
                           "near-identical")
TOO_FEW_TOOL_CALLS = reason("too_few_tool_calls", stage="bounds", meaning="fewer tool calls than min_tool_calls")
TOO_MANY_TOOL_CALLS = reason("too_many_tool_calls", stage="bounds", meaning="more tool calls than max_tool_calls")
TOO_MANY_STEPS = reason("too_many_steps", stage="bounds", meaning="more steps than max_steps")
TOO_MANY_TOKENS = reason("too_many_tokens", stage="bounds", meaning="more completion tokens than "
                         "max_completion_tokens")
ANSWER_NOT_MATCHED = reason("answer_not_matched", stage="correctness", meaning="the rule verdict: the reference is "
                            "not in the stated answer span (cover-EM) and F1 is below the threshold")
JUDGE_REJECTED = reason("judge_rejected", stage="correctness", meaning="the judge said the answer does not mean the "
                        "reference")
MINORITY_ANSWER = reason("minority_answer", stage="voting", meaning="the answer is not the strict majority of its "
                         "question's rollouts (same style)")
MAJORITY_DISAGREES_REFERENCE = reason("majority_disagrees_reference", stage="voting", meaning="the majority answer "
                                      "does not match the reference")
NEAR_DUPLICATE = reason("near_duplicate", stage="dedup", also=("qa_pool",),
                        meaning="near-duplicate of a record kept earlier: a rollout (MinHash over its text), or a QA "
                                "pair in the pool (`duplicate_of` names it)")
DUPLICATE_QUESTION = reason("duplicate_question", stage="dedup", meaning="`seekforge filter`: a question already "
                            "kept earlier in the file")

# ---------------------------------------------------------------------------
# input: command-line readers
# ---------------------------------------------------------------------------

MALFORMED_RECORD = reason("malformed_record", stage="input", meaning="a JSONL line that is not a trajectory / not an "
                          "object with a question (`seekforge filter`, `seekforge decontaminate`)")
INVALID_RECORD = reason("invalid_record", stage="input", meaning="`seekforge qa-lint`: a line that is not a usable QA "
                        "record; the line's `detail` says why")

# ---------------------------------------------------------------------------
# sft, rl: dataset builders
# ---------------------------------------------------------------------------

TOO_EASY = reason("too_easy", stage="qa_gates", meaning="the teacher answered it from memory, without tools or "
                  "documents, more often than max_closed_book_correct: no research needed")
NOT_ANSWERABLE_FROM_EVIDENCE = reason("not_answerable_from_evidence", stage="qa_gates", meaning="given the question's "
                                      "own evidence pages, the teacher did not reach the reference answer")
AMBIGUOUS = reason("ambiguous", stage="qa_gates", meaning="the judge found a different answer that also satisfies "
                   "the question per the evidence: more than one valid answer")
GATE_LLM_ERROR = reason("gate_llm_error", stage="qa_gates", meaning="every LLM call of a hardness or uniqueness gate "
                        "failed, so the gate could not decide (never counted as a pass)")
HELD_OUT_FOR_RL = reason("held_out_for_rl", stage="sft", meaning="a kept rollout of a question the split holds out "
                         "for RL")
STYLE_NOT_IN_RECIPE = reason("style_not_in_recipe", stage="sft", meaning="a kept rollout of a style the recipe does "
                             "not fine-tune on (sft_dataset's styles)")
NOT_SELECTED = reason("not_selected", stage="sft", meaning="a kept rollout that lost to another rollout of its "
                      "question under sft_dataset's select (fewest_tool_calls or shortest keep one per question)")
TOO_LONG = reason("too_long", stage="sft", meaning="the tokenized conversation is longer than max_length (rejected, "
                  "not truncated)")
NO_TRAINED_TOKENS = reason("no_trained_tokens", stage="sft", meaning="no assistant token would be trained (every "
                           "turn invalid)")
IN_SFT = reason("in_sft", stage="rl", meaning="the question belongs to the SFT split")
TOO_FEW_ROLLOUTS = reason("too_few_rollouts", stage="rl", meaning="fewer counted rollouts than min_rollouts")
ALL_CORRECT = reason("all_correct", stage="rl", meaning="every rollout solved it (pass rate 1: no learning signal)")
ALL_WRONG = reason("all_wrong", stage="rl", meaning="no rollout solved it (pass rate 0: no learning signal)")
NO_ROLLOUT_IN_PROMPT_STYLE = reason("no_rollout_in_prompt_style", stage="rl", meaning="no counted rollout of the "
                                    "recipe's RL prompt style, so there is no prompt of that style to train on")


# ---------------------------------------------------------------------------
# docs/drop_reasons.md
# ---------------------------------------------------------------------------

DOCS_PATH: Final = Path(__file__).resolve().parent.parent / "docs" / "drop_reasons.md"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown() -> str:
    """docs/drop_reasons.md: one table per stage, name | stage | meaning."""
    lines = [
        "# Drop reasons",
        "",
        "<!-- Generated by `python -m crawl.drop_reasons --write` from crawl/drop_reasons.py; do not edit. -->",
        "",
        "Every reason a stage can give for dropping a page, QA pair, rollout or dataset record, declared once in",
        "[`crawl/drop_reasons.py`](../crawl/drop_reasons.py) (the lowest package, so every stage can import it).",
        "Reasons are constants, never composed at run time: what varies (an HTTP status, an exception message)",
        "is in another column. The funnel (`filters/funnel.py`) and `run_filters` refuse undeclared reasons; the",
        "funnel's `qa_candidates` stage shows them behind a display prefix naming the generator",
        f"({', '.join(f'`{p}:`' for p in sorted(DISPLAY_PREFIXES))}).",
        "",
        f"{len(REGISTRY)} reasons in {len({e.stage for e in REGISTRY.values()})} stages.",
    ]
    for stage in STAGES:
        entries = by_stage(stage)
        if not entries:
            continue
        lines += ["", f"## {stage}", "", _cell(_STAGE_DOC[stage][:1].upper() + _STAGE_DOC[stage][1:]) + ".", "",
                  "| name | stage | meaning |", "| --- | --- | --- |"]
        for e in entries:
            stages = ", ".join((e.stage, *e.also))
            lines.append(f"| `{e.name}` | {stages} | {_cell(e.meaning)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m crawl.drop_reasons``: print the markdown; ``--write`` updates docs/drop_reasons.md."""
    parser = argparse.ArgumentParser(prog="python -m crawl.drop_reasons", description=main.__doc__)
    parser.add_argument("--write", action="store_true", help=f"write {DOCS_PATH} instead of printing")
    args = parser.parse_args(argv)
    text = render_markdown()
    if args.write:
        DOCS_PATH.write_text(text, encoding="utf-8")
        print(f"wrote {DOCS_PATH} ({len(REGISTRY)} reasons)", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
