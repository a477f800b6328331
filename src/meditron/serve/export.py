"""``meditron export``: a DCP checkpoint (or a consolidated HF directory) → a release directory with a model card.

``hf``: safetensors, config, tokenizer with the added tokens and chat template (and the SentencePiece
``tokenizer.model`` whenever the model's tokenizer came from one), generation config, ``README.md`` (the model card from
the run's lineage) and ``lineage.json``. ``gguf``: GGUF files (f16, q8_0 by default) for llama.cpp with the same card
and lineage. The output is built in a temporary directory beside the target and swapped in at the end, so a failed
export never leaves a half-written model where a good one was. From a run, HF goes to ``<run>/hf`` and GGUF to
``<run>/gguf``; ``run.json`` records them as the ``export`` and ``export_gguf`` stages, so neither replaces the other.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from meditron.errors import CheckpointError, InputError
from meditron.serve.lineage import CARD_FILE, LINEAGE_FILE, build_lineage, find_run_dir, write_lineage
from meditron.serve.model_card import render_model_card

log = logging.getLogger(__name__)

FORMATS = ("hf", "gguf")
_HF_SKIP = {CARD_FILE, LINEAGE_FILE}


def is_hf_dir(path: Path) -> bool:
    """A consolidated Hugging Face model directory: config.json plus safetensors weights."""
    path = Path(path)
    return (path / "config.json").is_file() and any(path.glob("*.safetensors"))


def _consolidate(checkpoint: Path, work: Path) -> tuple[Path, Path, str]:
    """Resolve ``checkpoint`` to (HF dir, the checkpoint it came from, kind). Consolidates DCP via the train stage."""
    if is_hf_dir(checkpoint):
        return checkpoint, checkpoint, "hf"
    from meditron.train.hf_export import consolidate_checkpoint, find_latest_checkpoint

    latest = find_latest_checkpoint(checkpoint)  # the dir itself when it is a complete step_* checkpoint
    if latest is None:
        if is_hf_dir(checkpoint / "hf"):
            return checkpoint / "hf", checkpoint / "hf", "hf"
        raise CheckpointError(f"{checkpoint}: no complete checkpoint (step_*/ with .metadata) or HF directory")
    ckpt = Path(latest)
    hf = Path(consolidate_checkpoint(ckpt, work / "hf"))
    return hf, ckpt, "dcp"


def _copy_hf(src: Path, dst: Path) -> None:
    for f in sorted(src.iterdir()):
        if f.is_file() and f.name not in _HF_SKIP and not f.name.startswith(".") and f.suffix != ".gguf":
            shutil.copy2(f, dst / f.name)


def _sentencepiece_candidates(hf: Path, source: Path, run) -> list[Path]:
    """Where the tokenizer's SentencePiece model may be when ``save_pretrained`` of a fast tokenizer dropped it: the
    checkpoint's ``hf_meta/``, the run's shard tokenizer (the corpus stage keeps it there)."""
    found = [source / "hf_meta" / "tokenizer.model", source.parent / "hf_meta" / "tokenizer.model"]
    if run is not None:
        found.append(run.shards_tokenizer / "tokenizer.model")
    return [p for p in found if p.is_file()]


def _keep_sentencepiece_model(hf: Path, source: Path, run, dst: Path) -> Path | None:
    """Copy ``tokenizer.model`` into ``dst`` when ``hf`` lacks it and a file whose pieces are exactly the tokenizer's
    first ids is found (a different tokenizer's model is never taken)."""
    if (hf / "tokenizer.model").is_file() or not (hf / "tokenizer.json").is_file():
        return None
    tj = json.loads((hf / "tokenizer.json").read_text(encoding="utf-8"))
    if not tj.get("model", {}).get("byte_fallback"):
        return None  # byte-level BPE: there is no SentencePiece model to keep
    from meditron.serve.gguf_vocab import matches_sentencepiece

    for candidate in _sentencepiece_candidates(hf, source, run):
        if matches_sentencepiece(candidate, tj):
            shutil.copyfile(candidate, dst / "tokenizer.model")
            return candidate
    log.warning("%s: no tokenizer.model matching tokenizer.json was found; the export has tokenizer.json only", hf)
    return None


def _write_sentencepiece_tokenizer(dst: Path) -> None:
    """Rewrite ``dst``'s tokenizer files from the tokenizer as every meditron stage loads it (rebuilt on
    ``tokenizer.model``, :func:`meditron.tokenizer.load_tokenizer`), so that plain
    ``AutoTokenizer.from_pretrained(export)`` encodes exactly like training, serving and the GGUF (a transformers-5
    ``tokenizer.json`` copied as it is would not put ``▁`` after special tokens nor before a leading space)."""
    if not (dst / "tokenizer.model").is_file():
        return
    from meditron.tokenizer import load_tokenizer

    load_tokenizer(dst).save_pretrained(str(dst))


def _check_hf(hf: Path) -> None:
    """Fail early, naming the file, when the directory would not load: config, tokenizer, weights."""
    for name in ("config.json",):
        if not (hf / name).is_file():
            raise InputError(f"missing {name}", path=str(hf))
    if not ((hf / "tokenizer.json").is_file() or (hf / "tokenizer.model").is_file()):
        raise InputError("missing tokenizer.json / tokenizer.model: the export would not be usable", path=str(hf))
    try:
        json.loads((hf / "config.json").read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError(f"config.json is not valid JSON: {e}", path=str(hf / "config.json")) from None


def _has_chat_template(hf: Path) -> bool:
    if (hf / "chat_template.jinja").is_file() or (hf / "chat_template.json").is_file():
        return True
    tc = hf / "tokenizer_config.json"
    return tc.is_file() and bool(json.loads(tc.read_text(encoding="utf-8")).get("chat_template"))


def _model_name(out: Path, run_name: str | None) -> str:
    name = out.resolve().name
    if name in ("hf", "gguf", "export") and run_name:
        return str(run_name)
    return name


def _swap_in(tmp: Path, out: Path) -> None:
    old = out.with_name(f".{out.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    if old.exists():
        shutil.rmtree(old)


def run_export(checkpoint: Path, out: Path, fmt: str = "hf", gguf_types: Sequence[str] = ("f16", "q8_0")) -> Path:
    """Export ``checkpoint`` (DCP step dir, checkpoints folder, or HF dir) to ``out`` in ``fmt``; returns ``out``."""
    from meditron.serve.gguf import GGUF_TYPES, write_gguf

    checkpoint, out = Path(checkpoint), Path(out)
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    bad = [t for t in gguf_types if t not in GGUF_TYPES]
    if bad:
        raise InputError(f"unknown GGUF type(s) {bad}; use {', '.join(GGUF_TYPES)}")
    if not checkpoint.exists():
        raise InputError("checkpoint path does not exist", path=str(checkpoint))
    out.parent.mkdir(parents=True, exist_ok=True)
    run = find_run_dir(checkpoint, out)
    run_name = (run.read_manifest().get("name") if run else None)
    with tempfile.TemporaryDirectory(prefix=".export-", dir=out.parent) as work_s:
        work = Path(work_s)
        hf, source, kind = _consolidate(checkpoint, work)
        _check_hf(hf)
        tmp = work / "out"
        tmp.mkdir()
        name = _model_name(out, run_name)
        if fmt == "hf":
            _copy_hf(hf, tmp)
            _keep_sentencepiece_model(hf, source, run, tmp)
            _write_sentencepiece_tokenizer(tmp)
        else:
            if kind == "dcp":  # the consolidated folder is ours: give the GGUF writer the SentencePiece scores too
                _keep_sentencepiece_model(hf, source, run, hf)
            for t in gguf_types:
                write_gguf(hf, tmp / f"{name}-{t}.gguf", t, name=name)
        lineage = build_lineage(run=run, checkpoint=source, checkpoint_kind=kind, export_dir=tmp, export_format=fmt)
        write_lineage(lineage, tmp)
        card = render_model_card(run=run, lineage=lineage, model_name=name, chat_template=_has_chat_template(hf),
                                 export_format=fmt)
        (tmp / CARD_FILE).write_text(card, encoding="utf-8")
        _swap_in(tmp, out)
    if run is not None:
        _record(run, out, fmt)
    log.info("exported %s → %s (%s)", source, out, fmt)
    return out


def _record(run, out: Path, fmt: str) -> None:
    """``export`` (HF) and ``export_gguf`` are distinct stages in run.json: one export never hides the other."""
    artifacts: dict[str, str | Path] = {fmt: out, "lineage": out / LINEAGE_FILE, "card": out / CARD_FILE}
    metrics: dict[str, object] = {"format": fmt, "files": {f.name: f.stat().st_size for f in sorted(out.iterdir())
                                                           if f.is_file()}}
    if fmt == "gguf":
        metrics["gguf_types"] = sorted({t for f in out.glob("*.gguf") for t in [f.stem.rsplit("-", 1)[-1]]})
    run.record_stage("export" if fmt == "hf" else f"export_{fmt}", artifacts, metrics=metrics)


def export_summary(out: Path) -> str:
    """What ``meditron export`` wrote, for the terminal: the folder, each file with its size, and for a GGUF file its
    tensor type mix and tokenizer (model, number of tokens)."""
    out = Path(out)
    files = sorted(f for f in out.iterdir() if f.is_file())
    total = sum(f.stat().st_size for f in files)
    lines = [f"exported {out} ({len(files)} files, {_size(total)})"]
    for f in files:
        extra = f"  {_gguf_description(f)}" if f.suffix == ".gguf" else ""
        lines.append(f"  {f.name:<32} {_size(f.stat().st_size):>9}{extra}")
    return "\n".join(lines)


def _gguf_description(path: Path) -> str:
    import gguf

    r = gguf.GGUFReader(str(path))
    kinds: dict[str, int] = {}
    for t in r.tensors:
        kinds[t.tensor_type.name] = kinds.get(t.tensor_type.name, 0) + 1
    model = r.fields["tokenizer.ggml.model"].contents()
    n_tokens = len(r.fields["tokenizer.ggml.tokens"].data)
    mix = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    return f"tensors: {mix}; tokenizer {model}, {n_tokens} tokens"


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
