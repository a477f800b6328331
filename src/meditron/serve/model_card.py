"""The model card (``README.md`` of an export), generated from the run's own files.

Why generated: a hand-written card drifts from the model. Every figure here is read from ``run.json``,
``corpus/corpus_report.json``, ``shards/manifest.json``, ``eval/results.json`` and ``lineage.json``; a section whose
file is absent says so instead of inventing a number. The stage files are written by other stages whose schemas
grow, so the readers below take what they recognise and render other numeric fields generically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from meditron.run import RunDir

NOT_FOR_CLINICAL_USE = (
    "> **⚠️ Not for clinical use.** This model is a research artifact. It has not been validated for diagnosis, "
    "treatment or any decision about a patient, can produce fluent but wrong or outdated medical statements, and must "
    "not replace the judgement of a qualified clinician. Do not enter identifiable patient data into a deployment you "
    "have not assessed for privacy and safety."
)

_TRAIN_KEYS = ("steps", "seq_len", "global_batch_size", "micro_batch_size", "lr", "min_lr", "warmup_steps",
               "warmup_ratio", "schedule", "schedule_steps", "betas", "eps", "weight_decay", "grad_clip", "epochs")


def fmt(v: Any) -> str:
    """One spelling for every figure, so tests can compare the card with the files exactly."""
    if isinstance(v, bool) or v is None:
        return str(v).lower() if isinstance(v, bool) else "—"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(fmt(x) for x in v) + "]"
    return str(v).replace("|", "\\|").replace("\n", " ")


def pct(v: Any) -> str:
    return f"{100 * float(v):.1f}" if isinstance(v, (int, float)) and not isinstance(v, bool) else "—"


def _read_json(path: Path | None) -> dict[str, Any] | None:
    if path is None or not Path(path).is_file():
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _flat(d: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Scalar leaves of a nested dict as (dotted key, value)."""
    out: list[tuple[str, Any]] = []
    if isinstance(d, dict):
        for k, v in d.items():
            out += _flat(v, f"{prefix}{k}.")
    elif isinstance(d, (int, float, str, bool)) or d is None:
        out.append((prefix.rstrip("."), d))
    elif isinstance(d, list) and all(not isinstance(x, (dict, list)) for x in d):
        out.append((prefix.rstrip("."), d))
    return out


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def _find_key(d: dict[str, Any], *needles: str) -> tuple[str, Any] | None:
    for k, v in d.items():
        if any(n in k.lower() for n in needles):
            return k, v
    return None


def _corpus_section(report: dict[str, Any] | None, shards: dict[str, Any] | None) -> list[str]:
    lines = ["## Training data", ""]
    if report is None and shards is None:
        return lines + ["No corpus report or shards manifest was found in the run directory.", ""]
    if shards and isinstance(shards.get("sources"), dict):
        lines += ["Tokens per source and split (`shards/manifest.json`):", ""]
        rows = []
        for src, splits in sorted(shards["sources"].items()):
            for split, v in sorted(splits.items()):
                if isinstance(v, dict):
                    rows.append([fmt(src), fmt(split), fmt(v.get("num_docs")), fmt(v.get("num_tokens"))])
        lines += _table(["source", "split", "documents", "tokens"], rows) + [""]
        if shards.get("tokenizer"):
            lines += [f"Tokenizer: `{fmt(shards['tokenizer'])}` (vocab size {fmt(shards.get('vocab_size'))}).", ""]
    if report is None:
        return lines + ["`corpus/corpus_report.json` was not found.", ""]
    totals = report.get("totals")
    if isinstance(totals, dict):
        lines += ["Ledger totals (`corpus/corpus_report.json`; every input record is kept, dropped or quarantined):", ""]
        lines += _table(["input", "kept", "dropped", "quarantined"],
                        [[fmt(totals.get(k)) for k in ("input", "kept", "dropped", "quarantined")]]) + [""]
    sources = report.get("sources")
    if isinstance(sources, dict) and sources:
        lines += ["Per source:", ""]
        rows = []
        for src, v in sorted(sources.items()):
            for key, val in _flat(v):
                if not isinstance(val, str) or "licen" in key.lower():
                    rows.append([fmt(src), fmt(key), fmt(val)])
        lines += _table(["source", "field", "value"], rows) + [""]
    for title, needles in (("Licences", ("licen",)), ("Contamination with benchmark test sets", ("contamin", "decontam")),
                           ("PHI/PII scrubbing (replacements per type)", ("phi", "pii")),
                           ("Drop reasons", ("drop_reason", "dropped_by", "reasons"))):
        found = _find_key(report, *needles)
        lines += [f"### {title}", ""]
        if found is None:
            lines += ["Not recorded in `corpus_report.json`.", ""]
            continue
        key, val = found
        leaves = _flat(val) if isinstance(val, (dict, list)) else [(key, val)]
        if not leaves:
            lines += ["None.", ""]
            continue
        lines += _table(["field", "value"], [[fmt(k or key), fmt(v)] for k, v in leaves]) + [""]
    return lines


def _ci(r: dict[str, Any]) -> tuple[Any, Any]:
    for lo, hi in (("ci_low", "ci_high"), ("ci95_low", "ci95_high"), ("ci_lower", "ci_upper")):
        if lo in r and hi in r:
            return r[lo], r[hi]
    for key in ("ci95", "ci", "accuracy_ci", "confidence_interval"):
        v = r.get(key)
        if isinstance(v, (list, tuple)) and len(v) == 2:
            return v[0], v[1]
        if isinstance(v, dict):
            return v.get("low", v.get("lower")), v.get("high", v.get("upper"))
    return None, None


def _n(r: dict[str, Any]) -> Any:
    for key in ("n", "num_items", "count", "num_scored", "total"):
        if isinstance(r.get(key), int):
            return r[key]
    return None


def _eval_section(results: dict[str, Any] | None) -> list[str]:
    lines = ["## Evaluation", ""]
    if results is None or not isinstance(results.get("results"), dict):
        return lines + ["No evaluation results (`eval/results.json`) were found for this run: the model is "
                        "unevaluated. Run `meditron eval` before relying on it.", ""]
    lines += ["Accuracy in % with the 95% bootstrap confidence interval, from `eval/results.json`:", ""]
    rows = []
    for bench, modes in sorted(results["results"].items()):
        if not isinstance(modes, dict):
            continue
        for mode, r in sorted(modes.items()):
            if not isinstance(r, dict):
                continue
            shots = r.get("num_fewshot")
            label = f"{mode} ({shots}-shot)" if isinstance(shots, int) and shots > 0 else mode
            rows.append(_eval_row(bench, label, r))
            if isinstance(r.get("zero_shot"), dict) and shots:
                rows.append(_eval_row(bench, f"{mode} (0-shot)", r["zero_shot"]))
    lines += _table(["benchmark", "mode", "accuracy (%)", "95% CI (%)", "items", "unparsed answers"], rows) + [""]
    lines += ["Accuracy ± std is over few-shot seeds where several were run. Unparsed answers count as wrong.", ""]
    return lines


def _eval_row(bench: str, label: str, r: dict[str, Any]) -> list[str]:
    lo, hi = _ci(r)
    ci = f"{pct(lo)}–{pct(hi)}" if lo is not None and hi is not None else "—"
    std = f" ± {pct(r['std'])}" if isinstance(r.get("std"), (int, float)) else ""
    return [fmt(bench), fmt(label), pct(r.get("accuracy")) + std, ci, fmt(_n(r)), fmt(r.get("unparsed"))]


def _training_section(manifest: dict[str, Any]) -> list[str]:
    lines = ["## Training", ""]
    cfg = manifest.get("config") or {}
    model = cfg.get("model") or {}
    if model.get("path"):
        lines += [f"Base model: `{fmt(model['path'])}`.", ""]
    elif model.get("preset"):
        lines += [f"Base model: a freshly initialised `{fmt(model['preset'])}` preset (no pretrained weights).", ""]
    for section in ("train", "finetune"):
        sec = cfg.get(section)
        if not isinstance(sec, dict):
            continue
        rows = [[fmt(k), fmt(sec[k])] for k in _TRAIN_KEYS if k in sec]
        if rows:
            lines += [f"`{section}` configuration (from `run.json`):", ""] + _table(["key", "value"], rows) + [""]
    stages = manifest.get("stages") or {}
    if stages:
        rows = []
        for stage, entry in stages.items():
            metrics = entry.get("metrics") or {}
            shown = ", ".join(f"{k}={fmt(v)}" for k, v in _flat(metrics) if not isinstance(v, str)) or "—"
            rows.append([fmt(stage), fmt(entry.get("finished")), shown])
        lines += ["Stages recorded in `run.json`:", ""] + _table(["stage", "finished", "metrics"], rows) + [""]
    versions = manifest.get("versions") or {}
    if versions:
        lines += ["Software: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())) + ".", ""]
    return lines


def _lineage_section(lineage: dict[str, Any]) -> list[str]:
    rows = []
    data = lineage.get("data") or {}
    for key in ("corpus_report", "shards_manifest"):
        if data.get(key):
            rows.append([f"data: {key}", f"`{data[key]['path']}`", f"`{data[key]['sha256'][:16]}`"])
    ck = lineage["checkpoint"]
    for name, h in sorted(ck["files"].items())[:8]:
        rows.append([f"checkpoint ({ck['kind']})", f"`{ck['path']}/{name}`", f"`{h[:16]}`"])
    src = ck.get("consolidated_from")
    if src:
        for name, h in sorted(src["files"].items())[:8]:
            rows.append([f"checkpoint (dcp, step {src.get('step')})", f"`{src['path']}/{name}`", f"`{h[:16]}`"])
    for name, h in sorted(lineage["export"]["files"].items()):
        if name.endswith((".safetensors", ".gguf")):
            rows.append(["export", f"`{name}`", f"`{h[:16]}`"])
    if lineage.get("results"):
        rows.append(["results", f"`{lineage['results']['path']}`", f"`{lineage['results']['sha256'][:16]}`"])
    return ["## Lineage", "",
            "SHA-256 prefixes (full hashes of every file in `lineage.json`) tying data → checkpoint → export → results:",
            ""] + _table(["stage", "file", "sha256"], rows) + [""]


def render_model_card(*, run: RunDir | None, lineage: dict[str, Any], model_name: str,
                      chat_template: bool, export_format: str) -> str:
    """The card's Markdown text (with Hugging Face YAML front matter)."""
    manifest = run.read_manifest() if run else {}
    report = _read_json(run.corpus_report) if run else None
    shards = _read_json(run.shards_manifest) if run else None
    results = _read_json(run.eval_results) if run else None
    front = ["---", "library_name: transformers" if export_format == "hf" else "library_name: gguf",
             "pipeline_tag: text-generation", "tags:", "- medical", "- meditron", "- not-for-clinical-use", "---", ""]
    kind = ("finetuned for chat (ChatML template included)" if chat_template
            else "a base (pretrained) model: it continues text and does not follow chat instructions")
    lines = front + [
        f"# {model_name}", "", NOT_FOR_CLINICAL_USE, "",
        f"A medical language model built with [meditron](https://github.com/epfLLM/meditron)'s pipeline "
        f"(run `{fmt(manifest.get('name') or 'unknown')}`). It is {kind}.", "",
        "## Intended use", "",
        "- Research on medical language modelling, evaluation and safety; building and testing tools for clinicians "
        "under expert supervision.",
        "- **Out of scope:** unsupervised clinical decision making, patient-facing advice, use on identifiable patient "
        "data without an approved governance process, and any deployment without local validation.",
        "- Known limits: it can state false facts confidently, reproduce biases of its sources, and lag behind current "
        "guidelines. Benchmark accuracy below is not evidence of clinical safety.", "",
    ]
    lines += _corpus_section(report, shards)
    lines += _training_section(manifest)
    lines += _eval_section(results)
    lines += _lineage_section(lineage)
    usage = ("```bash\nmeditron serve --model PATH_TO_THIS_DIR   # OpenAI-compatible API and chat page on 127.0.0.1:8000\n```"
             if export_format == "hf" else
             "```bash\nllama-cli -m MODEL.gguf -cnv   # or llama_cpp.Llama(model_path=...) in Python\n```")
    lines += ["## How to use", "", usage, ""]
    return "\n".join(lines).rstrip() + "\n"
