"""``meditron corpus download pubmed``: NLM's annual baseline and daily update files, verified against their md5s.

Layout written (what the ``medline`` corpus source reads; the reader orders files by name, and NLM's names sort
chronologically, so updates replace baseline versions as NLM intends)::

    OUT/baseline/pubmed25n0001.xml.gz (+ .md5)    OUT/updatefiles/pubmed25n1275.xml.gz (+ .md5)    OUT/manifest.json
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from meditron.corpus.download.batch import (
    DownloadReport,
    RemoteFile,
    download_all,
    ensure_dir_url,
    fetch_md5,
    list_links,
)
from meditron.corpus.download.http import DownloadError, FetchResult, PoliteClient, client_or_new
from meditron.corpus.download.manifest import Manifest
from meditron.errors import ConfigError

PUBMED_BASE_URL = "https://ftp.ncbi.nlm.nih.gov/pubmed/"
PUBMED_DIRS = ("baseline", "updatefiles")
PUBMED_LICENCE = "NLM Terms and Conditions for MEDLINE/PubMed data (https://www.nlm.nih.gov/databases/download/terms_and_conditions.html)"
FILE_NAME = re.compile(r"^pubmed\d{2}n\d{4}\.xml\.gz$")


def plan_pubmed(client: PoliteClient, base_url: str, include: list[str], max_files: int | None) -> list[RemoteFile]:
    """List each included directory, pair every data file with its ``.md5`` sidecar, and fetch the digests.

    A baseline listing without any ``pubmedYYnNNNN.xml.gz`` is an error naming the URL (a moved site must not look
    like an empty success); ``updatefiles/`` may be empty right after NLM's December release. A data file whose sidecar is not listed gets no digest and fails verification by name.
    """
    unknown = [d for d in include if d not in PUBMED_DIRS]
    if unknown:
        raise ConfigError(f"--include {','.join(unknown)}: not a PubMed folder; choose from {', '.join(PUBMED_DIRS)}")
    items: list[RemoteFile] = []
    for folder in include:
        url = ensure_dir_url(ensure_dir_url(base_url) + folder)
        names = list_links(client, url)
        data = sorted(n for n in names if FILE_NAME.match(n))
        if not data and folder == "baseline":  # updatefiles is legitimately empty for a while after a new baseline
            raise DownloadError(url, "the listing has no pubmedYYnNNNN.xml.gz file; has NLM's layout changed? "
                                     f"(links seen: {', '.join(names[:5]) or 'none'})")
        for name in data:
            md5_url = url + name + ".md5" if name + ".md5" in names else None
            items.append(RemoteFile(url + name, f"{folder}/{name}", licence=PUBMED_LICENCE,
                                    extra={"md5_url": md5_url}))
    if max_files is not None:
        items = items[:max_files]
    for item in items:
        if item.extra["md5_url"]:
            item.md5 = fetch_md5(client, item.extra["md5_url"])
    return items


def download_pubmed(
    out: Path,
    *,
    base_url: str = PUBMED_BASE_URL,
    include: list[str] | tuple[str, ...] = PUBMED_DIRS,
    max_files: int | None = None,
    workers: int = 2,
    client: PoliteClient | None = None,
    on_result: Callable[[str, FetchResult], None] | None = None,
) -> DownloadReport:
    """Download (or complete) the PubMed files under ``out``; verified files enter ``out/manifest.json``."""
    out = Path(out)
    with client_or_new(client, per_host_concurrency=workers) as client:
        items = plan_pubmed(client, base_url, list(include), max_files)
        manifest = Manifest(out, source="pubmed")
        unverifiable = [i for i in items if i.md5 is None]
        verifiable = [i for i in items if i.md5 is not None]
        report = download_all(client, manifest, verifiable, workers=workers, on_result=on_result)
        for item in unverifiable:
            report.results[item.rel] = FetchResult(item.url, None, "failed", error="no .md5 sidecar in the listing")
        for item in verifiable:
            if report.results.get(item.rel, None) is None or report.results[item.rel].ok:
                (out / (item.rel + ".md5")).write_text(f"MD5({Path(item.rel).name})= {item.md5}\n")
        return report
