"""The embedded sample: files in the official layouts with exact counts, parseable, self-consistent, reproducible
from its generator, and with the planted items exactly where docs/SAMPLE.md says."""

from __future__ import annotations

import csv
import difflib
import gzip
import io
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from lxml import etree
from lxml import html as lxml_html

from meditron._base import ConfigPath, ConfigPathText, StrictModel
from meditron.sample import SAMPLE_DIR

S = SAMPLE_DIR
MEDQA = S / "benchmarks/medqa/questions/US"
MMLU_SUBJECTS = ("anatomy", "clinical_knowledge", "college_biology", "college_medicine", "high_school_biology",
                 "medical_genetics", "nutrition", "professional_medicine", "virology")
XML_PARSER = etree.XMLParser(load_dtd=False, no_network=True, resolve_entities=False)
WORD = re.compile(r"\w+")

# The planted items, as listed in docs/SAMPLE.md.
SFT_MEDQA_COPY_LINE = 33
MEDQA_TEST_COPIED_LINE = 8
GUIDELINE_WITH_MEDQA_TEST = "8c299724d70e8d88596a08005e2e3425f56a06c2"
MEDQA_TEST_IN_GUIDELINE_LINE = 13
NEAR_DUPLICATE = ("41f0318460cc53a8bff8cf8b8aa6072d1a6a4164", "089aa8cc7eef75ffe94f81450b02a6418d557ebd")
GUIDELINE_PHI = "c9a174c3e42635db88a1d28303dd960b83df33ec"
REPLAY_COPY = ("replay-0042", "fa3f1aa08338b8c40501e5aa4d3616fc88482a05")
MEDLINE_PUBMEDQA_PMID = "32426592"
MEDLINE_DELETED = "31586856"
MEDLINE_REISSUED = ("29808422", "26485724")
MEDLINE_FRENCH = "17184222"
MEDLINE_NO_ABSTRACT = "29584251"
JATS_WITH_ABSTRACT = {"21658036": "PMC10713870", "25077762": "PMC7522994", "23785173": "PMC9227431"}


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    w = words(text)
    return {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}


def xml(path: Path) -> etree._Element:
    data = path.read_bytes()
    return etree.fromstring(gzip.decompress(data) if path.suffix == ".gz" else data, XML_PARSER)


# ------------------------------------------------------------------------------------------------ benchmarks
def test_medqa_files_layout_and_counts():
    counts = {MEDQA / "4_options/phrases_no_exclude_test.jsonl": (30, "ABCD"),
              MEDQA / "4_options/phrases_no_exclude_train.jsonl": (20, "ABCD"),
              MEDQA / "test.jsonl": (30, "ABCDE"), MEDQA / "train.jsonl": (10, "ABCDE"),
              S / "sft/medqa/phrases_no_exclude_train.jsonl": (60, "ABCD")}
    for path, (n, letters) in counts.items():
        items = jsonl(path)
        assert len(items) == n, path
        for item in items:
            keys = {"question", "answer", "options", "meta_info", "answer_idx"}
            assert set(item) == keys | ({"metamap_phrases"} if "4_options" in str(path) or "sft" in str(path) else set())
            assert list(item["options"]) == list(letters)
            assert item["answer_idx"] in item["options"]
            assert item["answer"] == item["options"][item["answer_idx"]]
            assert item["meta_info"] in ("step1", "step2&3")
            assert len(set(item["options"].values())) == len(letters)
        spread = Counter(item["answer_idx"] for item in items)
        if n >= 20:
            assert max(spread.values()) - min(spread.values()) <= 2, (path, spread)
    test4, test5 = jsonl(MEDQA / "4_options/phrases_no_exclude_test.jsonl"), jsonl(MEDQA / "test.jsonl")
    assert [q["question"] for q in test4] == [q["question"] for q in test5]  # the 4-option set derives from the 5
    assert all(q["metamap_phrases"] and all(isinstance(p, str) for p in q["metamap_phrases"]) for q in test4)
    assert len({q["question"] for q in test4}) == 30


def test_medmcqa_json_lines_layout():
    dev = jsonl(S / "benchmarks/medmcqa/dev.json")
    train = jsonl(S / "benchmarks/medmcqa/train.json")
    sft = jsonl(S / "sft/medmcqa/train.json")
    assert (len(dev), len(train), len(sft)) == (40, 20, 60)
    keys = {"question", "exp", "cop", "opa", "opb", "opc", "opd", "subject_name", "topic_name", "id", "choice_type"}
    for row in dev + train + sft:
        assert set(row) == keys
        assert row["cop"] in (1, 2, 3, 4)
        assert row["choice_type"] in ("single", "multi")
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", row["id"])
    assert all(row["exp"] for row in sft)
    assert sum(row["exp"] is None for row in dev) == 13  # the official dev set has null explanations too
    assert len({r["id"] for r in dev + sft}) == 100 and not {r["id"] for r in dev} & {r["id"] for r in sft}
    assert Counter(r["cop"] for r in dev) == {1: 10, 2: 10, 3: 10, 4: 10}
    files = ("benchmarks/medmcqa/dev.json", "benchmarks/medmcqa/train.json", "sft/medmcqa/train.json")
    texts = [(S / f).read_text() for f in files]
    assert all("/" not in t.replace("\\/", "") for t in texts)  # slashes escaped, like the official dump
    assert any("\\/" in t for t in texts)


def test_pubmedqa_layout_and_ground_truth():
    pqal = json.loads((S / "benchmarks/pubmedqa/ori_pqal.json").read_text())
    truth = json.loads((S / "benchmarks/pubmedqa/test_ground_truth.json").read_text())
    pqaa = json.loads((S / "sft/pubmedqa/ori_pqaa.json").read_text())
    assert (len(pqal), len(truth), len(pqaa)) == (40, 20, 40)
    full = ["QUESTION", "CONTEXTS", "LABELS", "MESHES", "YEAR", "reasoning_required_pred", "reasoning_free_pred",
            "final_decision", "LONG_ANSWER"]
    for pmid, item in pqal.items():
        assert pmid.isdigit() and list(item) == full
        assert len(item["CONTEXTS"]) == len(item["LABELS"]) >= 3
        assert item["final_decision"] in ("yes", "no", "maybe") and item["YEAR"].isdigit()
    assert set(truth) <= set(pqal)
    assert all(truth[p] == pqal[p]["final_decision"] for p in truth)
    assert set(truth.values()) == {"yes", "no", "maybe"}
    for pmid, item in pqaa.items():
        assert list(item) == [k for k in full if not k.startswith("reasoning")]
        assert pmid not in pqal
    assert not {pqal[p]["QUESTION"] for p in pqal} & {pqaa[p]["QUESTION"] for p in pqaa}


def test_mmlu_csvs_for_all_nine_subjects():
    multiline = quoted = 0
    for subject in MMLU_SUBJECTS:
        for split, n in (("test", 8), ("dev", 3)):
            text = (S / f"benchmarks/mmlu/{subject}_{split}.csv").read_text(encoding="utf-8")
            rows = list(csv.reader(io.StringIO(text)))
            assert len(rows) == n, (subject, split)
            assert all(len(r) == 6 and r[5] in "ABCD" and all(r) for r in rows)
            multiline += sum("\n" in f for r in rows for f in r)
            quoted += sum('"' in f and "," in f for r in rows for f in r)
        letters = [r[5] for r in csv.reader(io.StringIO((S / f"benchmarks/mmlu/{subject}_test.csv").read_text()))]
        assert Counter(letters) == {"A": 2, "B": 2, "C": 2, "D": 2}
    assert multiline >= 1 and quoted >= 1


# ------------------------------------------------------------------------------------------------ corpus
def test_guidelines_jsonl_layout():
    rows = jsonl(S / "guidelines/guidelines.jsonl")
    assert len(rows) == 30 and len({r["id"] for r in rows}) == 30
    assert {r["source"] for r in rows} >= {"who", "nice", "cdc", "icrc", "spor"}
    often = o_bullets = 0
    for r in rows:
        assert set(r) - {"clean_text", "overview"} == {"id", "source", "title", "url", "raw_text"}
        text = r["raw_text"]
        assert 1500 <= len(text) <= 5000, r["id"]
        if r["id"] == REPLAY_COPY[1]:  # the plain patient page: nothing for the cleaners to change
            assert not re.search(r"\[\d+\]|https?://|^#{3,} |^\s+o |References|Disclaimer", text, re.M)
            continue
        assert re.search(r"^#{1,2} ", text, re.M) and re.search(r"^#{3,5} ", text, re.M)
        assert re.search(r"\[\d+\]", text) and "https://" in text and re.search(r"\]\(https://", text)
        assert re.search(r"^#+ References$", text, re.M) and re.search(r"^#+ Disclaimer$", text, re.M)
        assert re.search(r"^[-*•] ", text, re.M)
        often += bool(re.search(r"^often ", text, re.M))
        o_bullets += bool(re.search(r"^\s+o \w", text, re.M))
    assert often >= 10 and o_bullets >= 19
    assert sum("clean_text" in r for r in rows) >= 5 and sum("overview" in r for r in rows) >= 3


def test_guideline_html_pages_and_encodings():
    ftfy = pytest.importorskip("ftfy")
    pages = sorted((S / "guidelines/html").glob("*.html"))
    assert len(pages) == 6
    for page in pages:
        raw = page.read_bytes()
        cp1252 = b"charset=windows-1252" in raw
        text = raw.decode("cp1252" if cp1252 else "utf-8")
        for marker in ("Skip to content", "cookies", "<nav", "<main", "<footer", "References", "Acknowledgements"):
            assert marker in text, (page.name, marker)
        assert lxml_html.fromstring(raw).find(".//article") is not None
    old = (S / "guidelines/html/01-primary-adrenal-insufficiency.html").read_bytes()
    assert b"charset=windows-1252" in old and b"\x92" in old and b"\xb5" in old and b"\xb0" in old
    with pytest.raises(UnicodeDecodeError):
        old.decode("utf-8")
    decoded = old.decode("cp1252")
    assert "O’Connor" in decoded and "µg" in decoded and "°C" in decoded
    moji = (S / "guidelines/html/02-acute-pyelonephritis.html").read_text(encoding="utf-8")
    assert "Oâ€™Connor" in moji and "HÃ©lÃ¨ne" in moji and "Âµg" in moji
    fixed = ftfy.fix_text(moji)
    assert "O'Connor" in fixed.replace("’", "'") and "Hélène" in fixed and "µg" in fixed
    assert "Ã" not in fixed and "â€" not in fixed


def test_medline_sample_and_update():
    head = (S / "pubmed/medline/pubmed24_sample.xml").read_text(encoding="utf-8")[:300]
    assert "pubmed_240101.dtd" in head and "<!DOCTYPE PubmedArticleSet" in head
    root = xml(S / "pubmed/medline/pubmed24_sample.xml")
    arts = root.findall("PubmedArticle")
    assert len(arts) == 40
    pmids = [a.findtext("MedlineCitation/PMID") for a in arts]
    assert len(set(pmids)) == 40
    by_pmid = dict(zip(pmids, arts, strict=True))
    structured = [a for a in arts if a.find(".//AbstractText[@NlmCategory]") is not None]
    plain = [a for a in arts if a.find(".//AbstractText") is not None and a.find(".//AbstractText[@Label]") is None]
    assert len(structured) >= 25 and len(plain) >= 5
    assert len(root.findall(".//MedlineDate")) >= 3
    assert by_pmid[MEDLINE_FRENCH].findtext(".//Language") == "fre"
    assert "mobilisation" in "".join(by_pmid[MEDLINE_FRENCH].find(".//Abstract").itertext())
    assert by_pmid[MEDLINE_NO_ABSTRACT].find(".//Abstract") is None
    assert [a.findtext(".//Language") for a in arts].count("eng") == 39
    assert all(a.find(".//PublicationTypeList/PublicationType") is not None for a in arts)
    assert all(a.find(".//MeshHeadingList/MeshHeading") is not None for a in arts)

    update = xml(S / "pubmed/medline/pubmed24_update.xml.gz")
    reissued = [a.findtext("MedlineCitation/PMID") for a in update.findall("PubmedArticle")]
    assert tuple(reissued) == MEDLINE_REISSUED
    assert [p.text for p in update.findall("DeleteCitation/PMID")] == [MEDLINE_DELETED]
    assert MEDLINE_DELETED in pmids and not set(reissued) & {MEDLINE_DELETED}
    for art in update.findall("PubmedArticle"):
        old = by_pmid[art.findtext("MedlineCitation/PMID")]
        assert art.findtext(".//ArticleTitle") != old.findtext(".//ArticleTitle")


def _articles() -> dict[str, etree._Element]:
    out = {}
    for path in sorted((S / "pubmed/jats").glob("*.nxml")):
        out[path.stem] = xml(path)
    root = xml(S / "pubmed/jats/efetch_pmc_articleset.xml")
    assert root.tag == "pmc-articleset"
    for art in root.findall("article"):
        out["PMC" + art.findtext(".//article-id[@pub-id-type='pmc']")] = art
    return out


def test_jats_articles_layout():
    arts = _articles()
    assert len(arts) == 10 and len(list((S / "pubmed/jats").glob("*.nxml"))) == 8
    doctypes = {p.read_text(encoding="utf-8").split("\n", 1)[0] for p in (S / "pubmed/jats").glob("*.nxml")}
    assert any("JATS (Z39.96) Journal Archiving and Interchange DTD v1.2" in d for d in doctypes)
    assert any("DTD v2.3" in d for d in doctypes) and any("DTD v3.0" in d for d in doctypes)
    licences = set()
    citation_kinds = Counter()
    mml = "{http://www.w3.org/1998/Math/MathML}math"
    for pmcid, art in arts.items():
        for kind in ("pmid", "pmc", "doi"):
            assert art.findtext(f".//article-meta/article-id[@pub-id-type='{kind}']"), (pmcid, kind)
        assert art.find(".//contrib-group/contrib/name/surname") is not None and art.find(".//aff") is not None
        assert art.find(".//author-notes/corresp") is not None and art.find(".//abstract") is not None
        body = art.find("body")
        assert 2000 <= len("".join(body.itertext())) <= 8000, pmcid
        assert body.find("sec/sec/title") is not None
        for ref_type in ("bibr", "fig", "table"):
            assert body.find(f".//xref[@ref-type='{ref_type}']") is not None
        assert body.find(".//fig/caption") is not None and body.find(".//table-wrap/caption") is not None
        assert body.find(f".//disp-formula/{mml}") is not None and body.find(".//disp-formula/tex-math") is not None
        refs = art.findall("back/ref-list/ref")
        assert len(refs) == 9 and sum(r.find(".//article-title") is None for r in refs) == 1
        for r in refs:
            citation_kinds[r[1].tag] += 1
        assert art.find("back/ack") is not None and art.find("back/fn-group") is not None
        lic = art.find(".//license")
        licences.add(lic.get("{http://www.w3.org/1999/xlink}href") if lic is not None else
                     art.findtext(".//copyright-statement"))
    assert set(citation_kinds) == {"citation", "element-citation", "mixed-citation"}
    assert "https://creativecommons.org/licenses/by/4.0/" in licences
    assert "https://creativecommons.org/licenses/by-nc/4.0/" in licences
    assert "https://creativecommons.org/publicdomain/zero/1.0/" in licences
    assert any(x and "All rights reserved" in x for x in licences)


def test_three_medline_citations_have_jats_full_text():
    arts = _articles()
    medline = {a.findtext("MedlineCitation/PMID"): a for a in xml(S / "pubmed/medline/pubmed24_sample.xml")}
    pmid_of = {pmcid: a.findtext(".//article-id[@pub-id-type='pmid']") for pmcid, a in arts.items()}
    shared = {p: c for c, p in pmid_of.items() if p in medline}
    assert shared == JATS_WITH_ABSTRACT
    for pmid, pmcid in shared.items():
        assert medline[pmid].findtext(".//ArticleId[@IdType='pmc']") == pmcid
        first = medline[pmid].findtext(".//AbstractText")
        assert first in "".join(arts[pmcid].find(".//abstract").itertext())


def test_replay_documents():
    docs = jsonl(S / "replay/replay.jsonl")
    assert len(docs) == 80 and [d["id"] for d in docs] == [f"replay-{i:04d}" for i in range(1, 81)]
    assert all(set(d) == {"id", "text"} for d in docs)
    assert all(300 <= len(d["text"]) <= 2000 for d in docs if d["id"] != REPLAY_COPY[0])
    assert len({d["text"] for d in docs}) == 80


def test_truthfulqa_files_layout_and_counts():
    """TruthfulQA v1's two files: CSV with a BOM and the official header, mc_task.json in another order, joined."""
    raw = (S / "benchmarks/truthfulqa/TruthfulQA.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert list(rows[0]) == ["Type", "Category", "Question", "Best Answer", "Correct Answers", "Incorrect Answers",
                             "Source"]
    assert Counter(r["Category"] for r in rows) == {"Health": 3, "Nutrition": 2, "Psychology": 2, "Science": 2,
                                                    "Misconceptions": 1, "Law": 1, "Superstitions": 1}
    assert [r["Question"] for r in rows if r["Question"] != r["Question"].strip()] == [
        "In the United States, must you wait a day before reporting a missing person? "]
    text = (S / "benchmarks/truthfulqa/data/mc_task.json").read_text(encoding="utf-8")
    mc = json.loads(text)
    assert text == json.dumps(mc, indent=2)
    by_question = {e["question"]: e for e in mc}
    assert len(mc) == 12 and set(by_question) == {r["Question"].strip() for r in rows}
    assert list(by_question) != [r["Question"].strip() for r in rows]
    for r in rows:
        e = by_question[r["Question"].strip()]
        assert list(e["mc1_targets"].items())[0] == (r["Best Answer"] + ".", 1)
        assert sum(e["mc1_targets"].values()) == 1
        assert [t for t, v in e["mc2_targets"].items() if v] == [a + "." for a in r["Correct Answers"].split("; ")]
        wrong = [a + "." for a in r["Incorrect Answers"].split("; ")]
        assert [t for t, v in e["mc2_targets"].items() if not v] == wrong


# ------------------------------------------------------------------------------------------------ planted items
def _test_items() -> list[tuple[str, str]]:
    items = []
    for i, q in enumerate(jsonl(MEDQA / "4_options/phrases_no_exclude_test.jsonl"), start=1):
        items.append((f"medqa4:{i}", q["question"] + " " + " ".join(q["options"].values())))
    for r in jsonl(S / "benchmarks/medmcqa/dev.json"):
        items.append((f"medmcqa:{r['id']}", " ".join([r["question"], r["opa"], r["opb"], r["opc"], r["opd"]])))
    pqal = json.loads((S / "benchmarks/pubmedqa/ori_pqal.json").read_text())
    for pmid in json.loads((S / "benchmarks/pubmedqa/test_ground_truth.json").read_text()):
        items.append((f"pubmedqa:{pmid}", " ".join([pqal[pmid]["QUESTION"], *pqal[pmid]["CONTEXTS"]])))
    for subject in MMLU_SUBJECTS:
        for k, row in enumerate(csv.reader(io.StringIO((S / f"benchmarks/mmlu/{subject}_test.csv").read_text()))):
            items.append((f"mmlu:{subject}:{k}", " ".join(row[:5])))
    return items


def _corpus_documents() -> list[tuple[str, str]]:
    docs = [(f"guideline:{r['id']}", r["raw_text"]) for r in jsonl(S / "guidelines/guidelines.jsonl")]
    docs += [(d["id"], d["text"]) for d in jsonl(S / "replay/replay.jsonl")]
    docs += [(p.name, lxml_html.fromstring(p.read_bytes()).text_content())
             for p in sorted((S / "guidelines/html").glob("*.html"))]
    for a in xml(S / "pubmed/medline/pubmed24_sample.xml"):
        docs.append((f"medline:{a.findtext('MedlineCitation/PMID')}", " ".join(a.find(".//Article").itertext())))
    docs += [(f"jats:{k}", " ".join(a.itertext())) for k, a in _articles().items()]
    return docs


def test_only_the_planted_documents_contain_benchmark_test_items():
    tests = [(name, ngrams(text, 13)) for name, text in _test_items()]
    hits = {}
    for name, text in _corpus_documents():
        g = ngrams(text, 13)
        found = [t for t, tg in tests if g & tg]
        if found:
            hits[name] = found
    assert hits == {f"guideline:{GUIDELINE_WITH_MEDQA_TEST}": [f"medqa4:{MEDQA_TEST_IN_GUIDELINE_LINE}"],
                    f"medline:{MEDLINE_PUBMEDQA_PMID}": [f"pubmedqa:{MEDLINE_PUBMEDQA_PMID}"]}
    guideline = next(r for r in jsonl(S / "guidelines/guidelines.jsonl") if r["id"] == GUIDELINE_WITH_MEDQA_TEST)
    test4 = jsonl(MEDQA / "4_options/phrases_no_exclude_test.jsonl")
    assert test4[MEDQA_TEST_IN_GUIDELINE_LINE - 1]["question"] in guideline["raw_text"]


def test_no_accidental_near_duplicates():
    """Apart from the planted pair and the planted copy, no two corpus documents come close to MinHash's
    threshold (5-gram Jaccard ~0.7 for datatrove's default 14 buckets x 8 hashes)."""
    shingles = []
    for name, text in _corpus_documents():
        w = re.findall(r"[a-z]+", text.lower())
        shingles.append((name, {tuple(w[i : i + 5]) for i in range(len(w) - 4)}))
    planted = {frozenset((f"guideline:{NEAR_DUPLICATE[0]}", f"guideline:{NEAR_DUPLICATE[1]}")),
               frozenset((REPLAY_COPY[0], f"guideline:{REPLAY_COPY[1]}"))}
    close = []
    for i, (a, x) in enumerate(shingles):
        for b, y in shingles[i + 1 :]:
            if len(x & y) > 0.45 * len(x | y):
                close.append(frozenset((a, b)))
    assert set(close) == planted


def test_planted_duplicates_and_phi():
    rows = {r["id"]: r for r in jsonl(S / "guidelines/guidelines.jsonl")}
    replay = {d["id"]: d["text"] for d in jsonl(S / "replay/replay.jsonl")}
    assert replay[REPLAY_COPY[0]] == rows[REPLAY_COPY[1]]["raw_text"]
    a, b = (rows[i]["raw_text"] for i in NEAR_DUPLICATE)
    assert a != b and difflib.SequenceMatcher(None, a, b).ratio() > 0.97
    changed = [w for w in difflib.ndiff(a.split(), b.split()) if w.startswith(("+ ", "- "))]
    assert 4 <= len(changed) <= 16
    phi = rows[GUIDELINE_PHI]["raw_text"]
    assert "dr.amelia.kerrigan@northfield-health.example.org" in phi
    assert "telephone +44 20 7946 0321" in phi and "fax +44 20 7946 0322" in phi
    assert sum("@" in r["raw_text"] for r in rows.values()) == 1


def test_sft_medqa_has_exactly_one_copy_of_a_test_question():
    sft = jsonl(S / "sft/medqa/phrases_no_exclude_train.jsonl")
    test = jsonl(MEDQA / "4_options/phrases_no_exclude_test.jsonl")
    assert sft[SFT_MEDQA_COPY_LINE - 1] == test[MEDQA_TEST_COPIED_LINE - 1]
    test_grams = [ngrams(q["question"], 8) for q in test]
    overlaps = []
    for item in sft:
        g = ngrams(item["question"], 8)
        overlaps.append(max(len(g & t) / len(g) for t in test_grams))
    flagged = [i + 1 for i, o in enumerate(overlaps) if o >= 0.8]
    assert flagged == [SFT_MEDQA_COPY_LINE]
    assert sorted(overlaps)[-2] < 0.6  # the next closest training item is far below MEDITRON's 80% threshold


def test_docs_name_the_planted_ids():
    doc = (Path(__file__).resolve().parents[1] / "docs/SAMPLE.md").read_text(encoding="utf-8")
    for ident in (GUIDELINE_WITH_MEDQA_TEST, *NEAR_DUPLICATE, GUIDELINE_PHI, *REPLAY_COPY, MEDLINE_PUBMEDQA_PMID,
                  MEDLINE_DELETED, *MEDLINE_REISSUED, MEDLINE_FRENCH, MEDLINE_NO_ABSTRACT, *JATS_WITH_ABSTRACT,
                  f"line {SFT_MEDQA_COPY_LINE}"):
        assert ident in doc, ident


# ------------------------------------------------------------------------------------------------ tokenizer, build
def test_tokenizer_loads_offline_and_round_trips(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(S / "tokenizer"))
    assert len(tok) == 4096 and tok.model_max_length == 4096
    assert (tok.bos_token, tok.eos_token, tok.unk_token, tok.pad_token) == ("<s>", "</s>", "<unk>", "<pad>")
    assert [tok.convert_tokens_to_ids(t) for t in ("<unk>", "<s>", "</s>", "<pad>")] == [0, 1, 2, 3]
    sentence = "A 45-year-old woman has a temperature of 38.9°C (102°F); give 5 µg/kg — “urgent”."
    ids = tok(sentence)["input_ids"]
    assert ids[0] == tok.bos_token_id and tok.decode(ids, skip_special_tokens=True) == sentence
    prose = "The primary outcome was readmission within 30 days in patients with heart failure."
    assert len(tok(prose, add_special_tokens=False)["input_ids"]) <= len(prose.split()) + 2  # merges learned
    vocab = tok.get_vocab()
    assert not any(t in vocab for t in ("[bib_ref]", "<|im_start|>", "<|im_end|>"))
    config = json.loads((S / "tokenizer/tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "PreTrainedTokenizerFast"


def test_tokenizer_training_is_deterministic():
    from tools.sample_generator.build_tokenizer import sample_texts, train

    saved = json.loads((S / "tokenizer/tokenizer.json").read_text(encoding="utf-8"))
    assert json.loads(train(sample_texts()).to_str()) == saved


def test_generator_rebuilds_the_committed_files(tmp_path):
    from tools.sample_generator.generate import Sample

    Sample(out=tmp_path).build()
    built = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    shipped = sorted(p.relative_to(S) for p in S.rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc")
                     and "tokenizer" not in p.parts)
    assert built == shipped
    for rel in built:
        assert (tmp_path / rel).read_bytes() == (S / rel).read_bytes(), rel


def test_sample_paths_resolve_and_ship_as_package_data():
    class Paths(StrictModel):
        folder: ConfigPath
        text: ConfigPathText

    paths = Paths(folder="sample:benchmarks", text="sample:tokenizer")
    assert paths.folder == S / "benchmarks" and paths.folder.is_dir()
    assert paths.text == str(S / "tokenizer")
    assert Paths(folder="data/x", text="meta-llama/Llama-2-7b-hf").text == "meta-llama/Llama-2-7b-hf"
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert '"sample/**/*"' in pyproject
    # data only: the generator is the dev tool tools/sample_generator, and no .py may ship below the sample again
    assert '"sample/**/*.py"' in pyproject and '"meditron.sample.*"' in pyproject
    assert sorted(p.relative_to(S).as_posix() for p in S.rglob("*.py")) == ["__init__.py"]
    total = sum(p.stat().st_size for p in S.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    assert total < 3_000_000
