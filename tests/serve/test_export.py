"""meditron export: a complete HF directory whose weights equal the source, a card whose figures are the run's files'
figures, and a lineage manifest whose hashes are the files' hashes."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch

from meditron.errors import CheckpointError, InputError
from meditron.run import sha256_file
from meditron.serve.export import run_export
from meditron.serve.lineage import verify_lineage
from meditron.serve.model_card import NOT_FOR_CLINICAL_USE
from tests.serve import sp_models
from tests.serve.conftest import CORPUS_REPORT, RESULTS, SHARDS_MANIFEST


@pytest.fixture()
def exported(run_dir: Path) -> Path:
    return run_export(run_dir / "checkpoints" / "finetune", run_dir / "hf", "hf")


def test_export_is_complete_and_equal_to_source(exported: Path, run_dir: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    names = {p.name for p in exported.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json",
            "chat_template.jinja", "README.md", "lineage.json"} <= names
    src = run_dir / "checkpoints" / "finetune" / "hf"
    tok = AutoTokenizer.from_pretrained(exported, local_files_only=True)
    for special in ("<|im_start|>", "<|im_end|>", "[bib_ref]", "[/formula]"):
        assert len(tok(special, add_special_tokens=False).input_ids) == 1
    assert "<|im_start|>assistant" in tok.apply_chat_template([{"role": "user", "content": "hi"}],
                                                              add_generation_prompt=True, tokenize=False)
    ids = tok("Sepsis guidelines recommend early antibiotics", return_tensors="pt").input_ids
    a = AutoModelForCausalLM.from_pretrained(exported, local_files_only=True).eval()
    b = AutoModelForCausalLM.from_pretrained(src, local_files_only=True).eval()
    with torch.no_grad():
        assert torch.equal(a(ids).logits, b(ids).logits)
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["stages"]["export"]["artifacts"]["hf"] == "hf"


def test_lineage_hashes_are_the_files_hashes(exported: Path, run_dir: Path):
    lineage = json.loads((exported / "lineage.json").read_text())
    assert verify_lineage(exported) == []
    assert lineage["export"]["files"]["model.safetensors"] == sha256_file(exported / "model.safetensors")
    assert lineage["data"]["corpus_report"] == {"path": "corpus/corpus_report.json",
                                                "sha256": sha256_file(run_dir / "corpus" / "corpus_report.json")}
    assert lineage["data"]["shards_manifest"]["sha256"] == sha256_file(run_dir / "shards" / "manifest.json")
    assert lineage["results"] == {"path": "eval/results.json", "sha256": sha256_file(run_dir / "eval" / "results.json")}
    assert lineage["checkpoint"]["path"] == "checkpoints/finetune/hf"
    assert lineage["checkpoint"]["files"]["model.safetensors"] == sha256_file(
        run_dir / "checkpoints" / "finetune" / "hf" / "model.safetensors")
    assert lineage["run"]["name"] == "medrun" and lineage["run"]["seed"] == 1234
    (exported / "config.json").write_text((exported / "config.json").read_text() + " ")
    assert verify_lineage(exported) == ["config.json: changed"]


def _section(card: str, title: str) -> str:
    start = card.index(f"## {title}")
    end = card.find("\n## ", start + 3)
    return card[start:end if end > 0 else None]


def test_card_figures_are_the_files_figures(exported: Path):
    card = (exported / "README.md").read_text()
    assert NOT_FOR_CLINICAL_USE in card and "## Intended use" in card
    assert "| 1,500 | 1,203 | 277 | 20 |" in card  # ledger totals
    assert "| abstracts | train | 787 | 210,344 |" in card and "| replay | train | 70 | 7,102 |" in card
    assert "| medqa4 | top_token (3-shot) | 28.7 ± 0.4 | 26.2–31.2 | 1,273 | 0 |" in card
    assert "| medqa4 | top_token (0-shot) | 25.9 | 23.5–28.3 | 1,273 | — |" in card
    assert "| medqa4 | chat | 30.1 | 27.6–32.7 | 1,273 | 41 |" in card
    assert "| pubmedqa | top_token | 55.2 | 50.8–59.6 | 500 | — |" in card
    assert "| EMAIL | 12 |" in card and "| documents_flagged | 19 |" in card and "| quality | 118 |" in card
    assert "NLM terms (MEDLINE/PubMed)" in card
    assert "| lr | 0.003 |" in card  # train config from run.json (quickstart preset: 3.0e-3)
    assert "first_loss=6.0312" in card and "last_loss=1.9043" in card
    # every number in the data and evaluation sections is one of the files' numbers (as spelled by the card)
    allowed = set()
    for v in _numbers(CORPUS_REPORT) + _numbers(SHARDS_MANIFEST):
        allowed |= {f"{v:,}" if isinstance(v, int) else f"{v:.6g}"}
    for v in _numbers(RESULTS):
        allowed |= {f"{100 * v:.1f}", f"{v:,}" if isinstance(v, int) else f"{v:.6g}"}
    body = _section(card, "Training data") + _section(card, "Evaluation")
    body = body.replace("95%", "")  # the name of the interval, not a figure
    found = re.findall(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?![\w])", body)
    assert found and set(found) <= allowed, set(found) - allowed


def _numbers(obj) -> list:
    if isinstance(obj, dict):
        return [x for v in obj.values() for x in _numbers(v)]
    if isinstance(obj, list):
        return [x for v in obj for x in _numbers(v)]
    return [obj] if isinstance(obj, (int, float)) and not isinstance(obj, bool) else []


def test_card_without_run_says_unevaluated(tiny_model: Path, tmp_path: Path):
    out = run_export(tiny_model, tmp_path / "release", "hf")
    card = (out / "README.md").read_text()
    assert "unevaluated" in card and NOT_FOR_CLINICAL_USE in card
    lineage = json.loads((out / "lineage.json").read_text())
    assert lineage["results"] is None and lineage["run"]["dir"] is None


def test_failed_export_keeps_previous_output(tiny_model: Path, tmp_path: Path):
    out = tmp_path / "release"
    run_export(tiny_model, out, "hf")
    before = sha256_file(out / "model.safetensors")
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    (broken / "tokenizer.json").unlink()
    with pytest.raises(InputError, match="tokenizer.json"):
        run_export(broken, out, "hf")
    assert sha256_file(out / "model.safetensors") == before and verify_lineage(out) == []
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_bad_inputs_are_clear_errors(tmp_path: Path, tiny_model: Path):
    with pytest.raises(InputError, match="does not exist"):
        run_export(tmp_path / "nope", tmp_path / "out", "hf")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no complete checkpoint"):
        run_export(tmp_path / "empty", tmp_path / "out", "hf")
    with pytest.raises(InputError, match="unknown export format"):
        run_export(tiny_model, tmp_path / "out", "onnx")


def test_export_consolidates_the_latest_dcp_checkpoint(tiny_model: Path, tmp_path: Path):
    """A checkpoints folder of DCP step dirs (as the trainer writes them) → the latest one, consolidated."""
    from types import SimpleNamespace

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from meditron.train.checkpoint import CheckpointManager, TrainerState

    model = AutoModelForCausalLM.from_pretrained(tiny_model, local_files_only=True)
    tok = AutoTokenizer.from_pretrained(tiny_model, local_files_only=True)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    env = SimpleNamespace(is_main=True, distributed=False, world_size=1, tp=1, barrier=lambda: None)
    mgr = CheckpointManager(tmp_path / "checkpoints" / "pretrain", env, keep_last=2)
    mgr.save(model, opt, None, TrainerState(step=1), hf_config=model.config, tokenizer=tok)
    with torch.no_grad():
        model.model.norm.weight.mul_(1.5)  # step 2 differs from step 1
    last = mgr.save(model, opt, None, TrainerState(step=2), hf_config=model.config, tokenizer=tok)
    out = run_export(tmp_path / "checkpoints" / "pretrain", tmp_path / "release", "hf")
    ids = tok("Aspirin inhibits cyclooxygenase", return_tensors="pt").input_ids
    exported = AutoModelForCausalLM.from_pretrained(out, local_files_only=True).eval()
    with torch.no_grad():
        assert torch.allclose(exported(ids).logits, model.eval()(ids).logits, atol=1e-6)
    lineage = json.loads((out / "lineage.json").read_text())
    assert lineage["checkpoint"]["kind"] == "dcp" and lineage["checkpoint"]["path"] == str(last)
    assert lineage["checkpoint"]["files"][".metadata"] == sha256_file(last / ".metadata")
    assert verify_lineage(out) == []


def test_cli_export_takes_the_run_and_its_export_section_from_the_config(run_dir: Path):
    """`meditron export --config`: the run's finetuned model → <run>/hf by default; `export:` picks format and types."""
    from typer.testing import CliRunner

    from meditron.cli import app

    base = ["--config", "quickstart-cpu", "--set", f"out_dir={run_dir.parent}", "--set", f"name={run_dir.name}"]
    runner = CliRunner()
    done = runner.invoke(app, ["export", *base])
    assert done.exit_code == 0, done.output
    lineage = json.loads((run_dir / "hf" / "lineage.json").read_text())
    assert lineage["checkpoint"]["path"] == "checkpoints/finetune/hf"  # relative to the run
    assert (run_dir / "hf" / "model.safetensors").exists()

    gguf = ["--set", "export.format=gguf", "--set", "export.gguf_types=[f32]", "--set", f"export.out={run_dir}/gguf"]
    done = runner.invoke(app, ["export", *base, *gguf])
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in (run_dir / "gguf").glob("*.gguf")) == ["medrun-f32.gguf"]
    done = runner.invoke(app, ["export", *base, *gguf, "--gguf-type", "f16", "--out", str(run_dir / "g2")])
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in (run_dir / "g2").glob("*.gguf")) == [
        "g2-f16.gguf"
    ]  # named after a non-generic out dir

    done = runner.invoke(app, ["export", "--out", str(run_dir / "x")])
    assert done.exit_code == 2 and "--checkpoint and --out" in done.output


def test_hf_and_gguf_exports_of_one_run_coexist(run_dir: Path):
    """`meditron export -c` then `--format gguf`: <run>/hf and <run>/gguf both exist and load, run.json lists both, and
    each command prints what it wrote."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from typer.testing import CliRunner

    from meditron.cli import app

    base = ["--config", "quickstart-cpu", "--set", f"out_dir={run_dir.parent}", "--set", f"name={run_dir.name}"]
    runner = CliRunner()
    hf = runner.invoke(app, ["export", *base])
    assert hf.exit_code == 0, hf.output
    gg = runner.invoke(app, ["export", *base, "--format", "gguf", "--gguf-type", "q8_0"])
    assert gg.exit_code == 0, gg.output
    assert f"exported {run_dir / 'hf'} (" in hf.output and "model.safetensors" in hf.output
    # the stage's log line reaches the user through the CLI's one logging set-up: on stderr, the summary on stdout
    finetuned = run_dir / "checkpoints" / "finetune" / "hf"
    assert f" INFO meditron.serve.export: exported {finetuned} → {run_dir / 'hf'} (hf)\n" in hf.stderr
    assert "meditron.serve.export" not in hf.stdout and f"exported {run_dir / 'hf'} (" in hf.stdout
    assert f"exported {run_dir / 'gguf'} (" in gg.output
    assert re.search(r"medrun-q8_0\.gguf +\d+\.\d KB  tensors: 5 F32, 16 Q8_0; tokenizer gpt2, 412 tokens", gg.output)
    assert sorted(p.name for p in (run_dir / "gguf").iterdir()) == ["README.md", "lineage.json", "medrun-q8_0.gguf"]
    tok = AutoTokenizer.from_pretrained(run_dir / "hf", local_files_only=True)
    AutoModelForCausalLM.from_pretrained(run_dir / "hf", local_files_only=True)
    assert verify_lineage(run_dir / "hf") == [] and verify_lineage(run_dir / "gguf") == []
    stages = json.loads((run_dir / "run.json").read_text())["stages"]
    assert stages["export"]["artifacts"]["hf"] == "hf" and stages["export_gguf"]["artifacts"]["gguf"] == "gguf"
    assert stages["export_gguf"]["metrics"]["gguf_types"] == ["q8_0"]
    assert stages["export"]["metrics"]["files"]["model.safetensors"] == (run_dir / "hf" / "model.safetensors").stat().st_size
    try:
        from llama_cpp import Llama
    except ImportError:
        return
    llm = Llama(model_path=str(run_dir / "gguf" / "medrun-q8_0.gguf"), vocab_only=True, verbose=False)
    text = "Sepsis guidelines recommend early antibiotics"
    assert llm.tokenize(text.encode(), add_bos=False, special=True) == tok(text, add_special_tokens=False).input_ids


def test_gguf_export_of_an_empty_hf_folder_names_it(tmp_path: Path):
    (tmp_path / "hf").mkdir()
    with pytest.raises(CheckpointError, match=f"{tmp_path / 'hf'}: no complete checkpoint"):
        run_export(tmp_path / "hf", tmp_path / "gguf", "gguf")


@sp_models.requires_sp32k
def test_hf_export_keeps_the_sentencepiece_model(tmp_path: Path):
    """A fast tokenizer built from a .model saves no tokenizer.model; the export takes the run's matching one (the corpus
    stage keeps it beside the shards) so the HF export has it, and never a different tokenizer's model."""
    from meditron.run import RunDir

    run = RunDir(tmp_path / "run").create()
    run.manifest_path.write_text(json.dumps({"name": "sprun"}))
    hf = sp_models.sp32k_meditron(run.checkpoints / "finetune" / "hf")
    (hf / "tokenizer.model").unlink()
    (run.shards / "tokenizer").mkdir(parents=True)
    shutil.copyfile(sp_models.AIDREAMS / "tokenizer.model", run.shards / "tokenizer" / "tokenizer.model")
    out = run_export(hf, run.hf, "hf")
    assert not (out / "tokenizer.model").exists()  # aidreams' 512 pieces are not this tokenizer's
    shutil.copyfile(sp_models.SP_32K, run.shards / "tokenizer" / "tokenizer.model")
    out = run_export(hf, run.hf, "hf")
    assert sha256_file(out / "tokenizer.model") == sha256_file(sp_models.SP_32K)
