"""``seekforge`` command line: inspect archives, replay them, crawl outside Dagster."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Literal, NoReturn

import click


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr.")
def main(verbose: bool) -> None:
    """seekforge: training data for deep-research agents."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.command()
@click.argument("warc_files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address (loopback only unless --allow-public-bind).")
@click.option("--port", default=8765, show_default=True, type=int)
@click.option("--allow-public-bind", is_flag=True, help="Permit a non-loopback bind address.")
def replay(warc_files: tuple[Path, ...], host: str, port: int, allow_public_bind: bool) -> None:
    """Serve WARC records over HTTP by original URL (Host header or /<host>/<path>)."""
    from crawl.replay import serve_forever

    try:
        serve_forever(list(warc_files), host=host, port=port, allow_public_bind=allow_public_bind)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc


@main.command()
@click.argument("warc_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--no-text", is_flag=True, help="Omit the text field (smaller output).")
def parse(warc_file: Path, no_text: bool) -> None:
    """Print one JSON object per response record: url, source, valid, title, text, fields, links."""
    from crawl.adapters import parse_response
    from crawl.decode import BodyLimitExceeded, BoundedDecoder
    from crawl.warc import iter_responses

    out = sys.stdout
    for rec in iter_responses(warc_file):
        headers = {k.lower(): v for k, v in rec.headers}
        try:
            decoder = BoundedDecoder(headers.get("content-encoding", ""), max_bytes=50_000_000, max_ratio=1000)
            decoder.feed(rec.payload)
            body = decoder.finish()
        except BodyLimitExceeded as exc:
            out.write(json.dumps({"url": rec.url, "source": None, "valid": False, "invalid_reason": exc.reason,
                                  "invalid_detail": exc.detail, "title": "", "text": "", "fields": {},
                                  "links": []}) + "\n")
            continue
        page = parse_response(rec.url, rec.status, headers, body)
        obj = {
            "url": rec.url,
            "source": page.source,
            "kind": page.kind,
            "status": rec.status,
            "valid": page.valid,
            "invalid_reason": page.invalid_reason,
            "invalid_detail": page.invalid_detail,
            "title": page.title,
            "text": None if no_text else page.text,
            "fields": page.fields,
            "links": [link.to_dict() for link in page.links],
        }
        out.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")


@main.command()
@click.argument("roots", nargs=-1, required=True)
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Parquet output.")
@click.option("--mode", type=click.Choice(["http", "replay", "archive"]), default="http", show_default=True)
@click.option("--archive", "archives", multiple=True, type=click.Path(exists=True, dir_okay=False), help="WARC for replay/archive.")
@click.option("--warc", "warc_out", type=click.Path(dir_okay=False, path_type=Path), help="Write fetched responses here.")
@click.option("--max-depth", default=2, show_default=True)
@click.option("--max-pages", default=50, show_default=True, help="Per root.")
@click.option("--strategy", type=click.Choice(["bfs", "random_walk"]), default="bfs", show_default=True)
@click.option("--delay", default=1.0, show_default=True, help="Seconds between requests to one host.")
@click.option("--seed", default=0, show_default=True)
def crawl(roots: tuple[str, ...], out_path: Path, mode: Literal["http", "replay", "archive"], archives: tuple[str, ...],
          warc_out: Path | None, max_depth: int, max_pages: int, strategy: str, delay: float, seed: int) -> None:
    """Crawl ROOTS into a web_pages Parquet file (no Dagster needed)."""
    from crawl.corpus import pages_frame, write_pages
    from crawl.crawler import CrawlSettings
    from crawl.fetcher import FetchSettings
    from crawl.frontier import FrontierSettings
    from crawl.session import SourceSettings, run_crawl

    result = run_crawl(
        list(roots),
        source=SourceSettings(mode=mode, archives=tuple(archives)),
        fetch=FetchSettings(per_host_delay_s=delay),
        crawl=CrawlSettings(frontier=FrontierSettings(strategy=strategy, max_depth=max_depth,
                                                      max_pages_per_root=max_pages, seed=seed)),
        warc_path=warc_out,
    )
    df = pages_frame(result.rows)
    write_pages(df, out_path)
    click.echo(json.dumps({"rows": df.height, "valid": int(df["valid"].sum()) if df.height else 0,
                           "outcomes": dict(result.outcomes), "seconds": round(result.elapsed_s, 2), "out": str(out_path)}))


@main.command("qa-lint")
@click.argument("qa_file", type=click.Path(exists=True, dir_okay=False, readable=True, allow_dash=True, path_type=Path))
@click.option("--max-answer-words", default=12, show_default=True, type=click.IntRange(min=1), help="Longer answers: answer_too_long.")
@click.option("--max-answer-chars", default=100, show_default=True, type=click.IntRange(min=1), help="Longer answers: answer_too_long.")
@click.option("--known-urls", "known_urls_file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path),
              help="File of known URLs, one a line: evidence_urls outside it give evidence_unknown.")
@click.option("--flag-choices", is_flag=True, help="Report answers that are one of the question's alternatives (A or B?).")
def qa_lint(qa_file: Path, max_answer_words: int, max_answer_chars: int, known_urls_file: Path | None,
            flag_choices: bool) -> None:
    """Check a JSONL file of QA pairs with rules (no LLM); print one verdict per record.

    Each input line is an object with `question` and `answer` (or `answers`: the
    first is used), optionally `evidence` / `evidence_text` and `evidence_urls`.
    Output: one JSON line per non-blank input line, {"index", "keep", "reasons"}
    (plus "id" when the record has `_id` / `id`, and "detail" saying why a line is an
    invalid_record); a summary goes to stderr.
    """
    from collections import Counter

    from crawl.drop_reasons import INVALID_RECORD
    from distill.qa_rules import lint_qa
    from pipelines.verdicts import Verdict, stream_verdicts

    def fail(message: str) -> NoReturn:
        click.echo(f"seekforge qa-lint: {message}", err=True)
        sys.exit(2)

    known: set[str] | None = None
    if known_urls_file is not None:
        try:
            known = {u.strip() for u in known_urls_file.read_text(encoding="utf-8").splitlines() if u.strip()}
        except OSError as exc:
            fail(f"cannot read {exc.filename}: {exc.strerror}")
    counts: Counter[str] = Counter()

    def judge(_lineno: int, raw: bytes) -> Verdict:
        try:
            record_id, reasons = _qa_lint_line(raw, lint_qa, known, max_answer_words, max_answer_chars, flag_choices)
        except _InvalidQARecord as exc:
            counts[INVALID_RECORD] += 1
            return Verdict([INVALID_RECORD], id=exc.record_id, extra={"detail": str(exc)})
        counts.update(reasons)
        return Verdict(reasons, id=record_id)

    kept, total = stream_verdicts(qa_file, judge, fail=fail)
    click.echo(f"kept {kept} of {total}; reasons: {json.dumps(dict(counts.most_common()))}", err=True)


class _InvalidQARecord(ValueError):
    """A JSONL line that is not a usable QA record (the message says why)."""

    def __init__(self, why: str, record_id: object = None) -> None:
        super().__init__(why)
        self.record_id = record_id


def _qa_text(value: object, field: str, record_id: object) -> str:
    """A record's question/answer as text: strings as they are, numbers printed."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise _InvalidQARecord(f"{field} is {type(value).__name__}, not text", record_id)


def _qa_lint_line(raw: bytes, lint_qa, known: set[str] | None, max_answer_words: int, max_answer_chars: int,
                  flag_choices: bool) -> tuple[object, list[str]]:
    """Parse one JSONL line and lint it; raise _InvalidQARecord for unusable lines."""
    try:
        rec = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise _InvalidQARecord("not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise _InvalidQARecord(f"bad JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(rec, dict):
        raise _InvalidQARecord(f"a JSON {type(rec).__name__}, not an object")
    record_id = rec.get("_id", rec.get("id"))
    if record_id is not None and not isinstance(record_id, (str, int)):
        record_id = None
    if "question" not in rec:
        raise _InvalidQARecord("no question", record_id)
    question = _qa_text(rec["question"], "question", record_id)
    if "answer" in rec:
        answer_value = rec["answer"]
    elif "answers" in rec:
        answers = rec["answers"]
        if isinstance(answers, dict):  # SQuAD style {"text": [...], "answer_start": [...]}
            answers = answers.get("text")
        if not isinstance(answers, list) or not answers:
            raise _InvalidQARecord("answers is not a non-empty list", record_id)
        answer_value = answers[0]
        if isinstance(answer_value, dict):
            answer_value = answer_value.get("text")
    else:
        raise _InvalidQARecord("no answer", record_id)
    answer = _qa_text(answer_value, "answer", record_id)
    evidence = rec.get("evidence_text", rec.get("evidence"))
    if isinstance(evidence, list) and all(isinstance(e, str) for e in evidence):
        evidence = "\n".join(evidence)
    if evidence is not None and not isinstance(evidence, str):
        raise _InvalidQARecord("evidence is not text", record_id)
    urls = rec.get("evidence_urls")
    if isinstance(urls, str):
        urls = [urls]
    if urls is not None and not (isinstance(urls, list) and all(isinstance(u, str) for u in urls)):
        raise _InvalidQARecord("evidence_urls is not a list of strings", record_id)
    reasons = lint_qa(question, answer, evidence_text=evidence, evidence_urls=urls, known_urls=known,
                      max_answer_words=max_answer_words, max_answer_chars=max_answer_chars,
                      flag_choices=flag_choices)
    return record_id, reasons


@main.command()
@click.argument("src", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@click.argument("dst", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--from", "src_fmt", type=click.Choice(["webdancer", "seekforge", "parquet"]), default="webdancer",
              show_default=True, help="Format of SRC (parquet: a trajectories table written by the pipeline).")
@click.option("--to", "dst_fmt", type=click.Choice(["webdancer", "seekforge", "openai", "parquet"]), default="seekforge",
              show_default=True, help="openai: one {messages, tools} object per line with OpenAI tool calls.")
@click.option("--style", type=click.Choice(["short", "long", "atomic"]), default=None,
              help="Style to record for imported WebDancer trajectories (default: the record's tag, else short).")
def convert(src: Path, dst: Path, src_fmt: Literal["webdancer", "seekforge", "parquet"],
            dst_fmt: Literal["webdancer", "seekforge", "openai", "parquet"], style: str | None) -> None:
    """Convert agent trajectories between formats (WebDancer text tags, seekforge records,
    OpenAI tool calls, Parquet), e.g. to bring existing WebDancer data into the filters."""
    import polars as pl

    from distill.agent.formats import FormatError, read_jsonl, to_openai, write_jsonl
    from distill.agent.trajectory import read_trajectories, trajectories_frame

    try:
        trajs = (read_trajectories(pl.read_parquet(src)) if src_fmt == "parquet"
                 else read_jsonl(src, fmt=src_fmt, style=style))
    except FormatError as exc:
        raise click.ClickException(str(exc)) from exc
    if dst_fmt == "parquet":
        trajectories_frame(trajs).write_parquet(dst)
    elif dst_fmt == "openai":
        with dst.open("w", encoding="utf-8") as fh:
            for t in trajs:
                fh.write(json.dumps(to_openai(t), ensure_ascii=False) + "\n")
    else:
        write_jsonl(trajs, dst, fmt=dst_fmt)
    click.echo(json.dumps({"read": len(trajs), "written": len(trajs), "to": dst_fmt, "path": str(dst)}))


@main.command()
@click.option("--gold", "gold_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="HotpotQA-style gold JSON: a list of objects with _id and answer.")
@click.option("--pred", "pred_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help='Predictions JSON: {"answer": {id: text}} (other keys, e.g. "sp", are ignored).')
@click.option("--metric", type=click.Choice(["hotpotqa", "deepresearcher"]), default="hotpotqa", show_default=True,
              help="hotpotqa: official EM/F1 (token counts); deepresearcher: punctuation to spaces, token-set F1.")
def score(gold_path: Path, pred_path: Path, metric: str) -> None:
    """Score predictions against gold answers; print {"em", "f1", "n"} as one JSON line.

    Means run over every gold question, a missing prediction scoring 0, as in the
    official HotpotQA evaluation (see filters.metrics).
    """
    from filters.metrics import score_official

    def load(path: Path, what: str) -> object:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise click.ClickException(f"cannot read {what} file {path}: {exc.strerror or exc}") from exc
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise click.ClickException(f"{what} file {path} is not JSON: {exc}") from exc

    gold, pred = load(gold_path, "gold"), load(pred_path, "prediction")
    if not isinstance(gold, list):
        raise click.ClickException(f"gold file {gold_path}: expected a JSON list of objects with _id and answer, "
                                   f"got a {type(gold).__name__}")
    if not isinstance(pred, dict):
        raise click.ClickException(f'prediction file {pred_path}: expected a JSON object {{"answer": {{id: text}}}}, '
                                   f"got a {type(pred).__name__}")
    try:
        result = score_official(gold, pred, variant=metric)  # type: ignore[arg-type]
    except ValueError as exc:
        raise click.ClickException(f"{gold_path} / {pred_path}: {exc}") from exc
    click.echo(json.dumps(result))


@main.command()
@click.argument("qa_file", type=click.Path(exists=True, dir_okay=False, readable=True, allow_dash=True, path_type=Path))
@click.option("--benchmark", "benchmarks", multiple=True, required=True,
              type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path),
              help="Benchmark questions (JSON, JSONL or Parquet); repeat for several files.")
@click.option("--question-field", default="question", show_default=True,
              help="Field / column holding the question in the benchmark files.")
def decontaminate(qa_file: Path, benchmarks: tuple[Path, ...], question_field: str) -> None:
    """Flag QA records whose question copies a benchmark question; one verdict per record.

    QA_FILE is JSONL with a `question` field per line ("-": stdin). Output: one JSON
    line per non-blank input line, {"index", "keep", "reasons", "match"}; reasons are
    benchmark_exact / benchmark_near (match: the benchmark question) or
    malformed_record (the line is not an object with a non-empty string question).
    A summary goes to stderr.
    """
    from collections import Counter

    from crawl.drop_reasons import MALFORMED_RECORD
    from filters.contamination import BenchmarkFileError, BenchmarkIndex
    from pipelines.verdicts import Verdict, stream_verdicts

    try:
        index = BenchmarkIndex.from_files(benchmarks, question_field=question_field)
    except BenchmarkFileError as exc:
        raise click.ClickException(str(exc)) from exc
    counts: Counter[str] = Counter()

    def judge(_lineno: int, raw: bytes) -> Verdict:
        question = _decontaminate_question(raw)
        match = index.match(question) if question is not None else None
        if question is None:
            reasons = [MALFORMED_RECORD]
        elif match is not None:
            reasons = [match.reason]
        else:
            reasons = []
        counts.update(reasons)
        return Verdict(reasons, extra={"match": match.question if match else None})

    kept, total = stream_verdicts(qa_file, judge)
    click.echo(f"kept {kept} of {total} against {len(index)} benchmark questions; "
               f"reasons: {json.dumps(dict(counts.most_common()))}", err=True)


def _decontaminate_question(raw: bytes) -> str | None:
    """The question of one JSONL line, or None when the line is not a usable record."""
    try:
        rec = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    question = rec.get("question") if isinstance(rec, dict) else None
    return question if isinstance(question, str) and question.strip() else None


class _UsageFail(click.ClickException):
    """A usage error as one ``Error: ...`` line and exit status 2 (click's UsageError adds the usage text)."""

    exit_code = 2


@main.command("eval")
@click.option("--benchmark", "benchmarks", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Benchmark file (FlashRAG / verl / HotpotQA JSON / JSONL / Parquet / CSV); repeat for several.")
@click.option("--format", "fmt", type=click.Choice(["flashrag", "verl", "hotpotqa", "qa", "csv"]), default=None,
              help="Record schema to use instead of detecting it (csv: read as CSV / TSV).")
@click.option("--list", "list_only", is_flag=True,
              help='Print the parsed records as JSON lines {"id", "question", "answers"} and exit.')
@click.option("--base-url", default="", help="The agent: any OpenAI-compatible endpoint (vLLM, transformers serve, "
                                             "a hosted API).")
@click.option("--model", default="", help="Model name at --base-url.")
@click.option("--api-key-env", default="", help="Variable holding the agent endpoint's key (none if empty).")
@click.option("--style", type=click.Choice(["short", "long"]), default="short", show_default=True,
              help="System prompt and history: short (ReAct, full history) or long (earlier thoughts dropped).")
@click.option("--search-backend", type=click.Choice(["local", "searxng", "serper"]), default="local",
              show_default=True, help="local: the crawled corpus' index under --data-dir.")
@click.option("--search-base-url", default="", help="searxng / serper URL.")
@click.option("--search-api-key-env", default="SERPER_API_KEY", show_default=True)
@click.option("--profile", type=click.Choice(["embedded", "production"]), default="production", show_default=True,
              help="How visit fetches pages: production = the live web, politely; embedded = the mini-web replay.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Local search index and request cache (default $SEEKFORGE_DATA_DIR or ./data).")
@click.option("--limit", default=0, show_default=True, type=click.IntRange(min=0), help="Questions per file (0 = all).")
@click.option("--samples", default=1, show_default=True, type=click.IntRange(min=1), help="Rollouts per question.")
@click.option("--pass-k", "pass_k", multiple=True, type=click.IntRange(min=1), help="k of pass@k (default 1).")
@click.option("--metric", type=click.Choice(["hotpotqa", "deepresearcher"]), default="hotpotqa", show_default=True)
@click.option("--criterion", type=click.Choice(["em", "cover_em", "judge"]), default="em", show_default=True,
              help="What makes a sample correct for pass@k.")
@click.option("--judge", is_flag=True, help="LLM-judge accuracy by the judge role (SEEKFORGE_JUDGE_BASE_URL, ..._MODEL).")
@click.option("--max-turns", default=10, show_default=True, type=click.IntRange(min=1))
@click.option("--max-tokens-per-turn", default=1024, show_default=True, type=click.IntRange(min=1))
@click.option("--temperature", default=0.6, show_default=True, type=float)
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(min=1), help="Requests in flight.")
@click.option("--date", "current_date", default="", help="Date in the system prompt (default: today, UTC).")
@click.option("--seed", default=0, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write agent_eval.csv, agent_eval.png and rollouts.parquet here.")
def eval_command(benchmarks: tuple[Path, ...], fmt: str | None, list_only: bool, base_url: str, model: str,
                 api_key_env: str, style: str, search_backend: str, search_base_url: str, search_api_key_env: str,
                 profile: str, data_dir: Path | None, limit: int, samples: int, pass_k: tuple[int, ...], metric: str,
                 criterion: str, judge: bool, max_turns: int, max_tokens_per_turn: int, temperature: float,
                 concurrency: int, current_date: str, seed: int, out_dir: Path | None) -> None:
    """Evaluate an agent on standard QA benchmarks and print the scores as JSON.

    Every file is read before anything runs, so an error in the third file costs nothing.
    With --list, print the records and stop. Otherwise the agent at --base-url runs the ReAct
    loop with the chosen search backend (visit pages are read by the summarizer role:
    SEEKFORGE_SUMMARIZER_BASE_URL / _MODEL, else the agent's own endpoint, named in the output)
    and stdout gets one JSON object: per benchmark and overall, EM / F1 (official rules),
    cover-EM, pass@k, answer rate, format validity, judge accuracy, and the run's behaviour.
    """
    from train.benchmarks import BenchmarkFileError, load_benchmark, load_benchmarks

    if not benchmarks:
        raise _UsageFail("no benchmark file: give --benchmark FILE (repeatable)")
    try:
        # Listing shows every file as it parses; a run keys results by benchmark name (one per file).
        loaded = ({str(path): load_benchmark(path, fmt) for path in benchmarks} if list_only  # type: ignore[arg-type]
                  else load_benchmarks(benchmarks, fmt))  # type: ignore[arg-type]
    except BenchmarkFileError as exc:
        raise click.ClickException(str(exc)) from exc
    out = sys.stdout
    if list_only:
        for records in loaded.values():
            for record in records:
                out.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
        logging.getLogger(__name__).info("listed %d records from %d files", sum(map(len, loaded.values())), len(loaded))
        return
    if not base_url or not model:
        raise _UsageFail("give the agent to evaluate: --base-url URL --model NAME (or --list to only parse the files)")
    benches = {name: (recs[:limit] if limit else recs) for name, recs in loaded.items()}
    from distill.llm.roles import MissingCredential
    from pipelines.eval_run import EvalRequest, run_eval

    try:
        result = run_eval(EvalRequest(
            benchmarks=benches, base_url=base_url, model=model, api_key_env=api_key_env, style=style,
            search_backend=search_backend, search_base_url=search_base_url, search_api_key_env=search_api_key_env,
            profile=profile, data_dir=data_dir, samples=samples, pass_k=pass_k or (1,), metric=metric,
            criterion=criterion, judge=judge, max_turns=max_turns, max_tokens_per_turn=max_tokens_per_turn,
            temperature=temperature, concurrency=concurrency, current_date=current_date, seed=seed, out_dir=out_dir))
    except (ValueError, MissingCredential) as exc:
        raise click.ClickException(str(exc)) from exc
    out.write(json.dumps(result, ensure_ascii=False, default=str) + "\n")


from pipelines.cli_filter import filter_command  # noqa: E402  (its own module: it is long)

main.add_command(filter_command)

if __name__ == "__main__":
    main()
