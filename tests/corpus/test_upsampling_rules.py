"""The upsampling rules engine on hand-built facts and metadata: exact scores, drops and copies (paper's Table 10)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from datatrove.data import Document

from meditron.corpus.upsampling.join import MedlineTerms, MedlineTermsCollector
from meditron.corpus.upsampling.rules import PAPER_RULES, Facts, copies_for, evaluate, load_rules
from meditron.corpus.upsampling.step import Upsampler, document_age
from meditron.corpus.upsampling.tables import CitationTable, JournalList, normalise_journal
from meditron.errors import InputError

RULES = load_rules()
THRESHOLDS = {0.25: 1.0, 0.75: 10.0}  # citations per year at the bottom and top quartile
REF = date(2023, 7, 15)


def test_paper_rules_are_table_10():
    assert [r.name for r in RULES.rules] == ["publication_type", "mesh", "uptodate_journal", "recency",
                                             "citations_per_year"]
    pt = RULES.rules[0]
    assert pt.scores["Systematic Review"] == 0.8 and pt.scores["Clinical Trial, Phase I"] == 0.2
    assert pt.drop == {"Observational Study, Veterinary": "veterinary-study", "Retracted Publication": "retracted",
                       "Preprint": "preprint"}
    assert RULES.rules[1].drop == {"Animals": "animal-study"}
    assert [r.conditional for r in RULES.rules] == [False, False, False, True, True]
    assert RULES.quantiles() == [0.25, 0.75]
    assert "Animals" in RULES.terms("mesh_terms") and "Preprint" in RULES.terms("publication_types")


def test_every_row_adds_up_with_conditional_rows():
    facts = Facts(publication_types=("Randomized Controlled Trial", "Clinical Trial, Phase III", "Comparative Study",
                                     "Journal Article"), journal_listed=True, age_years=3.0, citations_per_year=50.0)
    out = evaluate(RULES, facts, THRESHOLDS)
    assert out.drop_reason is None
    assert out.contributions == pytest.approx({"publication_type": 1.6, "mesh": 0.0, "uptodate_journal": 1.0,
                                               "recency": 1.0, "citations_per_year": 1.0})
    assert out.score == pytest.approx(4.6)
    assert out.matched["recency"] == ("<= 5.5",) and out.matched["citations_per_year"] == ("rest",)
    assert copies_for(out.score, 1.0, draw=0.5) == 6 and copies_for(out.score, 1.0, draw=0.7) == 5
    assert copies_for(out.score, 0.5, draw=0.2) == 4 and copies_for(out.score, 0.5, draw=0.4) == 3  # 1 + 2.3


def test_conditional_rows_only_count_after_a_positive_score():
    # a recent, much-cited case report: the table gives it nothing, so recency and citations do not count
    out = evaluate(RULES, Facts(publication_types=("Case Reports",), age_years=1.0, citations_per_year=100.0),
                   THRESHOLDS)
    assert out.score == 0 and out.skipped_conditional == ("recency", "citations_per_year")
    assert copies_for(out.score, 1.0, draw=0.0) == 1
    # a review of 7 years with a middle citation rate: 0.5 + 0.2 + 0.5
    out = evaluate(RULES, Facts(publication_types=("Review",), age_years=7.0, citations_per_year=5.0), THRESHOLDS)
    assert out.score == pytest.approx(1.2)
    assert [copies_for(out.score, 1.0, d) for d in (0.1, 0.3)] == [3, 2]
    # a letter older than 10 years in the bottom quartile: 0.1 only
    out = evaluate(RULES, Facts(publication_types=("Letter",), age_years=12.0, citations_per_year=1.0), THRESHOLDS)
    assert out.score == pytest.approx(0.1)
    assert out.matched == {"publication_type": ("Letter",), "recency": ("rest",), "citations_per_year": ("<= 0.25",)}
    # without a citations file (no thresholds) the citations row gives nothing
    out = evaluate(RULES, Facts(publication_types=("Review",), age_years=7.0, citations_per_year=5.0), None)
    assert out.score == pytest.approx(0.7)


@pytest.mark.parametrize(("facts", "reason", "rule"), [
    (Facts(publication_types=("Randomized Controlled Trial", "Retracted Publication")), "retracted", "publication_type"),
    (Facts(publication_types=("Preprint",)), "preprint", "publication_type"),
    (Facts(publication_types=("Observational Study, Veterinary",)), "veterinary-study", "publication_type"),
    (Facts(publication_types=("Review",), mesh_terms=("Humans", "Animals")), "animal-study", "mesh"),
])
def test_filter_out_rows_drop_with_their_reason(facts, reason, rule):
    out = evaluate(RULES, facts, THRESHOLDS)
    assert (out.drop_reason, out.drop_rule) == (reason, rule)


def test_probabilistic_rounding_has_the_exact_expected_value():
    draws = (np.arange(1000) + 0.5) / 1000  # an even grid of draws: the mean number of copies is exact
    assert np.mean([copies_for(1.2, 1.0, d) for d in draws]) == pytest.approx(2.2)
    assert np.mean([copies_for(0.1 + 0.2 + 0.7, 1.0, d) for d in draws]) == 2.0  # float sums land on 1.0


def test_recency_band_edges_from_publication_dates():
    def band(pub_date):
        age = document_age({"pub_date": pub_date}, REF)
        return evaluate(RULES, Facts(publication_types=("Review",), age_years=age)).contributions["recency"]

    assert (REF - date(2018, 1, 16)).days / 365 <= 5.5 < (REF - date(2018, 1, 10)).days / 365
    assert [band("2018-01-16"), band("2018-01-10"), band("2013-07-20"), band("2013-07-01")] == [1, 0.2, 0.2, 0]
    assert document_age({"year": 2020}, REF) == (REF - date(2020, 1, 1)).days / 365
    assert document_age({}, REF) is None


def test_tables_from_csv(tmp_path):
    journals = tmp_path / "journals.csv"
    journals.write_text("journal,issn\nThe Lancet,x\nAlimentary Pharmacology & Therapeutics,\n")
    listed = JournalList.load(journals)
    assert "Lancet." in listed and "alimentary pharmacology and therapeutics" in listed and "BMJ" not in listed
    assert normalise_journal("The New England Journal of Medicine") == "new england journal of medicine"
    cites = tmp_path / "cites.csv"
    cites.write_text("pmid,pmcid,doi,citations,year\n1,PMC10,,100,2021\n2,,10.1/AB,9,2020\n3,,,0,2023\n4,,,40,2013\n")
    table = CitationTable.load(cites, REF, [0.25, 0.75])
    rates = np.array([100 / 3, 9 / 4, 0 / 1, 40 / 11], np.float32)
    assert table.thresholds == {q: pytest.approx(float(np.quantile(rates, q))) for q in (0.25, 0.75)}
    assert table.rate({"pmcid": "PMC10"}) == pytest.approx(100 / 3)
    assert table.rate({"pmid": "999", "doi": "10.1/ab"}) == pytest.approx(2.25)
    assert table.rate({"pmid": "5"}) is None


@pytest.mark.parametrize(("text", "message"), [
    ("name\nx\n", "line 1: the header needs the columns journal"),
    ("journal\nThe Lancet\n\"\"\n", "line 3: empty journal name"),
])
def test_bad_journal_rows_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "j.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=f"{path}: {message}"):
        JournalList.load(path)


@pytest.mark.parametrize(("text", "message"), [
    ("pmid,citations\n1,3\n", "line 1: the header needs the columns citations, year, pmid or pmcid or doi"),
    ("pmid,citations,year\n1,3,2020\n2,many,2020\n", "line 3: citations must be a number >= 0, got 'many'"),
    ("pmid,citations,year\n1,-3,2020\n", "line 2: citations must be a number >= 0"),
    ("pmid,citations,year\n1,3,20\n", "line 2: year must be a 4-digit year, got '20'"),
    ("pmid,doi,citations,year\n,,3,2020\n", "line 2: no id; fill one of pmid, pmcid, doi"),
])
def test_bad_citation_rows_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "c.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=f"{path}: {message}"):
        CitationTable.load(path, REF, [0.25, 0.75])


@pytest.mark.parametrize(("text", "message"), [
    ("rules: [{name: a, kind: nope}]", "rules.0: Input tag 'nope' found"),
    ("rules: [{name: r, kind: age, bands: [{score: 1}, {max: 5, score: 0}]}]", "bands need increasing `max`"),
    ("rules: [{name: r, kind: citations, bands: [{max: 25, score: 1}, {score: 0}]}]", "`max` is a quantile"),
    ("rules: [{name: a, kind: journal, score: 1}, {name: a, kind: journal, score: 2}]", "rule names must be unique"),
    ("rules: [", "not valid YAML"),
])
def test_bad_rules_file_names_it(tmp_path, text, message):
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as err:
        load_rules(path)
    assert str(err.value).startswith(str(path))


def _medline(pmid: str, pts: list[str], mesh: list[str], **meta) -> Document:
    return Document(text="t", id=f"pmid{pmid}", metadata={"kind": "medline", "source": "abstracts", "pmid": pmid,
                                                          "publication_types": pts, "mesh_terms": mesh, **meta})


def test_full_texts_borrow_medline_terms_by_pmid_else_their_article_type(tmp_path):
    """The join keeps only the papers' PMIDs; superseded versions lend nothing; article-type is the fallback."""
    terms, pmids = tmp_path / "terms", tmp_path / "pmids"
    pmids.mkdir()
    (pmids / "00000.tsv").write_text("11\tpmc1\n12\tpmc2\n14\tpmc4\n")
    records = [_medline("11", ["Review", "Journal Article"], ["Humans"]), _medline("12", ["Letter"], ["Animals"]),
               _medline("13", ["Meta-Analysis"], []),
               _medline("14", ["Meta-Analysis"], [], drop_reason="superseded-by-later-version")]
    collector = MedlineTermsCollector(folder=terms, publication_types=RULES.terms("publication_types"),
                                      mesh_terms=RULES.terms("mesh_terms"))
    assert [d.id for d in collector.run(iter(records), rank=0)] == [d.id for d in records]
    joined = MedlineTerms(terms, pmids)
    assert len(joined) == 2 and joined.get(11) == (("Review",), ()) and joined.get(12) == (("Letter",), ("Animals",))
    assert joined.get(13) is None and joined.get(14) is None

    step = Upsampler(ledger_dir=str(tmp_path / "ledger"), counts_dir=tmp_path / "counts", seed=5, rules_file=None,
                     sources=None, journals_file=None, citations_file=None, reference_date=REF, scale=1.0,
                     terms_folder=terms, pmids_folder=pmids)
    paper = {"kind": "jats", "article_type": "research-article", "pub_date": "2021-03-01"}
    assert step.facts({**paper, "pmid": "11"}) == (Facts(("Review",), (), False, (REF - date(2021, 3, 1)).days / 365,
                                                         None), "medline-join")
    assert step.facts({**paper, "pmid": "14", "article_type": "review-article"})[0].publication_types == ("Review",)
    assert step.facts({**paper, "pmid": "14", "article_type": "review-article"})[1] == "article-type"
    assert step.facts({**paper, "pmid": "99"})[1] == "none"
    assert step.facts(_medline("13", ["Meta-Analysis"], []).metadata)[1] == "own"


def test_step_drops_scores_and_copies_only_training_documents(tmp_path):
    """Copies come from hash(seed, id): the same document gets the same copies whatever else the task holds."""
    (tmp_path / "pmids").mkdir()

    def run(docs, seed=5):
        step = Upsampler(ledger_dir=str(tmp_path / "ledger"), counts_dir=tmp_path / "counts", seed=seed,
                         rules_file=PAPER_RULES, sources=["abstracts"], journals_file=None, citations_file=None,
                         reference_date=REF, scale=1.0, terms_folder=tmp_path / "terms",
                         pmids_folder=tmp_path / "pmids")
        return {d.id: d.metadata.get("copies", 1) for d in step.run(iter(docs), rank=0)}, step.counts

    docs = [_medline(str(i), ["Review"], [], split="train", pub_date="2020-01-01") for i in range(40)]
    docs += [_medline("100", ["Review"], ["Animals"], split="train"),
             _medline("101", ["Meta-Analysis"], [], split="validation", pub_date="2022-01-01"),
             Document(text="g", id="g1", metadata={"kind": "guideline_jsonl", "source": "guidelines", "split": "train"})]
    copies, counts = run(docs)
    assert "pmid100" not in copies and copies["pmid101"] == 1 and copies["g1"] == 1
    assert {copies[f"pmid{i}"] for i in range(40)} == {2, 3}  # 1 + 0.5 + 1 (recent review), rounded by the hash
    assert counts["documents"] == {"scored": 42, "dropped": 1, "kept_train": 40, "kept_validation": 1,
                                   "upsampled": 40, "copies_added": sum(copies[f"pmid{i}"] - 1 for i in range(40))}
    assert counts["rules"]["mesh"]["dropped_by"] == {"Animals": 1}
    reversed_copies, _ = run(list(reversed(docs[:40])))
    assert reversed_copies == {k: v for k, v in copies.items() if k in reversed_copies}
    assert run(docs, seed=6)[0] != copies
