"""MEDLINE-format input at any size for ``corpus_scale.py``, built from the real citations in ``../shared/data/pubmed``.

Every real citation that has an abstract is a template. Each generated record is a template with a new PMID and its
title and abstract words perturbed (a seeded share of the words replaced by words drawn from the real abstracts, and
some neighbours swapped), so records are distinct for exact *and* near dedup (two copies of one template share few
5-word shingles) while keeping real lengths, vocabulary, XML structure and structured-abstract labels. Files are
written in the current baseline layout (``<PubmedArticleSet>`` of ``<PubmedArticle>``, gzipped, NLM-style names
``pubmed99n0001.xml.gz`` …) with about ``file_mb`` of XML each.

Planted near-duplicates: pairs (first, copy) where the copy is the first record with one word in 150 changed (5-gram
Jaccard ≥ 0.93, far above the MinHash detection point) and a new PMID, written to a *later, different* file (the next
file for half of the pairs, so the pair spans two tasks whenever there are several, a random later file for the other
half). ``planted.json`` beside the files lists them. Deterministic: same seed and sizes → same bytes.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

PUBMED = Path(__file__).resolve().parents[2] / "shared" / "data" / "pubmed" / "medline"
FIRST_PMID = 90_000_000  # above every real PMID, so no generated id collides with a real one
HEADER = b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE PubmedArticleSet>\n<PubmedArticleSet>\n'
FOOTER = b"</PubmedArticleSet>\n"
_CITATION = re.compile(rb"<MedlineCitation[ >].*?</MedlineCitation>", re.DOTALL)
_FIELDS = re.compile(rb"(<ArticleTitle[^>]*>|<AbstractText[^>]*>)(.*?)(</ArticleTitle>|</AbstractText>)", re.DOTALL)
_OWN_PMID = re.compile(rb"<PMID[^>]*>\s*\d+\s*</PMID>")
_PLAIN_WORD = re.compile(rb"[A-Za-z]{3,}")


@dataclass
class Template:
    """A real citation cut at its PMID and its text fields: ``pieces`` alternate XML bytes and word lists."""

    head: bytes  # everything before the record's own PMID value
    pieces: list[bytes | list[bytes]]
    words: int  # words in the title and abstract

    def render(self, pmid: int, fields: list[list[bytes]]) -> bytes:
        out = [b"<PubmedArticle>", self.head, b'<PMID Version="1">%d</PMID>' % pmid]
        it = iter(fields)
        out += [p if isinstance(p, bytes) else b" ".join(next(it)) for p in self.pieces]
        out.append(b'<PubmedData><ArticleIdList><ArticleId IdType="pubmed">%d</ArticleId></ArticleIdList>'
                   b"</PubmedData></PubmedArticle>\n" % pmid)
        return b"".join(out)

    def fields(self) -> list[list[bytes]]:
        return [p for p in self.pieces if isinstance(p, list)]


def _template(citation: bytes) -> Template | None:
    if b"<Abstract>" not in citation:
        return None
    pmid = _OWN_PMID.search(citation)
    if pmid is None:
        return None
    head, rest = citation[: pmid.start()], citation[pmid.end():]
    pieces: list[bytes | list[bytes]] = []
    last = 0
    for m in _FIELDS.finditer(rest):
        pieces += [rest[last:m.start()] + m.group(1), m.group(2).split()]
        last = m.start(3)
    pieces.append(rest[last:])
    words = sum(len(p) for p in pieces if isinstance(p, list))
    return Template(head, pieces, words) if words >= 60 else None


def load_templates(folder: Path = PUBMED) -> list[Template]:
    """Every citation with an abstract of at least 60 words in the real MEDLINE files."""
    templates = []
    for path in sorted(folder.iterdir()):
        if not path.name.endswith((".xml", ".xml.gz")):
            continue
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        templates += [t for c in _CITATION.findall(raw) if (t := _template(c)) is not None]
    return templates


def _vocabulary(templates: list[Template]) -> list[bytes]:
    return sorted({w for t in templates for f in t.fields() for w in f if _PLAIN_WORD.fullmatch(w)})


def perturb(fields: list[list[bytes]], rng: random.Random, vocab: list[bytes], rate: float) -> list[list[bytes]]:
    """Replace about ``rate`` of the plain words by vocabulary words and swap some neighbours (markup-safe: only
    plain alphabetic words are touched, so entities and inline tags stay intact)."""
    out = []
    for words in fields:
        new = list(words)
        for i, w in enumerate(new):
            if rng.random() < rate and _PLAIN_WORD.fullmatch(w):
                new[i] = rng.choice(vocab)
        for _ in range(len(new) // 20):
            i = rng.randrange(max(1, len(new) - 1))
            if i + 1 < len(new):
                new[i], new[i + 1] = new[i + 1], new[i]
        out.append(new)
    return out


def near_copy(fields: list[list[bytes]], rng: random.Random, vocab: list[bytes]) -> tuple[list[list[bytes]], int]:
    """The same fields with one plain word changed per 150 words of the record (1–3): each edit changes at most 5 of
    the 5-word shingles, so the pair's Jaccard similarity stays ≥ 0.93, where the default MinHash (14 buckets × 8
    hashes, 50% detection at ≈ 0.72) misses a pair with probability < 1e-5. A pair nearer the threshold is a
    question of MinHash's recall curve, not of whether the pipeline compares documents across files and tasks."""
    out = [list(f) for f in fields]
    longest = max(out, key=len)
    plain = [i for i, w in enumerate(longest) if _PLAIN_WORD.fullmatch(w)]
    edits = max(1, min(3, sum(len(f) for f in fields) // 150))
    for i in rng.sample(plain, min(edits, len(plain))):
        longest[i] = rng.choice([v for v in vocab[:50] if v != longest[i]])
    return out, edits


def build_inputs(out: Path, size_mb: float, seed: int = 0, file_mb: float = 25.0, rate: float = 0.35,
                 pairs_per_100mb: int = 20) -> dict:
    """Write ``≈ size_mb`` MB (decompressed XML) of gzipped MEDLINE files and ``planted.json`` into ``out``."""
    templates = load_templates()
    vocab = _vocabulary(templates)
    rng = random.Random(seed)
    target, per_file = int(size_mb * 1e6), int(file_mb * 1e6)
    n_files = max(2, -(-target // per_file))
    per_file = target // n_files
    n_pairs = max(4, int(pairs_per_100mb * size_mb / 100))
    # pair k: first member in file k % (n_files - 1), copy in the next file or a random later one
    plans: dict[int, list[dict]] = {}
    for k in range(n_pairs):
        first_file = k % (n_files - 1)
        copy_file = first_file + 1 if k % 2 == 0 else rng.randrange(first_file + 1, n_files)
        plans.setdefault(first_file, []).append({"pair": k, "copy_file": copy_file})
    pending: dict[int, list[bytes]] = {}
    pmid, records, xml_bytes, pairs, files = FIRST_PMID, 0, 0, [], []
    out.mkdir(parents=True, exist_ok=True)
    for f in range(n_files):
        path = out / f"pubmed99n{f + 1:04d}.xml.gz"
        written = len(HEADER) + len(FOOTER)
        with open(path, "wb") as raw, gzip.GzipFile(path.name[:-3], "wb", 1, raw, mtime=0) as gz:  # no timestamp
            gz.write(HEADER)
            todo = list(plans.get(f, []))
            extra = pending.pop(f, [])
            while written < per_file or todo or extra:
                if extra:
                    blob = extra.pop()
                elif todo:
                    plan = todo.pop()
                    t = rng.choice([t for t in templates if t.words >= 120] or templates)
                    fields = perturb(t.fields(), rng, vocab, rate)
                    copy, edits = near_copy(fields, rng, vocab)
                    blob = t.render(pmid, fields)
                    pending.setdefault(plan["copy_file"], []).append(t.render(pmid + 1, copy))
                    pairs.append({"first": f"pmid{pmid}", "copy": f"pmid{pmid + 1}", "first_file": path.name,
                                  "copy_file": f"pubmed99n{plan['copy_file'] + 1:04d}.xml.gz", "edits": edits})
                    pmid += 2
                else:
                    t = rng.choice(templates)
                    blob = t.render(pmid, perturb(t.fields(), rng, vocab, rate))
                    pmid += 1
                gz.write(blob)
                written += len(blob)
                records += 1
            gz.write(FOOTER)
        xml_bytes += written
        files.append(path)
    facts = {"files": len(files), "records": records, "xml_bytes": xml_bytes,
             "gz_bytes": sum(p.stat().st_size for p in files), "pairs": pairs, "seed": seed, "rate": rate}
    (out / "planted.json").write_text(json.dumps(facts, indent=1), encoding="utf-8")
    return facts
