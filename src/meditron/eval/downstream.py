"""In-training benchmark evaluation (``train.downstream_eval``, paper Table 6): the evaluation stage's top-token scoring
run on the model being trained.

``train`` must not import ``eval``, so the front end (``meditron pretrain``, the quickstart) builds a
:class:`DownstreamEvaluator` and hands it to the trainer, which calls ``evaluator(model, step)`` next to its
validation loss. Nothing is implemented twice: the benchmark files are read by :mod:`meditron.benchmarks`, the seeded
``limit`` sample and the few-shot pools come from ``eval.run`` (``_bench_run``), prompts, the context rule and scoring
from ``eval.runners.top_token_pass`` (→ ``eval.modes.top_token``), accuracies from ``eval.report.summarize``, and the
live model is wrapped in the same lm-eval model as ``--backend meditron`` (:class:`PrefixSharingHFLM`). So a logged
number equals what ``meditron eval`` gives for that step's checkpoint with :func:`eval_config` of the same section.

Distributed training: every rank calls the evaluator with its shard of the model (FSDP2 and/or TP) and runs the same
requests in the same order. Each forward pass is a collective (FSDP2 all-gathers one layer's weights at a time, TP
reduces activations), so the ranks stay in lockstep and no rank ever holds the full model; all ranks compute the
same numbers. lm-eval's ``HFLM`` given a model instance creates no ``Accelerator`` and sets rank 0 / world size 1, so
it never splits the requests across ranks (each rank must run all of them for the collectives to match).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from meditron.benchmarks import load_benchmark
from meditron.eval import modes as M
from meditron.eval import report as R
from meditron.eval.config import EvalConfig
from meditron.eval.context import quiet_backend_truncation
from meditron.eval.metrics import mean_std
from meditron.eval.run import _bench_run
from meditron.eval.runners import BenchRun, Session, fewshot_seeds, top_token_pass
from meditron.model_info import read_model_context

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from meditron.train.config import DownstreamEvalConfig

log = logging.getLogger(__name__)

#: The scoring mode: the paper's top token (full-vocabulary argmax at the answer position), as in Table 6.
MODE = "top_token"
#: Resamples for ``report.summarize``'s interval, which the evaluator does not use (it keeps only the accuracy).
_UNUSED_BOOTSTRAP = 10


def eval_config(section: DownstreamEvalConfig, model: str | Path | None = None, out: Path | None = None) -> EvalConfig:
    """The ``eval`` section that scores what ``section`` scores: ``meditron eval`` with it on a step's checkpoint
    (its HF export) gives the numbers the trainer logged at that step."""
    return EvalConfig(
        model=str(model) if model is not None else None,
        backend="meditron",
        data_dir=section.data_dir,
        benchmarks=list(section.benchmarks),
        modes=[MODE],
        num_fewshot=section.num_fewshot,
        seeds=list(section.seeds),
        limit=section.limit,
        sample_seed=section.sample_seed,
        batch_size=section.batch_size,
        out=out,
    )


def _tokenizer_as_eval_loads_it(tokenizer: PreTrainedTokenizerBase) -> PreTrainedTokenizerBase:
    """The trainer's tokenizer saved and reloaded by ``load_tokenizer``, as ``meditron eval`` reads it from a
    checkpoint's HF export. A copy, too: lm-eval may set a pad token on it, and the trainer saves its own with
    every checkpoint."""
    from meditron.tokenizer import load_tokenizer

    tmp = Path(tempfile.mkdtemp(prefix="meditron-downstream-tok-"))
    try:
        tokenizer.save_pretrained(tmp)
        return load_tokenizer(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def _untouched(model: torch.nn.Module) -> Iterator[None]:
    """While lm-eval's ``HFLM`` wraps the live model: no ``tie_weights`` (training built the model tied as it should
    be; re-tying would re-register a sharded FSDP2 parameter) and no warnings about being handed an instance."""
    quiet = logging.getLogger("lm_eval.models.huggingface")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    model.tie_weights = lambda *args, **kwargs: None  # an instance attribute shadows the method
    try:
        yield
    finally:
        del model.tie_weights
        quiet.setLevel(level)


class DownstreamEvaluator:
    """``evaluator(model, step) -> {name: accuracy}`` for ``train.downstream_eval``; benchmark files are read (and
    refused, with the reason) when it is built, before training starts.

    The returned keys: ``<bench>`` (the headline accuracy: mean over seeds, as results.json's ``accuracy``),
    ``<bench>/std`` (sample std over seeds), ``<bench>/seed<seed>`` (each seed's), and ``average`` (mean of the
    benchmarks' accuracies, Table 6's "Avg"). Zero-shot (``num_fewshot: 0``): ``<bench>`` only, plus ``average``.
    """

    def __init__(self, section: DownstreamEvalConfig, tokenizer: PreTrainedTokenizerBase):
        if section.data_dir is None:
            raise ValueError("downstream_eval.data_dir is required")
        self.cfg = eval_config(section)
        self.tokenizer = _tokenizer_as_eval_loads_it(tokenizer)
        data_dir = Path(section.data_dir)
        sets = {name: load_benchmark(name, data_dir) for name in section.benchmarks}
        # top_token_pass writes no item files, so the items folder is never created.
        self.benches: list[BenchRun] = [
            _bench_run(name, bset, self.cfg, data_dir, Path("unused")) for name, bset in sets.items()
        ]
        self._lm: Any = None
        self._wrapped: int | None = None

    def __call__(self, model: torch.nn.Module, step: int) -> dict[str, float]:
        """Score every benchmark on ``model`` as it is now (eval mode, no gradients); the train mode is restored."""
        t0 = time.perf_counter()
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad(), quiet_backend_truncation():
                session = self._session(model)
                scores: dict[str, float] = {}
                for bench in self.benches:
                    bench.fitters = {}  # a fresh count of prompts cut, per evaluation
                    scores.update(self._score(session, bench))
        finally:
            model.train(was_training)
        heads = [scores[b.name] for b in self.benches]
        scores["average"] = round(sum(heads) / len(heads), 6)
        shown = ", ".join(f"{b.name} {scores[b.name]:.3f}" for b in self.benches)
        log.info("downstream step %d (%s, n=%s): %s; average %.3f (%.1f s)", step, self._shots(),
                 "/".join(str(len(b.items)) for b in self.benches), shown, scores["average"],
                 time.perf_counter() - t0)  # fmt: skip
        return scores

    def _shots(self) -> str:
        cfg = self.cfg
        return f"{cfg.num_fewshot}-shot x {len(cfg.seeds)} seeds" if cfg.num_fewshot else "zero-shot"

    def _session(self, model: torch.nn.Module) -> Session:
        """The evaluation session on the live model: the backend ``meditron eval`` uses, wrapped once per model."""
        context = read_model_context(model.config)
        if self._wrapped != id(model):
            from meditron.eval.backends import PrefixSharingHFLM

            with _untouched(model):
                self._lm = PrefixSharingHFLM(
                    pretrained=model,
                    tokenizer=self.tokenizer,
                    batch_size=self.cfg.batch_size,
                    **({"max_length": context.max_context} if context.max_context else {}),
                )
            self._wrapped = id(model)
        source = f"config.json {context.key}" if context.key else "unknown"
        return Session(self.cfg, lm_ll=self._lm, max_context=context.max_context, max_context_source=source)

    def _score(self, session: Session, bench: BenchRun) -> dict[str, float]:
        """One benchmark: the k-shot pass of every seed (or the zero-shot pass), as ``run_top_token`` scores them."""
        cfg = self.cfg
        seeds = fewshot_seeds(cfg, bench)
        if not seeds:
            zero = top_token_pass(session, bench, MODE, 0, None)
            return {bench.name: R.summarize(zero, bootstrap_samples=_UNUSED_BOOTSTRAP)["accuracy"]}
        runs = {str(seed): top_token_pass(session, bench, MODE, cfg.num_fewshot, seed) for seed in seeds}
        per_seed = {seed: R.summarize(recs, bootstrap_samples=_UNUSED_BOOTSTRAP)["accuracy"] for seed, recs in runs.items()}
        merged = R.summarize(M.per_item_mean(runs), bootstrap_samples=_UNUSED_BOOTSTRAP)["accuracy"]
        out = {bench.name: merged, f"{bench.name}/std": round(mean_std(list(per_seed.values()))[1], 6)}
        out.update({f"{bench.name}/seed{seed}": acc for seed, acc in per_seed.items()})
        return out


def build_downstream_evaluator(
    section: DownstreamEvalConfig,
) -> Callable[[PreTrainedTokenizerBase], DownstreamEvaluator] | None:
    """What a front end passes to ``run_pretrain``: None when the section is disabled, else a builder that the stage
    calls with its tokenizer (known only once the shards' tokenizer is resolved)."""
    if not section.enabled:
        return None
    return lambda tokenizer: DownstreamEvaluator(section, tokenizer)
