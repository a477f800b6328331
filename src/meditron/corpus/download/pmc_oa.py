"""``meditron corpus download pmc-oa``: PMC Open Access bulk XML packages per licence group, retracted articles
excluded.

NCBI publishes, per licence group (``oa_comm``, ``oa_noncomm``, ``oa_other``), baseline packages
(``oa_comm_xml.PMC000xxxxxx.baseline.2024-12-18.tar.gz``) and daily incrementals (``oa_comm_xml.incr.2024-12-19.tar.gz``),
each with a ``.filelist.csv`` (Article File, Article Citation, AccessionID, LastUpdated, PMID, License, Retracted).
The packages are kept as they are (the ``jats`` corpus source streams ``.tar.gz`` members); what must not reach the
corpus is listed in ``OUT/excluded.json``, which the ``jats`` source takes as ``exclude_ids_file``:

- ``ids``: accessions to drop wherever they appear, with the reason (``retracted``);
- ``by_file``: per package, accessions a later package replaces (``superseded-by-later-version``), so an article
  revised in an incremental is read once, in its newest version.

Layout: ``OUT/oa_comm/xml/<package>.tar.gz`` + ``.filelist.csv``, ``OUT/excluded.json``, ``OUT/manifest.json``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path

from meditron.corpus.download.batch import DownloadReport, RemoteFile, download_all, ensure_dir_url, list_links
from meditron.corpus.download.http import DownloadError, FetchResult, PoliteClient, client_or_new
from meditron.corpus.download.manifest import Manifest, utc_now
from meditron.errors import ConfigError, InputError
from meditron.json_io import write_json_atomic

PMC_OA_BASE_URL = "https://ftp.ncbi.nlm.nih.gov/pub/pmc/oa_bulk/"
LICENSE_GROUPS = ("comm", "noncomm", "other")
PACKAGE_KINDS = ("baseline", "incremental")
GROUP_LICENCE = {
    "comm": "PMC OA commercial-use group: CC0, CC BY, CC BY-SA, CC BY-ND (per-article licence in the filelist)",
    "noncomm": "PMC OA non-commercial group: CC BY-NC, CC BY-NC-SA, CC BY-NC-ND (per-article licence in the filelist)",
    "other": "PMC OA other group: no machine-readable or a custom licence (per-article terms in the filelist)",
}
RETRACTED = "retracted"
SUPERSEDED = "superseded-by-later-version"
EXCLUDED_NAME = "excluded.json"
_PACKAGE = re.compile(r"^oa_(comm|noncomm|other)_xml\.(?:.+\.)?(baseline|incr)\.(\d{4}-\d{2}-\d{2})\.tar\.gz$")
_ACCESSION = "AccessionID"


def plan_pmc_oa(client: PoliteClient, base_url: str, groups: list[str], kinds: list[str],
                max_files: int | None) -> list[tuple[RemoteFile, RemoteFile]]:
    """(package, filelist) pairs in publication order (date, then name), per licence group."""
    bad = [g for g in groups if g not in LICENSE_GROUPS] + [k for k in kinds if k not in PACKAGE_KINDS]
    if bad:
        raise ConfigError(f"{', '.join(bad)}: --license takes {','.join(LICENSE_GROUPS)}; "
                          f"--include takes {','.join(PACKAGE_KINDS)}")
    pairs = []
    for group in groups:
        url = ensure_dir_url(base_url) + f"oa_{group}/xml/"
        names = list_links(client, url)
        packages = [(m.group(3), n, m.group(2)) for n in names if (m := _PACKAGE.match(n))]
        if not packages:
            raise DownloadError(url, "the listing has no oa_*_xml.*.tar.gz package; has PMC's layout changed? "
                                     f"(links seen: {', '.join(names[:5]) or 'none'})")
        for _, name, kind in sorted(packages):
            if ("baseline" if kind == "baseline" else "incremental") not in kinds:
                continue
            filelist = name[: -len(".tar.gz")] + ".filelist.csv"
            if filelist not in names:
                raise DownloadError(url + name, f"no {filelist} beside it: cannot tell which articles are retracted")
            folder = f"oa_{group}/xml/"
            licence = GROUP_LICENCE[group]
            pairs.append((RemoteFile(url + name, folder + name, licence=licence, extra={"licence_group": group}),
                          RemoteFile(url + filelist, folder + filelist, licence=licence,
                                     extra={"licence_group": group})))
    pairs.sort(key=lambda p: (_PACKAGE.match(Path(p[0].rel).name).group(3), p[0].rel))
    return pairs[:max_files] if max_files is not None else pairs


def read_filelist(path: Path) -> list[dict[str, str]]:
    """Rows of a PMC ``.filelist.csv``; a file without an AccessionID/Retracted column is named in the error."""
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    reader = csv.DictReader(io.StringIO(text))
    missing = {_ACCESSION, "Retracted"} - set(reader.fieldnames or [])
    if missing:
        raise InputError(f"PMC filelist lacks column(s) {', '.join(sorted(missing))}; columns: {reader.fieldnames}",
                         path=str(path))
    return list(reader)


def build_exclusions(root: Path, packages: list[str]) -> dict:
    """Retracted accessions (anywhere) and, per package, accessions that a later package supersedes."""
    ids: dict[str, str] = {}
    by_file: dict[str, dict[str, str]] = {}
    newest: dict[str, str] = {}  # accession -> package holding its newest version (packages in publication order)
    for rel in packages:
        filelist = root / (rel[: -len(".tar.gz")] + ".filelist.csv")
        for row in read_filelist(filelist):
            accession = (row.get(_ACCESSION) or "").strip()
            if not accession:
                continue
            if (row.get("Retracted") or "").strip().lower() in ("yes", "y", "true", "1"):
                ids[accession] = RETRACTED
            if accession in newest:
                by_file.setdefault(Path(newest[accession]).name, {})[accession] = SUPERSEDED
            newest[accession] = rel
    return {"version": 1, "written_at": utc_now(), "ids": dict(sorted(ids.items())),
            "by_file": {k: dict(sorted(v.items())) for k, v in sorted(by_file.items())}}


def download_pmc_oa(
    out: Path,
    *,
    base_url: str = PMC_OA_BASE_URL,
    licenses: list[str] | tuple[str, ...] = ("comm",),
    include: list[str] | tuple[str, ...] = PACKAGE_KINDS,
    max_files: int | None = None,
    workers: int = 2,
    exclude_retracted: bool = True,
    client: PoliteClient | None = None,
    on_result: Callable[[str, FetchResult], None] | None = None,
) -> DownloadReport:
    """Download the packages and their filelists; then write ``excluded.json`` from every verified filelist."""
    out = Path(out)
    with client_or_new(client, per_host_concurrency=workers) as client:
        pairs = plan_pmc_oa(client, base_url, list(licenses), list(include), max_files)
        manifest = Manifest(out, source="pmc-oa")
        items = [f for pair in pairs for f in pair]
        report = download_all(client, manifest, items, workers=workers, on_result=on_result)
    complete = [pkg.rel for pkg, lst in pairs if pkg.rel not in report.failed and lst.rel not in report.failed]
    exclusions = build_exclusions(out, complete)
    if not exclude_retracted:
        exclusions["ids"] = {}
    write_json_atomic(out / EXCLUDED_NAME, exclusions, indent=1, sort_keys=False, fsync=True)
    return report
