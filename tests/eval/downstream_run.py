"""A tiny continued-pretraining run with ``train.downstream_eval`` on, whose accuracies are not all zero.

A random model's top token is almost never an answer key, so the paper's top-token scoring would count every item
wrong and every comparison would be 0 = 0. The starting model here (:func:`make_guesser_model`) is a tiny Llama whose
LM-head rows for the answer keys (`` A``..`` E``, `` yes``/`` no``/`` maybe``) are large: its top token is an answer
key that depends on the prompt, i.e. a per-item guesser. It continues pretraining on the sample's MedQA/PubMedQA
*training* items written as answered prompts, tokenized with the sample's real tokenizer (shards in the corpus
stage's format).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from meditron.benchmarks import load_benchmark, prompts
from meditron.data.shards import write_manifest, write_token_file
from meditron.sample import SAMPLE_DIR

BENCHMARKS = ["medqa4", "pubmedqa"]
STEPS = 6
EVERY = 3
DOWNSTREAM = {
    "enabled": True,
    "data_dir": str(SAMPLE_DIR / "benchmarks"),
    "benchmarks": BENCHMARKS,
    "num_fewshot": 1,
    "seeds": [1234, 432],
    "limit": 20,
    "every_steps": EVERY,
}


def _answered(item) -> str:
    return prompts.fewshot_prefix(prompts.instruction(item), []) + prompts.top_token_prompt(item) + prompts.answer_key(item)


def _answer_key_ids(tok) -> list[int]:
    """Token ids of the answer keys as they follow ``Answer:`` (the continuation the scorer checks)."""
    keys = [*"ABCDE", "yes", "no", "maybe"]
    return sorted({tok.encode(f"Answer: {k}", add_special_tokens=False)[-1] for k in keys})


def make_guesser_model(out: Path, shards: Path, seed: int = 0) -> Path:
    """An HF directory: a 2-layer Llama on the shards' tokenizer whose top token is an answer key chosen by the prompt."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from meditron.tokenizer import load_tokenizer

    tok = load_tokenizer(shards / "tokenizer")
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tok), hidden_size=64, intermediate_size=172, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=2048, bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, tie_word_embeddings=False,
    )  # fmt: skip
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        ids = _answer_key_ids(tok)
        model.lm_head.weight[ids] = torch.randn(len(ids), config.hidden_size) * 1.0
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def make_qa_shards(root: Path) -> Path:
    """Shards of answered training prompts (source ``qa``, train + validation) with the sample tokenizer in ``tokenizer/``."""
    from meditron.tokenizer import add_special_tokens, describe_tokenizer, load_tokenizer

    tok = load_tokenizer(SAMPLE_DIR / "tokenizer")
    add_special_tokens(tok)
    tok.save_pretrained(root / "tokenizer")
    items = [it for name in BENCHMARKS for it in load_benchmark(name, SAMPLE_DIR / "benchmarks", "fewshot").items]
    docs = [tok.encode(_answered(it)) + [tok.eos_token_id] for it in items]
    train_tokens, train_docs = write_token_file(root / "train/qa/00000.ds", docs, token_size=2)
    val_tokens, val_docs = write_token_file(root / "validation/qa/00000.ds", docs[:8], token_size=2)
    identity = describe_tokenizer(tok).to_dict()
    write_manifest(root, {
        "token_size": 2,
        "tokenizer": "tokenizer",
        "eos_id": tok.eos_token_id,
        "vocab_size": len(tok),
        "tokenization": {**identity, "bos": True, "eos": True, "bos_setting": "auto", "eos_setting": "auto",
                         "source": str(SAMPLE_DIR / "tokenizer")},
        "sources": {"qa": {
            "train": {"files": ["train/qa/00000.ds"], "num_tokens": train_tokens, "num_docs": train_docs},
            "validation": {"files": ["validation/qa/00000.ds"], "num_tokens": val_tokens, "num_docs": val_docs},
        }},
    })  # fmt: skip
    return root


def write_run_config(path: Path, out_dir: Path, shards: Path, model: Path, name: str, **train) -> Path:
    """A run config: continued pretraining of ``model`` on ``shards``, downstream evaluation every ``EVERY`` steps."""
    section = {
        "shards_dir": str(shards),
        "steps": STEPS,
        "seq_len": 128,
        "global_batch_size": 8,
        "micro_batch_size": 4,
        "lr": 1e-4,
        "min_lr": 1e-5,
        "warmup_steps": 1,
        "eval_every": EVERY,
        "eval_batches": 1,
        "tensorboard": False,
        "checkpoint": {"every_steps": EVERY, "keep_last": 5},
        "downstream_eval": DOWNSTREAM,
        **train,
    }
    cfg = {"name": name, "out_dir": str(out_dir), "seed": 5, "model": {"path": str(model)}, "train": section}
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def pretrain_here(config: Path, overrides: list[str] | None = None, downstream: bool = True) -> dict:
    """``meditron pretrain`` in this process, one thread, with the evaluator the CLI builds."""
    import torch

    from meditron.config import load_config
    from meditron.eval.downstream import build_downstream_evaluator
    from meditron.run import RunDir
    from meditron.train.pretrain import run_pretrain

    cfg = load_config(config, overrides or [])
    run = RunDir.from_config(cfg)
    run.start(cfg, "pretrain")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        builder = build_downstream_evaluator(cfg.train.downstream_eval) if downstream else None
        return run_pretrain(cfg, run, resume=False, downstream_eval=builder)
    finally:
        torch.set_num_threads(threads)
