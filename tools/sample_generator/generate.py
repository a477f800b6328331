"""Rebuild the embedded sample from the hand-written facts in ``facts/`` and the renderers in ``gen/``.

    python -m tools.sample_generator [--out DIR]        # rewrite every sample file (default: in the package)
    python -m tools.sample_generator.build_tokenizer   # then retrain the tokenizer on the result

Deterministic: the same code gives byte-identical files. The planted items that the tests and docs/SAMPLE.md rely on
are chosen here (see ``PLANTS``); change them in both places.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import random
import re
import shutil
from pathlib import Path

from meditron.sample import SAMPLE_DIR
from tools.sample_generator.gen import (
    guidelines,
    medmcqa,
    medqa,
    mmlu,
    pubmed,
    pubmedqa,
    replay,
    studies,
    truthfulqa,
)
from tools.sample_generator.gen.clinical import CONDITIONS
from tools.sample_generator.gen.html_pages import render_page

SEED = 20231116
MMLU_SUBJECTS = ("anatomy", "clinical_knowledge", "college_biology", "college_medicine", "high_school_biology",
                 "medical_genetics", "nutrition", "professional_medicine", "virology")

# Where the planted items go (0-based positions). docs/SAMPLE.md and tests/test_sample.py name the same ones.
PLANTS = {
    "sft_medqa_copy_of_test": 7,  # test item index copied verbatim into the SFT MedQA file
    "sft_medqa_line": 33,  # 1-based line of the copy in sft/medqa/phrases_no_exclude_train.jsonl
    "guideline_with_medqa_test": 12,  # test item index whose question a guideline quotes verbatim
    "guideline_near_duplicate_of": 3,  # row index copied with a few words changed (appended as the last row)
    "guideline_phi": 17,  # row index that carries an e-mail address, a phone and a fax number
    "replay_copy_of_guideline": 42,  # replay-0042's text is the raw_text of the patient page below
    "guideline_plain": 25,  # row index of the plain patient-information page (no references, URLs or end matter)
    "medline_pubmedqa_test": 5,  # citation position that reprints a PubMedQA test abstract (its PMID too)
    "medline_deleted": 9,  # citation position deleted by the update file's <DeleteCitation>
    "medline_reissued": (2, 11),  # citation positions re-issued with revised text in the update file
    "medline_french": 20,
    "medline_no_abstract": 27,
    "medline_jats": (14, 23, 33),  # citation positions that are the abstracts of JATS articles 0, 1, 2
}
NGRAM = 10  # generated corpus text never shares a 10-word run with a test item, except where planted

WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def ngrams(tokens: list[str], n: int = NGRAM) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def _write(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="\n")


def _jsonl(rows: list[dict], **kw) -> str:
    return "".join(json.dumps(r, **kw) + "\n" for r in rows)


def _medmcqa_line(row: dict) -> str:
    # The official dump is PHP-style JSON: compact, ASCII-escaped, with escaped slashes.
    return json.dumps(row, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/")


def _csv(rows: list[tuple]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


class Sample:
    """Builds every part of the sample from one seed; parts share PMIDs and planted items."""

    def __init__(self, out: Path = SAMPLE_DIR, seed: int = SEED) -> None:
        self.out = out
        self.rng = random.Random(seed)
        pool = self.rng.sample(range(15_000_000, 38_000_000), 200)
        self.pmids = [str(p) for p in pool]
        self.medqa = medqa.build(seed)
        self.medmcqa = medmcqa.build(seed)
        taken: set[tuple[str, int, int]] = set()
        srng = random.Random(seed + 1)
        pqal_decisions = ["yes", "yes", "no", "no", "yes", "yes", "maybe", "no"]  # test = even positions
        self.pqal = studies.draw_many(40, srng, taken, pqal_decisions)
        avoid = {(st.domain, st.population, st.outcome) for st in self.pqal}
        avoid |= {(st.domain, st.population, st.intervention) for st in self.pqal}
        self.pqaa = studies.draw_many(40, srng, taken, ["yes", "yes", "yes", "no"])
        self.medline_studies = studies.draw_many(37, srng, taken, ["yes", "no", "maybe"], avoid)
        self.jats_studies = studies.draw_many(10, srng, taken, ["yes", "no", "yes", "maybe"], avoid)
        self.pqal_pmids = self.pmids[:40]
        self.pqaa_pmids = self.pmids[40:80]
        self.medline_pmids = self.pmids[80:117]
        self.jats_pmids = self.pmids[117:127]

    # ---------------------------------------------------------------- benchmarks
    def benchmarks(self) -> None:
        b = self.out / "benchmarks"
        m = self.medqa
        _write(b / "medqa/questions/US/4_options/phrases_no_exclude_test.jsonl",
               _jsonl(m["test4"], ensure_ascii=False))
        _write(b / "medqa/questions/US/4_options/phrases_no_exclude_train.jsonl",
               _jsonl(m["train4"][:20], ensure_ascii=False))
        _write(b / "medqa/questions/US/test.jsonl", _jsonl(m["test5"], ensure_ascii=False))
        _write(b / "medqa/questions/US/train.jsonl", _jsonl(m["train5"][:10], ensure_ascii=False))

        rows = self.medmcqa
        dev = [dict(r) for r in rows[:40]]
        for i, r in enumerate(dev):  # about a third of the official dev explanations are null
            if i % 3 == 2:
                r["exp"] = None
        _write(b / "medmcqa/dev.json", "".join(_medmcqa_line(r) + "\n" for r in dev))
        _write(b / "medmcqa/train.json", "".join(_medmcqa_line(r) + "\n" for r in rows[40:60]))

        prng = random.Random(SEED + 2)
        pqal = {pmid: pubmedqa.pqal_item(s, prng) for pmid, s in zip(self.pqal_pmids, self.pqal, strict=True)}
        _write(b / "pubmedqa/ori_pqal.json", json.dumps(pqal, indent=4))
        truth = {pmid: pqal[pmid]["final_decision"] for pmid in self.pqal_pmids[::2]}
        _write(b / "pubmedqa/test_ground_truth.json", json.dumps(truth, indent=4))
        self.pqal_items = pqal

        for subject in MMLU_SUBJECTS:
            rows_ = mmlu.rows(subject)
            _write(b / f"mmlu/{subject}_test.csv", _csv(rows_[:8]))
            _write(b / f"mmlu/{subject}_dev.csv", _csv(rows_[8:]))

        _write(b / "truthfulqa/TruthfulQA.csv", truthfulqa.csv_text())
        _write(b / "truthfulqa/data/mc_task.json", truthfulqa.mc_task_text(SEED + 8))

    # ---------------------------------------------------------------- finetuning sets
    def sft(self) -> None:
        s = self.out / "sft"
        train = list(self.medqa["train4"][:59])
        copy = dict(self.medqa["test4"][PLANTS["sft_medqa_copy_of_test"]])
        train.insert(PLANTS["sft_medqa_line"] - 1, copy)
        _write(s / "medqa/phrases_no_exclude_train.jsonl", _jsonl(train, ensure_ascii=False))
        _write(s / "medmcqa/train.json", "".join(_medmcqa_line(r) + "\n" for r in self.medmcqa[40:100]))
        prng = random.Random(SEED + 3)
        pqaa = {pmid: pubmedqa.pqaa_item(st, prng) for pmid, st in zip(self.pqaa_pmids, self.pqaa, strict=True)}
        _write(s / "pubmedqa/ori_pqaa.json", json.dumps(pqaa, indent=4))

    # ---------------------------------------------------------------- decontamination of the generated text
    def test_ngrams(self) -> set[tuple[str, ...]]:
        """10-grams of every benchmark *test* item: generated corpus text must not contain any (planted aside)."""
        texts = []
        for item in self.medqa["test4"] + self.medqa["test5"]:
            texts += [item["question"], *item["options"].values()]
        for r in self.medmcqa[:40]:
            texts += [r["question"], r["opa"], r["opb"], r["opc"], r["opd"]]
        for pmid in self.pqal_pmids[::2]:
            it = self.pqal_items[pmid]
            texts += [it["QUESTION"], *it["CONTEXTS"], it["LONG_ANSWER"]]
        for subject in MMLU_SUBJECTS:
            for row in mmlu.rows(subject)[:8]:
                texts.append(" ".join(row[:5]))
        grams: set[tuple[str, ...]] = set()
        for t in texts:
            grams |= ngrams(words(t))
        return grams

    def scrub_sentences(self, text: str) -> str:
        """Drop every sentence of ``text`` that a test-item 10-gram touches (runs across sentence ends included)."""
        parts = re.split(r"(?<=[.;])\s+(?=[A-Z<\[])", text)
        while True:
            toks = [(w, i) for i, p in enumerate(parts) for w in words(re.sub(r"<[^>]+>", " ", p))]
            bad: set[int] = set()
            for j in range(len(toks) - NGRAM + 1):
                window = toks[j : j + NGRAM]
                if tuple(w for w, _ in window) in self.grams:
                    bad |= {i for _, i in window}
            if not bad:
                return " ".join(parts)
            parts = [p for i, p in enumerate(parts) if i not in bad]

    def scrub_lines(self, text: str) -> str:
        """Drop guideline lines until no 10-gram of the whole page (bullets removed) matches a test item."""
        lines = text.split("\n")
        while True:
            toks: list[tuple[str, int]] = [(w, i) for i, line in enumerate(lines) for w in words(line)
                                           if not (w == "o" and line.lstrip().startswith("o "))]
            bad = {toks[j][1] for j in range(len(toks) - NGRAM + 1)
                   if tuple(w for w, _ in toks[j : j + NGRAM]) in self.grams}
            if not bad:
                return "\n".join(lines)
            lines = [line for i, line in enumerate(lines) if i not in bad]

    def pubmedqa_plant_pmid(self) -> str:
        """The first PubMedQA test item sharing no 10-gram with any other test item, so the reprint of its abstract
        in the MEDLINE file contaminates exactly one benchmark item."""
        test = self.pqal_pmids[::2]

        def g(pmid: str) -> set:
            it = self.pqal_items[pmid]
            return ngrams(words(" ".join([it["QUESTION"], *it["CONTEXTS"], it["LONG_ANSWER"]])))

        for pmid in test:
            if not any(g(pmid) & g(other) for other in test if other != pmid):
                return pmid
        raise AssertionError("no PubMedQA test item is free of shared 10-grams")

    # ---------------------------------------------------------------- guidelines
    def guideline_rows(self) -> list[dict]:
        rng = random.Random(SEED + 4)
        test_keys = self.medqa["test_keys"]
        planted_key = test_keys[PLANTS["guideline_with_medqa_test"]]
        conds = sorted(CONDITIONS, key=lambda c: c.key)
        rng.shuffle(conds)
        conds = [c for c in conds if c.key != planted_key]
        chosen = conds[:28]
        chosen.insert(PLANTS["guideline_with_medqa_test"] % 28, next(c for c in CONDITIONS if c.key == planted_key))
        chosen = chosen[:29]
        self.html_conditions = [c for c in conds if c not in chosen][:6]
        rows = []
        for i, cond in enumerate(chosen):
            source = guidelines.SOURCES[i % len(guidelines.SOURCES)]
            case = "@@CASE@@" if cond.key == planted_key else ""
            for _attempt in range(100):  # redraw the wording until the page fits 1,500-4,700 characters
                if i == PLANTS["guideline_plain"]:
                    row = guidelines.render_plain(cond, source, rng)
                else:
                    row = guidelines.render(cond, source, rng, extra_case=case, contact=i == PLANTS["guideline_phi"])
                raw = self.scrub_lines(row["raw_text"])
                if 1500 <= len(raw) <= 4700:
                    break
            else:
                raise AssertionError(f"guideline {i} ({cond.key}) never fits 1,500-4,700 characters")
            if case:
                question = self.medqa["test4"][PLANTS["guideline_with_medqa_test"]]["question"]
                raw = raw.replace("@@CASE@@", question)
                self.planted_guideline_id = row["id"]
            row["raw_text"] = raw
            if i % 3 == 1 and i != PLANTS["guideline_plain"]:
                row["clean_text"] = guidelines.simple_clean(raw)
            if i % 5 == 2 and i != PLANTS["guideline_plain"]:
                row["overview"] = raw.split("\n\n")[3][:400]
            rows.append(row)
        src = rows[PLANTS["guideline_near_duplicate_of"]]
        near = {k: v for k, v in src.items() if k not in ("clean_text", "overview")}
        text = guidelines.reword(src["raw_text"])
        near.update(id=hashlib.sha1(("republished:" + src["id"]).encode()).hexdigest(), source="wikidoc",
                    url=src["url"].replace(src["source"], "wikidoc"), raw_text=text)
        rows.append(near)
        return rows

    def corpus(self) -> None:
        self.grams = self.test_ngrams()
        pubmed.set_scrubber(self.scrub_sentences)
        rows = self.guideline_rows()
        self.guideline_rows_ = rows
        _write(self.out / "guidelines/guidelines.jsonl", _jsonl(rows, ensure_ascii=False))
        self.html_pages()
        self.replay(rows)
        self.jats()
        self.medline()

    def html_pages(self) -> None:
        rng = random.Random(SEED + 5)
        for i, cond in enumerate(self.html_conditions):
            row = guidelines.render(cond, "nhg", rng)  # the pages of one site, "Northfield Health Guidance"
            md = self.scrub_lines(row["raw_text"])
            encoding = {0: "windows-1252", 1: "utf-8-mojibake"}.get(i, "utf-8")
            data = render_page(row["title"], md, encoding, rng, page=i)
            _write(self.out / f"guidelines/html/{i + 1:02d}-{guidelines.slug(cond.dx)}.html", data)

    def replay(self, rows: list[dict]) -> None:
        docs = replay.build(SEED)
        plain = rows[PLANTS["guideline_plain"]]
        docs[PLANTS["replay_copy_of_guideline"] - 1]["text"] = plain["raw_text"]
        self.replay_copied_guideline_id = plain["id"]
        _write(self.out / "replay/replay.jsonl", _jsonl(docs, ensure_ascii=False))

    # ---------------------------------------------------------------- PMC JATS
    def jats(self) -> None:
        rng = random.Random(SEED + 6)
        layout = [("jats1.2", "cc-by-4.0"), ("jats1.2", "cc-by-nc-4.0"), ("jats1.1", "cc0"),
                  ("jats1.0", "all-rights-reserved"), ("nlm3.0", "cc-by-4.0-ali"), ("nlm2.3", "cc-by-2.0"),
                  ("nlm2.3", "bare"), ("jats1.1", "cc-by-4.0"), ("jats1.2", "cc-by-4.0"), ("jats1.2", "cc-by-nc-4.0")]
        self.jats_meta = []
        arts = []
        for i, (s, pmid) in enumerate(zip(self.jats_studies, self.jats_pmids, strict=True)):
            dtd, licence = layout[i]
            pmcid = f"PMC{rng.randint(3_000_000, 10_900_000)}"
            doi = f"10.{rng.randint(1000, 9999)}/journal.{rng.randint(100000, 999999)}"
            sections = pubmed.abstract_sections(s, rng)
            art = pubmed.jats_article(s, pmid, pmcid.removeprefix("PMC"), doi, rng, dtd=dtd, licence=licence,
                                      article_type="research-article" if i != 6 else "brief-report",
                                      sections=sections)
            self.jats_meta.append({"pmid": pmid, "pmcid": pmcid, "doi": doi, "title": s.title.rstrip("."),
                                   "sections": sections, "study": s})
            arts.append((dtd, art))
        for i, (dtd, art) in enumerate(arts[:8]):
            _write(self.out / f"pubmed/jats/{self.jats_meta[i]['pmcid']}.nxml", pubmed.jats_file(art, dtd))
        _write(self.out / "pubmed/jats/efetch_pmc_articleset.xml", pubmed.efetch_file([a for _, a in arts[8:]]))

    # ---------------------------------------------------------------- MEDLINE
    def medline(self) -> None:
        rng = random.Random(SEED + 7)
        cites: list[tuple[str, dict]] = []  # (pmid, kwargs for medline_citation)
        own = iter(zip(self.medline_pmids, self.medline_studies, strict=False))
        jats_pos = dict(zip(PLANTS["medline_jats"], range(3), strict=True))
        for pos in range(40):
            if pos in jats_pos:
                m = self.jats_meta[jats_pos[pos]]
                cites.append((m["pmid"], dict(title=m["title"] + ".", sections=m["sections"], s=m["study"],
                                              pmc=m["pmcid"], doi=m["doi"])))
            elif pos == PLANTS["medline_pubmedqa_test"]:
                pmid = self.pubmedqa_plant_pmid()
                it = self.pqal_items[pmid]
                st = self.pqal[self.pqal_pmids.index(pmid)]
                secs = list(zip(it["LABELS"], it["CONTEXTS"], strict=True)) + [("CONCLUSIONS", it["LONG_ANSWER"])]
                cites.append((pmid, dict(title=st.title, sections=secs, s=st)))
            elif pos == PLANTS["medline_french"]:
                pmid, _ = next(own)
                cites.append((pmid, dict(title=pubmed.FRENCH["title"], sections=pubmed.FRENCH["sections"], s=None,
                                         language="fre", vernacular=pubmed.FRENCH["vernacular"],
                                         mesh=pubmed.FRENCH["mesh"], year=2021,
                                         pubtypes=(("D016428", "Journal Article"),
                                                   ("D064888", "Observational Study")))))
            elif pos == PLANTS["medline_no_abstract"]:
                pmid, st = next(own)
                target = self.jats_meta[0]
                cites.append((pmid, dict(title=f"Comment on: {target['title']}.", sections=None, s=None,
                                         comment_on=f"J Appl Clin Stud. {target['study'].year}",
                                         pubtypes=(("D016420", "Comment"), ("D016422", "Letter")),
                                         mesh=["Humans"])))
            else:
                pmid, st = next(own)
                cites.append((pmid, dict(title=st.title, sections=pubmed.abstract_sections(st, rng), s=st,
                                         structured=pos % 4 != 1, medline_date=pos % 7 == 3)))
        self.medline_cites = cites
        xml = [pubmed.medline_citation(pmid, rng=random.Random(int(pmid)), **kw) for pmid, kw in cites]
        _write(self.out / "pubmed/medline/pubmed24_sample.xml", pubmed.medline_file(xml))
        updates = []
        for pos in PLANTS["medline_reissued"]:
            pmid, kw = cites[pos]
            kw = dict(kw)
            kw["title"] = kw["title"].rstrip(".") + " (revised)."
            secs = list(kw["sections"])
            label, text = secs[-1]
            secs[-1] = (label, text + " These findings were confirmed in a sensitivity analysis added at revision.")
            kw["sections"] = secs
            kw["revised_year"] = 2024
            updates.append(pubmed.medline_citation(pmid, rng=random.Random(int(pmid)), **kw))
        deleted = cites[PLANTS["medline_deleted"]][0]
        data = pubmed.medline_file(updates, delete=[deleted]).encode("utf-8")
        _write(self.out / "pubmed/medline/pubmed24_update.xml.gz", gzip.compress(data, mtime=0))

    def planted(self) -> dict:
        """The ids of the planted items, as docs/SAMPLE.md lists them."""
        test = self.medqa["test4"][PLANTS["sft_medqa_copy_of_test"]]
        rows = self.guideline_rows_
        return {
            "sft_medqa_line": PLANTS["sft_medqa_line"],
            "sft_medqa_copies_test_line": PLANTS["sft_medqa_copy_of_test"] + 1,
            "sft_medqa_question_start": test["question"][:60],
            "guideline_with_medqa_test": self.planted_guideline_id,
            "guideline_with_medqa_test_line": PLANTS["guideline_with_medqa_test"] + 1,
            "guideline_near_duplicate": [rows[PLANTS["guideline_near_duplicate_of"]]["id"], rows[-1]["id"]],
            "guideline_phi": rows[PLANTS["guideline_phi"]]["id"],
            "replay_copy": [f"replay-{PLANTS['replay_copy_of_guideline']:04d}", self.replay_copied_guideline_id],
            "medline_pubmedqa_test_pmid": self.pubmedqa_plant_pmid(),
            "medline_deleted_pmid": self.medline_cites[PLANTS["medline_deleted"]][0],
            "medline_reissued_pmids": [self.medline_cites[p][0] for p in PLANTS["medline_reissued"]],
            "medline_french_pmid": self.medline_cites[PLANTS["medline_french"]][0],
            "medline_no_abstract_pmid": self.medline_cites[PLANTS["medline_no_abstract"]][0],
            "medline_with_jats": [(self.jats_meta[i]["pmid"], self.jats_meta[i]["pmcid"]) for i in range(3)],
            "jats_files": [m["pmcid"] for m in self.jats_meta[:8]],
            "efetch_pmcids": [m["pmcid"] for m in self.jats_meta[8:]],
        }

    def build(self, parts: tuple[str, ...] = ("benchmarks", "sft", "corpus")) -> None:
        """Write the parts; generated folders are emptied first so renamed files leave nothing stale behind."""
        folders = {"benchmarks": ("benchmarks",), "sft": ("sft",), "corpus": ("guidelines", "pubmed", "replay")}
        for part in parts:
            for folder in folders[part]:
                shutil.rmtree(self.out / folder, ignore_errors=True)
        for part in parts:
            getattr(self, part)()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Rebuild the embedded sample (byte-identical for the same facts).")
    parser.add_argument("--out", type=Path, default=SAMPLE_DIR, help="where to write it (default: %(default)s)")
    args = parser.parse_args(argv)
    sample = Sample(out=args.out)
    sample.build()
    print(json.dumps(sample.planted(), indent=2))
    print(f"sample written to {args.out}")


if __name__ == "__main__":
    main()
