"""``meditron eval compare``: planted per-item answers give hand-computed differences, intervals and p-values."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from meditron.cli import app
from meditron.errors import InputError
from meditron.eval import compare as C
from tests.testing import requires_module

runner = CliRunner()


def _write_eval(folder, bench: str, files: dict[str, dict[str, bool]], summaries: dict, **config) -> None:
    """An eval output folder as ``meditron eval`` writes it: results.json + items/<bench>/<file>.jsonl."""
    items = folder / "items" / bench
    items.mkdir(parents=True)
    for name, outcomes in files.items():
        lines = [json.dumps({"id": i, "correct": ok, "gold": "A", "parsed": "A" if ok else "B"}) for i, ok in outcomes.items()]
        (items / name).write_text("\n".join(lines) + "\n")
    n = len(next(iter(files.values())))
    cfg = {"model": str(folder), "limit": None, "num_fewshot": 0, **config}
    data = {bench: {"n_total": n, "n_items": n, "missing": []}}
    (folder / "results.json").write_text(json.dumps({"config": cfg, "data": data, "results": {bench: summaries}}))


def _cot(outcomes: dict[str, bool]) -> dict:
    acc = sum(outcomes.values()) / len(outcomes)
    return {"cot": {"accuracy": acc, "ci95": [acc - 0.05, acc + 0.05], "n": len(outcomes), "unparsed": 0}}


def _planted(a_only: int, b_only: int, both: int, neither: int) -> tuple[dict[str, bool], dict[str, bool]]:
    kinds = [(True, False)] * a_only + [(False, True)] * b_only + [(True, True)] * both + [(False, False)] * neither
    a = {f"q{i:03d}": ka for i, (ka, _) in enumerate(kinds)}
    b = {f"q{i:03d}": kb for i, (_, kb) in enumerate(kinds)}
    return a, b


def test_mcnemar_exact_by_hand():
    assert C.mcnemar_exact(8, 2) == 0.109375  # 2 · (C(10,0) + C(10,1) + C(10,2)) / 2^10 = 2 · 56 / 1024
    assert C.mcnemar_exact(2, 8) == 0.109375
    assert C.mcnemar_exact(0, 0) == 1.0 and C.mcnemar_exact(3, 3) == 1.0
    assert C.mcnemar_exact(5, 0) == 0.0625  # 2 / 2^5
    assert C.mcnemar_exact(0, 1) == 1.0  # capped


@requires_module("scipy")
def test_mcnemar_exact_equals_scipys_binomial_test():
    from scipy.stats import binomtest

    for b, c in [(8, 2), (0, 7), (13, 30), (120, 95), (400, 371)]:
        assert C.mcnemar_exact(b, c) == pytest.approx(binomtest(b, b + c, 0.5).pvalue, rel=1e-9)


def test_planted_answers_give_hand_computed_statistics(tmp_path):
    # 100 shared items: A alone right on 8, B alone right on 2, both right on 50, both wrong on 40.
    a, b = _planted(8, 2, 50, 40)
    _write_eval(tmp_path / "a", "medqa4", {"cot.jsonl": a}, _cot(a))
    _write_eval(tmp_path / "b", "medqa4", {"cot.jsonl": b}, _cot(b))
    doc = C.compare([tmp_path / "a", tmp_path / "b"], bootstrap=2000, seed=1)
    (setting,) = doc["settings"]
    (pair,) = setting["pairs"]
    s = pair["benchmarks"]["medqa4"]
    assert (pair["a"], pair["b"]) == ("a", "b")
    assert (s["n_shared"], s["accuracy_a"], s["accuracy_b"], s["difference"]) == (100, 0.58, 0.52, 0.06)
    assert (s["a_right_b_wrong"], s["a_wrong_b_right"], s["mcnemar_p"]) == (8, 2, 0.109375)
    # Per-item differences: +1 ×8, −1 ×2, 0 ×90 → SE = sqrt((0.10 − 0.06²) / 100) = 0.0310; a normal 95% interval
    # is 0.06 ± 0.061 (width 0.122). The percentile interval of 2000 resamples must contain 0.06 and be about as wide.
    lo, hi = s["ci95"]
    assert lo < 0.06 < hi and 0.10 <= hi - lo <= 0.14
    assert lo == pytest.approx(-0.001, abs=0.015) and hi == pytest.approx(0.121, abs=0.015)
    # Same seed → same interval; the interval is on the difference, not on either accuracy.
    assert C.compare([tmp_path / "a", tmp_path / "b"], bootstrap=2000, seed=1)["settings"][0]["pairs"] == [pair]


def test_identical_models_differ_by_zero_with_p_one(tmp_path):
    a, _ = _planted(8, 2, 50, 40)
    _write_eval(tmp_path / "a", "pubmedqa", {"cot.jsonl": a}, _cot(a))
    _write_eval(tmp_path / "same", "pubmedqa", {"cot.jsonl": a}, _cot(a))
    s = C.compare([tmp_path / "a", tmp_path / "same"])["settings"][0]["pairs"][0]["benchmarks"]["pubmedqa"]
    assert (s["difference"], s["ci95"], s["mcnemar_p"], s["a_right_b_wrong"], s["a_wrong_b_right"]) == (
        0.0, [0.0, 0.0], 1.0, 0, 0
    )


def test_only_shared_items_are_compared_and_the_count_is_shown(tmp_path):
    a, b = _planted(8, 2, 50, 40)
    b = {k: v for k, v in b.items() if k >= "q020"}  # B evaluated 80 of the items: 8 A-only and 2 B-only are gone
    _write_eval(tmp_path / "a", "medqa4", {"cot.jsonl": a}, _cot(a))
    _write_eval(tmp_path / "b", "medqa4", {"cot.jsonl": b}, _cot(b))
    doc = C.compare([tmp_path / "a", tmp_path / "b"], bootstrap=200)
    s = doc["settings"][0]["pairs"][0]["benchmarks"]["medqa4"]
    assert (s["n_shared"], s["n_a"], s["n_b"], s["difference"], s["mcnemar_p"]) == (80, 100, 80, 0.0, 1.0)
    assert "n=80 shared of 100/80" in C.markdown(doc)


def test_few_shot_seeds_fraction_for_the_difference_majority_for_mcnemar(tmp_path):
    ids = ["x1", "x2", "x3"]
    # A: x1 right in 2 of 3 seeds (majority right), x2 in 1 of 3, x3 in 3 of 3. B: x1 0/3, x2 1/3, x3 3/3.
    seeds_a = [dict(zip(ids, r, strict=True)) for r in ([1, 1, 1], [1, 0, 1], [0, 0, 1])]
    seeds_b = [dict(zip(ids, r, strict=True)) for r in ([0, 1, 1], [0, 0, 1], [0, 0, 1])]
    for name, seeds in (("a", seeds_a), ("b", seeds_b)):
        files = {f"top_token_3shot_seed{s}.jsonl": {k: bool(v) for k, v in rec.items()}
                 for s, rec in zip((1234, 432, 32), seeds, strict=True)}
        files["top_token_zero_shot.jsonl"] = dict.fromkeys(ids, True)
        summ = {"accuracy": 0.5, "ci95": [0.0, 1.0], "n": 3, "unparsed": 0, "num_fewshot": 3,
                "zero_shot": {"accuracy": 1.0, "ci95": [1.0, 1.0], "n": 3, "unparsed": 0}}
        _write_eval(tmp_path / name, "medqa5", files, {"top_token": summ}, num_fewshot=3, seeds=[1234, 432, 32])
    doc = C.compare([tmp_path / "a", tmp_path / "b"], bootstrap=200)
    by = {s["setting"]: s for s in doc["settings"]}
    assert set(by) == {"top_token 3-shot", "top_token 0-shot"}
    s = by["top_token 3-shot"]["pairs"][0]["benchmarks"]["medqa5"]
    assert s["accuracy_a"] == round((2 / 3 + 1 / 3 + 1) / 3, 6) and s["accuracy_b"] == round((0 + 1 / 3 + 1) / 3, 6)
    assert s["difference"] == round(2 / 9, 6) and (s["a_right_b_wrong"], s["a_wrong_b_right"]) == (1, 0)
    assert by["top_token 0-shot"]["pairs"][0]["benchmarks"]["medqa5"]["difference"] == 0.0


def test_cli_compares_a_run_folder_and_an_eval_folder_and_writes_the_outputs(tmp_path):
    a, b = _planted(8, 2, 50, 40)
    run = tmp_path / "my-run"
    _write_eval(run / "eval", "medqa4", {"cot.jsonl": a}, _cot(a))
    (run / "run.json").write_text(json.dumps({"name": "my-run", "stages": {"finetune": {}, "eval": {}}}))
    _write_eval(tmp_path / "baseline", "medqa4", {"cot.jsonl": b}, _cot(b))
    out = tmp_path / "cmp"
    result = runner.invoke(
        app, ["eval", "compare", str(run), str(tmp_path / "baseline" / "results.json"), "--out", str(out),
              "--bootstrap", "500", "--seed", "3"], env={"COLUMNS": "250"}
    )
    assert result.exit_code == 0, result.output
    assert "cot: accuracy % [95% CI]" in result.output and "my-run − baseline" in result.output
    assert "+6.0" in result.output and "p=0.109 (8/2) n=100" in result.output
    doc = json.loads((out / "compare.json").read_text())
    assert [m["label"] for m in doc["models"]] == ["my-run", "baseline"] and doc["models"][0]["finetuned"] is True
    assert doc["bootstrap"] == {"samples": 500, "seed": 3}
    md = (out / "compare.md").read_text()
    assert "| my-run | 58.0 [53.0–63.0] n=100 |" in md and "| my-run − baseline | +6.0 [" in md
    assert (out / "compare.png").read_bytes()[:4] == b"\x89PNG"


def test_bad_inputs_name_the_file(tmp_path):
    with pytest.raises(InputError, match="needs at least two"):
        C.compare([tmp_path])
    with pytest.raises(InputError, match="nowhere.*no results.json here"):
        C.compare([tmp_path / "nowhere", tmp_path])
    a, b = _planted(1, 1, 1, 1)
    _write_eval(tmp_path / "a", "medqa4", {"cot.jsonl": a}, _cot(a))
    _write_eval(tmp_path / "b", "medqa4", {"cot.jsonl": b}, _cot(b))
    (tmp_path / "b/items/medqa4/cot.jsonl").write_text('{"id": "q000", "correct": true}\n{"correct": false}\n')
    with pytest.raises(InputError, match=r"cot.jsonl.*line 2.*lacks 'id'"):
        C.compare([tmp_path / "a", tmp_path / "b"])
    (tmp_path / "b/results.json").write_text("{}")
    with pytest.raises(InputError, match="b/results.json.*no 'results'"):
        C.compare([tmp_path / "a", tmp_path / "b"])


def test_missing_item_records_are_said_not_guessed(tmp_path):
    a, b = _planted(2, 1, 3, 4)
    _write_eval(tmp_path / "a", "medqa4", {"cot.jsonl": a}, _cot(a))
    _write_eval(tmp_path / "b", "medqa4", {"cot.jsonl": b}, _cot(b))
    (tmp_path / "b/items/medqa4/cot.jsonl").unlink()
    doc = C.compare([tmp_path / "a", tmp_path / "b"], bootstrap=100)
    assert doc["settings"][0]["pairs"][0]["benchmarks"]["medqa4"] == {
        "unavailable": "per-item records (items/*.jsonl) not found"
    }
    assert not math.isnan(doc["settings"][0]["scores"]["medqa4"]["a"]["accuracy"])


def test_two_real_evaluations_through_the_cli_then_compare(tiny_model, tiny_tokenizer, small_benchmarks, tmp_path):
    """`meditron eval --model …` still evaluates (eval is now a command group) and `eval compare` reads its output."""
    from tests.eval.tiny import build_model

    other = build_model(tmp_path / "other", tiny_tokenizer, init_std=1.0, layers=2, seed=7)
    for name, model in (("first", tiny_model), ("second", other)):
        args = ["eval", "--model", str(model), "--data-dir", str(small_benchmarks), "--benchmarks", "medqa4",
                "--modes", "top_token", "--num-fewshot", "0", "--out", str(tmp_path / name)]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["eval", "compare", str(tmp_path / "first"), str(tmp_path / "second")],
                           env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output

    def outcomes(name):
        lines = (tmp_path / name / "items/medqa4/top_token_zero_shot.jsonl").read_text().splitlines()
        return {r["id"]: bool(r["correct"]) for r in map(json.loads, lines)}

    a, b = outcomes("first"), outcomes("second")
    assert len(a) == len(b) == 12
    a_only = sum(a[i] and not b[i] for i in a)
    b_only = sum(b[i] and not a[i] for i in a)
    diff = 100 * (sum(a.values()) - sum(b.values())) / 12
    p = min(1.0, 2 * sum(math.comb(a_only + b_only, k) for k in range(min(a_only, b_only) + 1)) / 2 ** (a_only + b_only))
    assert f"{diff:+.1f} [" in result.output and f"p={p:.3g} ({a_only}/{b_only}) n=12" in result.output
    assert "top_token 0-shot: accuracy %" in result.output  # (rich wraps the title to the table width)
