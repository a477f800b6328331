"""The paper reference (checked cell by cell against the paper's tables) and the like-with-like comparison."""

from __future__ import annotations

import math
import re

import pytest

from meditron.eval import paper as P
from meditron.eval import report as R
from tests.testing import REPO

PAPER_MD = REPO.parent / "shared" / "reference" / "MEDITRON_PAPER.md"
requires_paper = pytest.mark.skipif(not PAPER_MD.exists(), reason="../shared/reference/MEDITRON_PAPER.md is absent")

BENCH_COLUMNS = {
    "MMLU-Medical": "mmlu_medical",
    "PubMedQA": "pubmedqa",
    "MedMCQA": "medmcqa",
    "MedQA": "medqa5",
    "MedQA-4-Option": "medqa4",
}
SUBJECT_COLUMNS = {
    "Anatomy": "anatomy",
    "C-Bio": "college_biology",
    "C-Med": "college_medicine",
    "Pro-Med": "professional_medicine",
    "Genetics": "medical_genetics",
    "Virology": "virology",
    "Clinical-KG": "clinical_knowledge",
    "H-Bio": "high_school_biology",
    "Nutrition": "nutrition",
    "Health": "health",
    "Psychology": "psychology",
    "Science": "science",
}
MODES = {"top-token": "top_token", "CoT": "cot", "SC-CoT": "sc_cot"}
SCORE_TABLES = ("4", "5", "6", "7/8", "11", "12", "13")


def _md_tables(text: str) -> dict[str, list[dict[str, str]]]:
    """``## Table N: …`` sections of MEDITRON_PAPER.md → rows as {column header: cell text}."""
    tables: dict[str, list[dict[str, str]]] = {}
    current = None
    header: list[str] | None = None
    for line in text.splitlines():
        m = re.match(r"## Table ([0-9/]+):", line)
        if m:
            current, header = m.group(1), None
            tables[current] = []
        elif line.startswith("## "):
            current = None
        elif current and line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if header is None:
                header = cells
            elif not set("".join(cells)) <= set("-:"):
                tables[current].append(dict(zip(header, cells, strict=True)))
    return tables


def _num(cell: str) -> tuple[float, float | None]:
    value, _, std = cell.partition("±")
    return float(value), (float(std) if std else None)


def _expected(table: str, md_row: dict[str, str]) -> dict:
    """What the reference row must hold for one printed row: scores, std, subject scores, avg, tokens."""
    exp: dict = {"scores": {}, "std": {}, "subjects": {}}
    sub_bench = {"12": "mmlu_medical", "13": "truthfulqa_med"}.get(table)
    for col, cell in md_row.items():
        if col in BENCH_COLUMNS:
            value, std = _num(cell)
            exp["scores"][BENCH_COLUMNS[col]] = value
            if std is not None:
                exp["std"][BENCH_COLUMNS[col]] = std
        elif col in SUBJECT_COLUMNS:
            exp["subjects"].setdefault(sub_bench, {})[SUBJECT_COLUMNS[col]] = _num(cell)[0]
        elif col == "Avg":
            exp["avg"] = _num(cell)[0]
        elif col == "tokens" and cell != "–":
            exp["tokens"] = cell
    if table == "13":
        exp["scores"]["truthfulqa_med"] = exp["avg"]  # Table 13's score is its category average
    return exp


@requires_paper
def test_reference_matches_the_paper_cell_by_cell_both_ways():
    md = _md_tables(PAPER_MD.read_text(encoding="utf-8"))
    ref = P.load_reference()
    printed = set()
    for table in SCORE_TABLES:
        for md_row in md[table]:
            label = next(v for k, v in md_row.items() if k != "mode")
            mode = MODES[md_row["mode"]] if "mode" in md_row else None
            printed.add((table, label, mode))
            found = [
                r
                for r in ref["rows"]
                if r["table"] == table and r["label"] == label and (mode is None or r["mode"] == mode)
            ]
            assert len(found) == 1, (table, label, mode)
            row, exp = found[0], _expected(table, md_row)
            got = {k: row.get(k, {}) for k in ("scores", "std", "subjects")}
            got.update({k: row[k] for k in ("avg", "tokens") if k in row})
            assert got == exp, (table, label, mode)
            # The setting: instruction-tuned models (*) are used as they are, the others are finetuned in 5 and 12.
            assert bool(row.get("instruction_tuned")) == label.endswith("*"), label
            if table in ("5", "12", "7/8", "11"):
                assert row["shots"] == 0 and row["finetuned"] == (not label.endswith("*"))
            if table in ("4", "6"):  # "7B: 3-shot; 70B: 5-shot", "5-shot", 3 seeds, pretrained
                assert (row["shots"], row["num_seeds"], row["finetuned"]) == ({"7B": 3, "70B": 5}[row["size"]], 3, False)
            if table == "13":  # "7B one-shot, 70B zero-shot"
                assert row["shots"] == {"7B": 1, "70B": 0}[row["size"]] and row["mode"] == "top_token"
    shipped = {(r["table"], r["label"], r["mode"] if r["table"] in ("5", "12") else None) for r in ref["rows"]}
    assert shipped == printed  # nothing invented, nothing left out
    assert len(ref["rows"]) == 48


@requires_paper
def test_reference_benchmark_sizes_and_subjects_match_table_3():
    text = PAPER_MD.read_text(encoding="utf-8")
    md = {row["benchmark"]: row for row in _md_tables(text)["3"]}
    names = {"MedQA": "medqa5", "MedQA-4-option": "medqa4", "PubMedQA": "pubmedqa", "MedMCQA": "medmcqa"}
    names["MMLU-Medical (9 subjects)"] = "mmlu_medical"
    bench = P.load_reference()["benchmarks"]
    for label, key in names.items():
        assert bench[key]["paper_n_test"] == int(re.match(r"[0-9,]+", md[label]["test"]).group().replace(",", ""))
        assert bench[key]["choices"] == int(md[label]["choices"]), label
    listed = re.search(r"MMLU-Medical subjects: (.*?)\.\n", text, re.S).group(1)
    assert bench["mmlu_medical"]["subjects"] == sorted("_".join(s.split()) for s in listed.split(","))


# ---------------------------------------------------------------- comparisons


def _summary(acc: float, n: int, **extra) -> dict:
    return {"accuracy": acc, "ci95": [acc - 0.02, acc + 0.02], "n": n, "unparsed": 0, **extra}


def _top(acc: float, n: int, k: int, zero_acc: float, **extra) -> dict:
    zero = _summary(zero_acc, n, ece={"ece": 0.1, "bins": []})
    return _summary(acc, n, num_fewshot=k, mean=acc, std=0.01, seeds={}, zero_shot=zero, **extra)


def _doc(results: dict, *, finetuned=None, num_fewshot=0, limit=None, data=None) -> dict:
    cfg = {
        "model": "m",
        "backend": "meditron",
        "modes": sorted({m for v in results.values() for m in v}),
        "num_fewshot": num_fewshot,
        "seeds": [1234, 432, 32],
        "limit": limit,
        "finetuned": finetuned,
    }
    full = {b: {"n_total": 1871 if b == "mmlu_medical" else 1273, "n_items": 1871 if b == "mmlu_medical" else 1273,
                "files": [], "missing": [], "fewshot_source": "train"} for b in results}
    full.update(data or {})
    doc = {"config": cfg, "data": full, "results": results}
    doc["paper"] = R.paper_comparison(results, config=cfg, data=full)
    return doc


def _row(comp: dict, bench: str, mode: str, shots: int) -> dict:
    (row,) = [r for r in comp["rows"] if (r["benchmark"], r["mode"], r["shots"]) == (bench, mode, shots)]
    return row


def _cells(row: dict) -> dict:
    return {(c["model"], c["table"]): c["score"] for c in row["paper"]}


def test_top_token_run_is_compared_with_table_5_top_token_not_the_sc_cot_row():
    doc = _doc({"mmlu_medical": {"top_token": _top(0.7, 1871, 0, 0.7), "sc_cot": _summary(0.75, 1871)}}, finetuned=True)
    top = _row(doc["paper"], "mmlu_medical", "top_token", 0)
    assert _cells(top)[("MEDITRON-70B", "5")] == 73.6
    assert 77.6 not in _cells(top).values()
    assert set(_cells(top)) == {(m, "5") for m in ("PMC-Llama-7B", "Llama-2-7B", "MEDITRON-7B", "Llama-2-70B",
                                                   "MEDITRON-70B")}
    assert top["status"] == P.COMPARABLE and top["notes"] == ["the paper reports 1,862 questions; these files hold 1,871"]
    assert _cells(_row(doc["paper"], "mmlu_medical", "sc_cot", 0)) == {("Llama-2-70B", "5"): 77.9,
                                                                       ("MEDITRON-70B", "5"): 77.6}
    md = R.markdown(doc)
    section = md.split("### top-token, 0-shot, finetuned (paper Table 5)")[1].split("###")[0]
    assert "| MEDITRON-70B | Table 5 · finetuned | 73.6 |" in section and "77.6" not in section
    assert "| **ours** | this run | 70.0 [68.0–72.0] (n=1871) |" in section
    assert "| MEDITRON-70B | Table 5 · finetuned | 77.6 |" in md.split("### SC-CoT, 0-shot, finetuned")[1]


def test_shots_and_finetuning_select_the_paper_rows():
    results = {"medqa5": {"top_token": _top(0.3, 1273, 3, 0.25), "chat": _summary(0.3, 1273),
                          "top_token_options": _top(0.35, 1273, 3, 0.3)}}
    pre = _doc(results, finetuned=False, num_fewshot=3)["paper"]
    three = _row(pre, "medqa5", "top_token", 3)
    assert _cells(three) == {("MPT-7B", "4"): 22.5, ("Falcon-7B", "4"): 19.6, ("Llama-2-7B", "4"): 29.1,
                             ("PMC-Llama-7B", "4"): 21.6, ("MEDITRON-7B", "4"): 28.7}  # 70B rows are 5-shot
    assert next(c for c in three["paper"] if c["model"] == "MEDITRON-7B")["std"] == 0.81
    zero = _row(pre, "medqa5", "top_token", 0)  # not finetuned, zero-shot: the instruction-tuned rows used as is
    assert {m for m, _ in _cells(zero)} == {"Mistral-7B-Instruct", "Zephyr-7B-β", "Clinical-Camel-70B", "Med42-70B"}
    for mode in ("chat", "top_token_options"):
        row = _row(pre, "medqa5", mode, 0)
        assert row["paper"] == [] and row["status"] == P.NO_ROW
    assert _row(pre, "medqa5", "top_token_options", 0)["notes"] == [
        "the paper has no top_token_options mode: its top-token is mode top_token"
    ]
    unknown = _doc(results, finetuned=None, num_fewshot=3)["paper"]
    zero = _row(unknown, "medqa5", "top_token", 0)
    assert zero["status"] == P.UNKNOWN and len(zero["paper"]) == 9  # both kinds of Table 5 rows, flagged
    assert "finetuned or not is unknown (set eval.finetuned): paper rows of both kinds shown" in zero["notes"]
    assert unknown["setting"] == {"finetuned": None, "finetuned_from": "unknown"}


def test_finetuned_comes_from_the_config_else_the_runs_finetune_stage():
    assert P.resolve_finetuned({"finetuned": False}, {"finetune": {}}) == (False, "eval.finetuned")
    assert P.resolve_finetuned({}, {"pretrain": {}, "finetune": {}}) == (True, "run.json (finetune stage)")
    assert P.resolve_finetuned({"finetuned": None}, {"pretrain": {}}) == (None, "unknown")
    comp = R.paper_comparison({"medqa4": {"cot": _summary(0.5, 1273)}}, config={}, run_stages={"finetune": {}})
    assert comp["rows"][0]["status"] == P.COMPARABLE and comp["rows"][0]["finetuned"] is True


def test_limited_missing_and_short_benchmarks_are_labelled_not_comparable():
    results = {
        "pubmedqa": {"cot": _summary(1.0, 50)},
        "mmlu_medical": {"cot": _summary(0.6, 1089)},
        "medmcqa": {"cot": _summary(0.6, 4000)},
    }
    data = {
        "pubmedqa": {"n_total": 500, "n_items": 50, "limited": True, "sample_seed": 7, "files": [], "missing": [],
                     "fewshot_source": "x"},
        "mmlu_medical": {"n_total": 1089, "n_items": 1089, "files": [], "fewshot_source": "x",
                         "missing": ["college_biology", "high_school_biology", "virology"]},
        "medmcqa": {"n_total": 4000, "n_items": 4000, "files": [], "missing": [], "fewshot_source": "x"},
    }
    doc = _doc(results, finetuned=True, limit=50, data=data)
    comp = doc["paper"]
    assert _row(comp, "pubmedqa", "cot", 0)["not_comparable"] == ["seeded random sample (seed 7): 50 of 500 items"]
    assert _row(comp, "mmlu_medical", "cot", 0)["not_comparable"] == [
        "subjects missing: college_biology, high_school_biology, virology",
        "1089 items, fewer than the paper's 1,862",
    ]
    assert _row(comp, "medmcqa", "cot", 0)["not_comparable"] == ["4000 items, fewer than the paper's 4,183"]
    assert all(r["status"] == P.NOT_COMPARABLE for r in comp["rows"])
    md = R.markdown(doc)
    assert "| **ours** | this run | 100.0 [98.0–102.0] (n=50) † |" in md
    assert "- † pubmedqa: not comparable: seeded random sample (seed 7): 50 of 500 items." in md
    assert "| pubmedqa | cot | 100.0 | 98.0–102.0 | 50 | 0 | **limited sample (50 of 500)** |" in md
    assert "**limited**: 50 items per benchmark" in md


def test_truthfulqa_med_uses_the_category_average_and_table_13_categories():
    cats = {"Health": (0.5, 55), "Nutrition": (0.25, 16), "Psychology": (0.0, 19), "Science": (1.0, 9)}
    breakdown = {k: {"accuracy": a, "n": n} for k, (a, n) in cats.items()}
    results = {"truthfulqa_med": {"top_token": _top(0.4, 99, 1, 0.3, breakdown=breakdown)}}
    doc = _doc(results, finetuned=False, num_fewshot=1,
               data={"truthfulqa_med": {"n_total": 99, "n_items": 99, "files": [], "missing": [], "fewshot_source": "x"}})
    one = _row(doc["paper"], "truthfulqa_med", "top_token", 1)
    assert one["ours"] == 43.8 and one["ci95"] is None  # (50 + 25 + 0 + 100) / 4 = 43.75
    assert _cells(one) == {("PMC-Llama-7B", "13"): 2.5, ("Llama-2-7B", "13"): 12.6, ("MEDITRON-7B", "13"): 28.3}
    zero = _row(doc["paper"], "truthfulqa_med", "top_token", 0)  # 70B rows; no per-category split for zero-shot
    assert zero["status"] == P.NOT_COMPARABLE and {m for m, _ in _cells(zero)} == {"Med42-70B", "Llama-2-70B",
                                                                                     "MEDITRON-70B"}
    (subj,) = doc["paper"]["subjects"]
    assert subj["ours"] == {"health": 50.0, "nutrition": 25.0, "psychology": 0.0, "science": 100.0}
    assert [p["model"] for p in subj["paper"]] == ["PMC-Llama-7B", "Llama-2-7B", "MEDITRON-7B"]
    assert "| **ours** | 50.0 (n=55) | 25.0 (n=16) | 0.0 (n=19) | 100.0 (n=9) |" in R.markdown(doc)


def test_mmlu_subjects_against_table_12():
    subjects = P.load_reference()["benchmarks"]["mmlu_medical"]["subjects"]
    breakdown = {s: {"accuracy": 0.5, "n": 100} for s in subjects}
    doc = _doc({"mmlu_medical": {"top_token": _top(0.5, 1871, 0, 0.5, breakdown=breakdown)}}, finetuned=True)
    (subj,) = doc["paper"]["subjects"]
    assert [p["model"] for p in subj["paper"]] == ["MEDITRON-7B", "Llama-2-7B", "PMC-Llama-7B", "MEDITRON-70B",
                                                   "Llama-2-70B"]
    assert subj["paper"][3]["scores"]["professional_medicine"] == 77.9 and subj["status"] == P.COMPARABLE


def test_plot_panels_group_settings_with_both_kinds_of_error_bars(tmp_path):
    results = {"medqa5": {"top_token": _top(0.3, 1273, 3, 0.25)}, "pubmedqa": {"top_token": _top(0.6, 50, 3, 0.5)}}
    data = {"pubmedqa": {"n_total": 500, "n_items": 50, "limited": True, "sample_seed": 1, "files": [], "missing": [],
                         "fewshot_source": "x"}}
    doc = _doc(results, finetuned=False, num_fewshot=3, limit=50, data=data)
    panels = R.paper_panels(doc["paper"])
    assert [p.title for p in panels] == [
        "top-token, 3-shot, not finetuned · † ours not comparable",
        "top-token, 0-shot, not finetuned · † ours not comparable",
    ]
    three = panels[0]
    assert three.groups == ["MedQA", "PubMedQA\n† n=50, not comparable"]
    ours = three.series[0]
    assert ours.values == [30.0, 60.0] and ours.err_low == pytest.approx([2.0, 2.0]) and ours.hatched == [False, True]
    meditron = next(s for s in three.series if s.label == "MEDITRON-7B (Table 4)")
    assert meditron.values == [28.7, 69.3] and meditron.err_low == [0.81, 15.1] and meditron.color_key == "MEDITRON-7B"
    mistral = next(s for s in panels[1].series if s.label.startswith("Mistral"))
    assert all(math.isnan(e) for e in mistral.err_low)  # Table 5 has no std: no error bar, not a zero one
    written = R.plots(doc, {}, tmp_path)
    assert written == [tmp_path / "scores_vs_paper.png"] and written[0].read_bytes()[:4] == b"\x89PNG"


def test_markdown_of_an_older_results_json_recomputes_the_comparison():
    """results.json written before this change: old "paper" shape, no finetuned/limited fields."""
    doc = _doc({"medqa4": {"top_token": _top(0.4, 1273, 3, 0.3)}}, num_fewshot=3)
    del doc["config"]["finetuned"]
    doc["paper"] = {"source": "old", "rows": {"medqa4": {"ours": {"top_token": 40.0}, "paper": {"meditron-7b": 52.0}}}}
    md = R.markdown(doc)
    assert "### top-token, 3-shot, finetuned unknown (paper Table 4)" in md
    assert "| MEDITRON-7B | Table 4 · pretrained | 37.4 ± 3.27 |" in md


def test_report_takes_the_setting_from_the_config_and_keeps_a_finetune_stage_from_run_json():
    results = {"medqa4": {"cot": _summary(0.5, 1273)}}
    doc = _doc(results, finetuned=True)
    doc["paper"] = R.paper_comparison(results)  # built from the results alone: finetuned unknown
    assert doc["paper"]["rows"][0]["status"] == P.UNKNOWN
    assert "### CoT, 0-shot, finetuned (paper Table 5)" in R.markdown(doc)
    doc = _doc(results, finetuned=None)
    doc["paper"] = R.paper_comparison(results, config=doc["config"], run_stages={"finetune": {}})
    md = R.markdown(doc)
    assert "### CoT, 0-shot, finetuned (paper Table 5)" in md and "(from run.json (finetune stage))" in md
