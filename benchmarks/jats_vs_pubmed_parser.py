"""Throughput of our JATS reader + cleaner against ``pubmed_parser`` on the same files, in the same run.

Peer: ``pubmed_parser`` (PyPI ``pubmed-parser``), the usual Python tool for PMC XML. To get what one training document
needs — metadata + abstract, body paragraphs, references — it takes three calls, ``parse_pubmed_xml``,
``parse_pubmed_paragraph(all_paragraph=True)`` and ``parse_pubmed_references``. Ours is one ``JatsReader.read_file``,
which also resolves citations to ``[bib_ref]`` titles, renders sections/figures/tables/formulas and normalises the licence.

Files: the real PMC articles in ``../shared/data/pubmed/jats`` plus the embedded sample's single-article files (the
efetch ``<pmc-articleset>`` file is left out: pubmed_parser reads one article per file), each read ``--repeat`` times.
Both sides are timed in alternating rounds so machine noise hits them equally; the best round of each is reported,
in wall-clock time and in process CPU time (steadier on a shared machine).

    python benchmarks/jats_vs_pubmed_parser.py [--repeat 20] [--rounds 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from meditron.corpus.readers.jats import JatsReader
from meditron.sample import SAMPLE_DIR

REPO = Path(__file__).resolve().parents[1]
SHARED_JATS = REPO.parent / "shared" / "data" / "pubmed" / "jats"


def bench_files() -> list[Path]:
    files = sorted(SHARED_JATS.glob("*.nxml")) if SHARED_JATS.exists() else []
    files += sorted((SAMPLE_DIR / "pubmed" / "jats").glob("*.nxml"))
    if not files:
        raise SystemExit("no JATS files found (../shared/data/pubmed/jats or the embedded sample)")
    return files


def run_ours(files: list[Path], repeat: int) -> tuple[float, float, int, int]:
    reader = JatsReader([str(f) for f in files], source="papers")
    num_docs = num_chars = 0
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeat):
        for path in reader.files:
            for doc in reader.read_file(path):
                num_docs += 1
                num_chars += len(doc.text)
    return time.perf_counter() - start, time.process_time() - cpu, num_docs, num_chars


def run_pubmed_parser(files: list[Path], repeat: int) -> tuple[float, float, int, int]:
    import pubmed_parser as pp

    num_docs = num_chars = 0
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeat):
        for path in files:
            meta = pp.parse_pubmed_xml(str(path))
            paragraphs = pp.parse_pubmed_paragraph(str(path), all_paragraph=True)
            references = pp.parse_pubmed_references(str(path)) or []
            num_docs += 1
            num_chars += len(meta.get("full_title") or "") + len(meta.get("abstract") or "")
            num_chars += sum(len(p.get("text") or "") for p in paragraphs)
            num_chars += sum(len(r.get("article_title") or "") for r in references)
    return time.perf_counter() - start, time.process_time() - cpu, num_docs, num_chars


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20, help="passes over the file set per timed round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating timed rounds per tool (best is kept)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON here")
    args = parser.parse_args()

    files = bench_files()
    total_mb = sum(f.stat().st_size for f in files) / 1e6
    run_ours(files, 1), run_pubmed_parser(files, 1)  # warm-up: imports, page cache
    results: dict[str, list[tuple[float, float, int, int]]] = {
        "meditron JatsReader": [],
        "pubmed_parser (3 calls)": [],
    }
    for _ in range(args.rounds):
        results["meditron JatsReader"].append(run_ours(files, args.repeat))
        results["pubmed_parser (3 calls)"].append(run_pubmed_parser(files, args.repeat))

    rows = {}
    for name, runs in results.items():
        seconds, _, num_docs, num_chars = min(runs)
        cpu_seconds = min(run[1] for run in runs)
        rows[name] = {
            "seconds": round(seconds, 3),
            "cpu_seconds": round(cpu_seconds, 3),
            "docs": num_docs,
            "docs_per_s": round(num_docs / seconds, 1),
            "mb_per_s": round(total_mb * args.repeat / seconds, 2),
            "docs_per_cpu_s": round(num_docs / cpu_seconds, 1),
            "output_chars_per_doc": round(num_chars / num_docs),
        }
    ours, peer = rows["meditron JatsReader"], rows["pubmed_parser (3 calls)"]
    ratio = round(ours["docs_per_s"] / peer["docs_per_s"], 2)
    cpu_ratio = round(ours["docs_per_cpu_s"] / peer["docs_per_cpu_s"], 2)
    report = {
        "files": len(files),
        "input_mb": round(total_mb, 3),
        "repeat": args.repeat,
        "rounds": args.rounds,
        "python": platform.python_version(),
        "results": rows,
        "speedup": ratio,
        "speedup_cpu": cpu_ratio,
    }
    print(json.dumps(report, indent=2))
    print()
    print(f"{len(files)} files, {total_mb:.2f} MB, x{args.repeat} per round, best of {args.rounds} rounds")
    print("| tool | docs/s | MB/s | docs per CPU-second | output chars/doc |")
    print("|---|---:|---:|---:|---:|")
    for name, row in rows.items():
        print(
            f"| {name} | {row['docs_per_s']} | {row['mb_per_s']} | {row['docs_per_cpu_s']} "
            f"| {row['output_chars_per_doc']} |"
        )
    print(f"\nspeed-up (docs/s ours / pubmed_parser): {ratio}x wall-clock, {cpu_ratio}x CPU time")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
