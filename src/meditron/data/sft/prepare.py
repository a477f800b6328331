"""From the ``finetune`` config to a data source: build → guard → tokenize → (pack) → ``SFTSource``, with a report.

The report (saved by the finetuning stage as ``<run>/logs/finetune_data.json``) holds every count a user needs to
trust the data: records read and examples built per file, skips per reason, the examples dropped by the contamination
guard with the test item each overlaps, the examples too long for ``seq_len``, and token statistics.

With ``cache_dir``, the tokenized examples and the report are cached under a key of all their inputs (``cache.py``):
a resumed run, or the other ranks of a distributed one, load them instead of tokenizing again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import PreTrainedTokenizerBase

from meditron.errors import ConfigError

from . import cache
from .builders import build_examples
from .chat_template import TokenizedExample, tokenize_examples
from .config import SFTDataSection
from .dataset import SFTSource
from .guard import guard_examples


def prepare_sft_data(
    cfg: SFTDataSection,
    tok: PreTrainedTokenizerBase,
    *,
    seed: int,
    cache_dir: Path | None = None,
    max_context: int | None = None,
) -> tuple[SFTSource, dict[str, Any]]:
    """The finetuning data source for ``cfg.datasets`` and the data report. The tokenizer must have the template.

    Raises :class:`NoExampleLeft` (with the report) when nothing is left to train on; ``max_context`` (the model's)
    only shapes its advice."""
    if not cfg.datasets:
        raise ConfigError(
            "finetune.datasets is empty: list at least one {kind, path} (medqa, medmcqa, pubmedqa, chat)"
        )
    key = cache.cache_key(cfg, tok) if cache_dir is not None else None
    cached = cache.load(Path(cache_dir) / key) if key is not None else None
    if cached is not None:
        tokenized, report = cached
        report["cache"] = {"dir": str(Path(cache_dir) / key), "hit": True}
    else:
        tokenized, report = _tokenized(cfg, tok, max_context)
        if key is not None:
            cache.save(Path(cache_dir) / key, tokenized, report)
            report["cache"] = {"dir": str(Path(cache_dir) / key), "hit": False}
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id or 0
    source = SFTSource(tokenized, seq_len=cfg.seq_len, seed=seed, packing=cfg.packing, pad_id=pad_id)
    report["source"] = source.stats()
    return source, report


def _tokenized(
    cfg: SFTDataSection, tok: PreTrainedTokenizerBase, max_context: int | None = None
) -> tuple[list[TokenizedExample], dict[str, Any]]:
    """Build → guard → tokenize; examples longer than ``seq_len`` are dropped and listed."""
    examples = []
    builds = []
    seen: dict[str, str] = {}
    for ds in cfg.datasets:
        exs, rep = build_examples(ds.kind, ds.path, cot=ds.cot, limit=ds.limit)
        for ex in exs:  # the same file listed twice, or one PMID/id in two files: it would be trained on twice
            if ex.id in seen:
                raise ConfigError(
                    f"finetune.datasets: example id {ex.id!r} appears twice (in {seen[ex.id]} and {rep.path}); "
                    "list each file once, and give same-named files distinct names"
                )
            seen[ex.id] = rep.path
        examples.extend(exs)
        builds.append(rep.to_dict())
    report: dict[str, Any] = {"datasets": builds, "num_built": len(examples)}

    if cfg.guard_benchmarks_dir:
        examples, guard = guard_examples(
            examples, cfg.guard_benchmarks_dir, n=cfg.guard_ngram, threshold=cfg.guard_threshold
        )
        if not guard.num_test_items:
            raise ConfigError(
                f"finetune.guard_benchmarks_dir {cfg.guard_benchmarks_dir!r} holds no benchmark test file"
            )
        report["guard"] = guard.to_dict()
    else:
        report["guard"] = None

    tokenized: list[TokenizedExample] = []
    too_long: list[dict[str, Any]] = []
    for t in tokenize_examples(tok, examples):
        if len(t) > cfg.seq_len:
            too_long.append({"example": t.id, "num_tokens": len(t)})
            continue
        tokenized.append(t)
    report["too_long"] = {"seq_len": cfg.seq_len, "num_dropped": len(too_long), "examples": too_long}
    if not tokenized:
        raise NoExampleLeft(report, max_context)
    return tokenized, report


class NoExampleLeft(ConfigError):
    """Every example was skipped, guarded out or too long. Carries the data report (the finetuning stage writes it
    anyway, so the user can see why) and names the setting that would keep examples."""

    def __init__(self, report: dict[str, Any], max_context: int | None = None):
        self.report = report
        guard = report["guard"]["num_dropped"] if report["guard"] else 0
        too_long = report["too_long"]
        lengths = [e["num_tokens"] for e in too_long["examples"]]
        seq_len = too_long["seq_len"]
        counts = (
            f"built {report['num_built']}, guard dropped {guard}, {len(lengths)} longer than finetune.seq_len {seq_len}"
        )
        super().__init__(f"no finetuning example is left ({counts}): {_fix(report, lengths, max_context)}")


def _fix(report: dict[str, Any], lengths: list[int], max_context: int | None) -> str:
    """What to change, from the reason most examples went."""
    if not report["num_built"]:
        return "the files in finetune.datasets gave no example (see the skips per reason in the data report)"
    if not lengths:
        return (
            "every example overlaps a test item of finetune.guard_benchmarks_dir: train on the benchmarks' training "
            "files, not their test files"
        )
    shortest, longest = min(lengths), max(lengths)
    limit = f" (the model's context is {max_context})" if max_context else ""
    if max_context is None or longest <= max_context:
        return f"raise finetune.seq_len to {longest} (the longest example) or at least {shortest} (the shortest){limit}"
    if shortest <= max_context:
        return (
            f"raise finetune.seq_len to at least {shortest} (the shortest example) and at most {max_context} (the "
            f"model's context); examples up to {longest} tokens need a model with a longer context"
        )
    return (
        f"the shortest example has {shortest} tokens, more than the model's context of {max_context}: use shorter "
        "examples (e.g. your own conversations as a finetune.datasets entry of kind chat) or a model with a longer "
        "context"
    )
