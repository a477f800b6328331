"""``meditron corpus download guidelines``: crawl the chosen sources, write ``DIR/<source>.jsonl`` + the manifest,
and fail loudly — naming what no longer matched — when a source's site changed.

Output layout (what ``kind: guideline_jsonl`` reads): ``DIR/<source>.jsonl`` with MEDITRON's guideline rows,
``DIR/manifest.json``, and the resumable crawl state in ``DIR/.crawl/<source>.sqlite``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from meditron.corpus.download.guidelines.budget import Budget
from meditron.corpus.download.guidelines.crawler import CrawlSummary, Pacer, SourceCrawler
from meditron.corpus.download.guidelines.definition import SourceDefinition, load_sources
from meditron.corpus.download.guidelines.frontier import Frontier
from meditron.corpus.download.guidelines.mediawiki import MediaWikiCrawler
from meditron.corpus.download.guidelines.robots import RobotsRules
from meditron.corpus.download.http import DEFAULT_USER_AGENT, FetchResult, PoliteClient, client_or_new
from meditron.corpus.download.manifest import Manifest
from meditron.errors import ConfigError


def layout_problem(definition: SourceDefinition, summary: CrawlSummary, last_matched: str | None) -> str | None:
    """Why this source's output cannot be trusted (site changed), or None. Never an empty success."""
    name, seen = definition.name, summary.num_matched + summary.num_missed
    if seen and summary.num_matched / seen < definition.min_content_match:
        what = definition.content.describe()
        return (f"{name}: {summary.num_matched} of {seen} pages had the content selector {what}; the layout "
                f"changed? — last matched on {last_matched or 'never'}")
    pdfs = ", ".join(definition.pdfs.follow)
    if pdfs and summary.num_matched and summary.stopped is None:
        if not summary.num_pdf_links and definition.pdfs.required:
            return (f"{name}: {summary.num_matched} guideline page(s) matched but none linked a PDF matching "
                    f"pdfs.follow ({pdfs}); the site's download links changed?")
        if summary.num_pdf_not_pdf and not summary.num_pdf_rows:
            return (f"{name}: {summary.num_pdf_not_pdf} link(s) matching pdfs.follow ({pdfs}) answered with something "
                    f"other than a PDF (a landing page or a bot check?) and none gave a PDF")
    if not seen and summary.stopped is None:
        if definition.mediawiki:
            return f"{name}: the MediaWiki API listed no page ({'; '.join(summary.errors) or 'empty listing'})"
        if definition.listing_api and not (definition.seeds or definition.sitemaps):
            api = definition.listing_api
            return (f"{name}: the listing API {api.path} listed no guideline page "
                    f"({'; '.join(summary.errors) or 'empty listing'})")
        return (f"{name}: no guideline page found from {definition.seeds + definition.sitemaps}: no link matched "
                f"the extract patterns {definition.extract}; the site's links changed?"
                + (f" ({'; '.join(summary.errors)})" if summary.errors else ""))
    return None


def _write_rows(frontier: Frontier, path: Path) -> tuple[int, int, str]:
    """Rewrite the source's JSONL from the frontier atomically; (rows, bytes, sha256)."""
    tmp = path.with_suffix(".jsonl.part")
    digest, size, count = hashlib.sha256(), 0, 0
    with open(tmp, "wb") as handle:
        for row in frontier.rows():
            line = (json.dumps(row, ensure_ascii=False) + "\n").encode()
            handle.write(line)
            digest.update(line)
            size += len(line)
            count += 1
    os.replace(tmp, path)
    return count, size, digest.hexdigest()


def _record_manifest(out: Path, definition: SourceDefinition, path: Path, size: int, sha256: str) -> None:
    """The ``DIR/manifest.json`` entry of ``DIR/<source>.jsonl``: the source's root URL, size, sha256, licence."""
    result = FetchResult(definition.base_url, path, "downloaded", size=size, sha256=sha256)
    Manifest(out, "guidelines").record(result, licence=definition.licence, licence_url=definition.licence_url,
                                       kind="guideline_jsonl", guideline_source=definition.name)


def _summary_line(s: CrawlSummary, num_rows: int) -> str:
    parts = [f"{num_rows} rows", f"{s.num_fetched} fetched", f"{s.num_unchanged} unchanged (304)",
             f"{s.num_rows_new} new/updated", f"{s.num_failed + s.num_missed} failed",
             f"{s.num_robots_blocked} blocked by robots.txt", f"{s.num_skipped} skipped"]
    if s.num_pdf_links or s.num_pdf_rows:
        parts.insert(4, f"{s.num_pdf_rows} PDFs read")
    line = f"{s.source}: " + ", ".join(parts) + (" (resumed)" if s.resumed else "")
    return line + (f"; stopped: {s.stopped} — rerun the same command to continue" if s.stopped else "")


def crawl_one(definition: SourceDefinition, out: Path, client: PoliteClient, robots: RobotsRules, budget: Budget,
              pacer: Pacer, echo: Callable[[str], None]) -> str | None:
    """Crawl one source, write its rows; the failure message, or None."""
    frontier = Frontier(out / ".crawl" / f"{definition.name}.sqlite")
    try:
        cls = MediaWikiCrawler if definition.mediawiki else SourceCrawler
        summary = cls(definition, frontier, client, robots, budget, pacer).crawl()
        last_matched = frontier.get_meta("last_matched")
        if summary.num_matched:
            frontier.set_meta("last_matched", datetime.now(timezone.utc).date().isoformat())
        rows_path = out / f"{definition.name}.jsonl"
        num_rows, size, sha = _write_rows(frontier, rows_path)
        _record_manifest(out, definition, rows_path, size, sha)
        echo(_summary_line(summary, num_rows))
        for url, error in frontier.failures()[:10]:
            echo(f"  failed {url}: {error}")
        return layout_problem(definition, summary, last_matched)
    finally:
        frontier.close()


def cli_download(sources: list[str] | None, base_urls: dict[str, str], out: Path, max_pages: int | None = None,
                 max_bytes: int | None = None, *, user_agent: str = DEFAULT_USER_AGENT,
                 client: PoliteClient | None = None, pacer: Pacer | None = None,
                 echo: Callable[[str], None] = print) -> int:
    """Exit code 0 when every source gave rows its content rules matched, 1 otherwise (each failure printed)."""
    definitions = load_sources(sources or ["all"])
    pdf_roots = {key.removesuffix("+pdf"): url for key, url in base_urls.items() if key.endswith("+pdf")}
    base_urls = {key: url for key, url in base_urls.items() if not key.endswith("+pdf")}
    unknown = sorted((set(base_urls) | set(pdf_roots)) - {d.name for d in definitions})
    if unknown:
        raise ConfigError(f"--base-url names source(s) not being downloaded: {', '.join(unknown)}")
    definitions = [d.with_base_url(base_urls[d.name]) if d.name in base_urls else d for d in definitions]
    definitions = [d.with_pdf_roots([pdf_roots[d.name]]) if d.name in pdf_roots else d for d in definitions]
    out.mkdir(parents=True, exist_ok=True)
    pacer = pacer or Pacer()
    problems, num_pages, num_bytes = [], 0, 0
    with client_or_new(client, user_agent=user_agent, per_host_concurrency=1) as client:
        robots = RobotsRules(client, client.user_agent)
        for definition in definitions:  # each source has the whole budget: `--max-pages 30` trials every source
            budget = Budget(max_pages, max_bytes)
            problem = crawl_one(definition, out, client, robots, budget, pacer, echo)
            num_pages, num_bytes = num_pages + budget.num_pages, num_bytes + budget.num_bytes
            if problem:
                problems.append(problem)
    for problem in problems:
        echo(f"error: {problem}")
    echo(f"budget used: {num_pages} requests, {num_bytes:,} bytes (budgets apply per source)")
    return 1 if problems else 0
