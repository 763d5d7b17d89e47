"""``seekforge`` command line: inspect archives, replay them, crawl outside Dagster."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

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
    from crawl.warc import iter_responses
    from crawl.decode import BodyLimitExceeded, BoundedDecoder

    out = sys.stdout
    for rec in iter_responses(warc_file):
        headers = {k.lower(): v for k, v in rec.headers}
        try:
            decoder = BoundedDecoder(headers.get("content-encoding", ""), max_bytes=50_000_000, max_ratio=1000)
            decoder.feed(rec.payload)
            body = decoder.finish()
        except BodyLimitExceeded as exc:
            out.write(json.dumps({"url": rec.url, "source": None, "valid": False, "invalid_reason": exc.reason,
                                  "title": "", "text": "", "fields": {}, "links": []}) + "\n")
            continue
        page = parse_response(rec.url, rec.status, headers, body)
        obj = {
            "url": rec.url,
            "source": page.source,
            "kind": page.kind,
            "status": rec.status,
            "valid": page.valid,
            "invalid_reason": page.invalid_reason,
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
def crawl(roots: tuple[str, ...], out_path: Path, mode: str, archives: tuple[str, ...], warc_out: Path | None,
          max_depth: int, max_pages: int, strategy: str, delay: float, seed: int) -> None:
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


if __name__ == "__main__":
    main()
