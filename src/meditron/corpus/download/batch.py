"""Shared by the bulk sources (pubmed, pmc-oa): read an HTML directory listing, download a planned list of files in
parallel through one :class:`PoliteClient`, record each verified file in the manifest, and report every failure."""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urljoin

from lxml import html as lxml_html

from meditron.corpus.download.http import DownloadError, FetchResult, PoliteClient, file_digests
from meditron.corpus.download.manifest import Manifest

_MD5_HEX = re.compile(r"\b([0-9a-fA-F]{32})\b")


@dataclass
class RemoteFile:
    """One file to fetch: where from, where to (relative to the output folder), and how to verify it."""

    url: str
    rel: str
    md5: str | None = None
    size: int | None = None
    licence: str | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class DownloadReport:
    """Outcome of a batch: every result, and the failed ones by relative path (the CLI names them and exits 1)."""

    results: dict[str, FetchResult] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # verified by an earlier run, not fetched again

    @property
    def failed(self) -> dict[str, FetchResult]:
        return {rel: r for rel, r in self.results.items() if not r.ok}

    def count(self, status: str) -> int:
        return sum(1 for r in self.results.values() if r.status == status)

    def summary(self) -> str:
        done = self.count("downloaded") + self.count("resumed")
        fetched = sum(r.bytes_transferred for r in self.results.values())
        return (f"{done} downloaded ({self.count('resumed')} resumed), {len(self.skipped)} already verified, "
                f"{self.count('unchanged')} unchanged, {len(self.failed)} failed; {fetched:,} bytes fetched")


def list_links(client: PoliteClient, url: str) -> list[str]:
    """File names linked from an HTML directory listing (Apache/nginx "Index of" pages, as NLM's FTP-over-HTTPS).

    Only links to entries directly inside ``url`` count (parent, sort and absolute links elsewhere are ignored).
    """
    response = client.get(url)
    if response.status_code != 200:
        raise DownloadError(url, f"directory listing answered HTTP {response.status_code}")
    base = url if url.endswith("/") else url + "/"
    tree = lxml_html.fromstring(response.content or b"<html/>")
    names: list[str] = []
    for href in tree.xpath("//a/@href"):
        target = urljoin(base, href.split("?", 1)[0].split("#", 1)[0])
        if not target.startswith(base):
            continue
        name = target[len(base):]
        if name and "/" not in name and name not in names:
            names.append(name)
    return names


def parse_md5(text: str, name: str | None = None) -> str | None:
    """The hex digest of an md5 sidecar: NLM's ``MD5(file)= hex`` or md5sum's ``hex  file``."""
    match = _MD5_HEX.search(text.split("=", 1)[1] if "=" in text and text.lstrip().startswith("MD5(") else text)
    return match.group(1).lower() if match else None


def fetch_md5(client: PoliteClient, url: str) -> str:
    response = client.get(url)
    if response.status_code != 200:
        raise DownloadError(url, f"md5 sidecar answered HTTP {response.status_code}")
    digest = parse_md5(response.text)
    if digest is None:
        raise DownloadError(url, f"md5 sidecar has no 32-hex digest: {response.text[:80]!r}")
    return digest


def adopt_local(manifest: Manifest, item: RemoteFile) -> bool:
    """A file already on disk (copied in, or a manifest lost) that matches the server's md5 is recorded, not fetched."""
    local = manifest.root / item.rel
    if item.md5 is None or not local.is_file():
        return False
    size, sha, md5 = file_digests(local)
    if md5 != item.md5 or (item.size is not None and size != item.size):
        return False
    manifest.record(FetchResult(item.url, local, "unchanged", size, sha, md5), licence=item.licence, **item.extra)
    return True


def download_all(
    client: PoliteClient,
    manifest: Manifest,
    items: list[RemoteFile],
    *,
    workers: int = 2,
    on_result: Callable[[str, FetchResult], None] | None = None,
) -> DownloadReport:
    """Fetch every item not already verified, ``workers`` at a time; each verified file enters the manifest at once."""
    report = DownloadReport()
    todo: list[RemoteFile] = []
    for item in items:
        if manifest.is_current(item.rel, md5=item.md5, size=item.size) or adopt_local(manifest, item):
            report.skipped.append(item.rel)
        else:
            todo.append(item)

    def fetch(item: RemoteFile) -> tuple[str, FetchResult]:
        result = client.download(item.url, manifest.root / item.rel, expected_md5=item.md5,
                                 expected_size=item.size)
        if result.ok:
            manifest.record(result, licence=item.licence, **item.extra)
        return item.rel, result

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for rel, result in pool.map(fetch, todo):
            report.results[rel] = result
            if on_result is not None:
                on_result(rel, result)
    return report


def ensure_dir_url(url: str) -> str:
    return url if url.endswith("/") else url + "/"
