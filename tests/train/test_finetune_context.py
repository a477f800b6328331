"""``meditron finetune`` says what happened: a ``finetune.seq_len`` above the model's context is refused naming both
numbers; when no example is left the data report is written anyway and the error names the setting to change; the
tokens the model's vocabulary gains and how their embedding rows start are printed and kept in run.json."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch

from meditron.config import RunConfig
from meditron.errors import ConfigError
from meditron.run import RunDir
from meditron.tokenizer import ALL_SPECIAL_TOKENS, add_special_tokens, load_tokenizer
from meditron.train.config import ModelConfig
from meditron.train.model import load_full_model
from meditron.train.sft import run_finetune
from tests.corpus.test_shard_tokenization import AIDREAMS
from tests.fixtures.synthetic_qa import build_model_dir, write_medqa
from tests.testing import SHARED_DATA, requires_shared_data

PQAL = SHARED_DATA / "benchmarks" / "pubmedqa" / "ori_pqal.json"
CHATS = [
    ("What is sepsis?", "A life-threatening organ dysfunction caused by infection."),
    ("What does HbA1c measure?", "Average blood glucose over about three months."),
]


def finetune(tmp_path: Path, init_from: Path, datasets: list[dict], **finetune):
    cfg = RunConfig.model_validate({
        "name": "ft", "out_dir": str(tmp_path / "runs"),
        "finetune": {"init_from": str(init_from), "datasets": datasets, "seq_len": 128, "steps": 1,
                     "global_batch_size": 2, "micro_batch_size": 2, "tensorboard": False, **finetune},
    })  # fmt: skip
    run = RunDir.from_config(cfg)
    return run_finetune(cfg, run, resume=False), run


def write_chats(path: Path) -> Path:
    lines = [json.dumps({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]})
             for q, a in CHATS]  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@requires_shared_data
def test_seq_len_above_the_model_context_is_refused(tmp_path):
    with pytest.raises(ConfigError) as err:
        finetune(tmp_path, AIDREAMS, [{"kind": "chat", "path": str(write_chats(tmp_path / "c.jsonl"))}], seq_len=2048)
    assert str(err.value) == (
        f"finetune.seq_len=2048 is above the model's maximum context of 128 tokens (max_position_embeddings in "
        f"{AIDREAMS / 'config.json'}): set finetune.seq_len to 128 or less"
    )


@requires_shared_data
def test_no_example_left_writes_the_report_and_says_why(tmp_path):
    """Real PubMedQA items are all longer than aidreams' 128-token context: nothing to change in seq_len helps."""
    with pytest.raises(ConfigError) as err:
        finetune(tmp_path, AIDREAMS, [{"kind": "pubmedqa", "path": str(PQAL), "limit": 10}])
    report_path = tmp_path / "runs" / "ft" / "logs" / "finetune_data.json"
    report = json.loads(report_path.read_text())
    lengths = [e["num_tokens"] for e in report["too_long"]["examples"]]
    assert report["num_built"] == 10 and report["too_long"]["num_dropped"] == 10 and len(lengths) == 10
    assert min(lengths) > 128
    assert str(err.value) == (
        f"no finetuning example is left (built 10, guard dropped 0, 10 longer than finetune.seq_len 128): the "
        f"shortest example has {min(lengths)} tokens, more than the model's context of 128: use shorter examples "
        "(e.g. your own conversations as a finetune.datasets entry of kind chat) or a model with a longer context; "
        f"data report: {report_path}"
    )


def test_no_example_left_names_the_seq_len_that_keeps_them(tmp_path):
    build_model_dir(tmp_path / "init", seed=0)
    train = write_medqa(tmp_path / "phrases_no_exclude_train.jsonl", 6, seed=1)
    with pytest.raises(ConfigError) as err:
        finetune(tmp_path, tmp_path / "init", [{"kind": "medqa", "path": str(train)}], seq_len=16)
    report_path = tmp_path / "runs" / "ft" / "logs" / "finetune_data.json"
    lengths = [e["num_tokens"] for e in json.loads(report_path.read_text())["too_long"]["examples"]]
    context = json.loads((tmp_path / "init" / "config.json").read_text())["max_position_embeddings"]
    assert len(lengths) == 6 and max(lengths) <= context
    assert str(err.value) == (
        f"no finetuning example is left (built 6, guard dropped 0, 6 longer than finetune.seq_len 16): raise "
        f"finetune.seq_len to {max(lengths)} (the longest example) or at least {min(lengths)} (the shortest) (the "
        f"model's context is {context}); data report: {report_path}"
    )


@requires_shared_data
def test_added_tokens_and_their_rows_are_logged_and_recorded(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="meditron")
    summary, run = finetune(tmp_path, AIDREAMS, [{"kind": "chat", "path": str(write_chats(tmp_path / "c.jsonl"))}])
    expected = {
        "embedding_rows_before": 512, "embedding_rows": 524, "rows_added": 12, "tokens_added": list(ALL_SPECIAL_TOKENS),
        "init": "mean of the 512 existing embedding rows (the LM head is tied to it)",
    }  # fmt: skip
    assert summary["vocabulary"] == expected
    metrics = json.loads(run.manifest_path.read_text())["stages"]["finetune"]["metrics"]
    assert metrics["vocabulary"] == expected and metrics["max_context"]["tokens"] == 128
    out = [r.getMessage() for r in caplog.records if r.name.startswith("meditron.train")]
    assert (
        "finetune: added 12 tokens to the model's vocabulary ([bib_ref] [/bib_ref] [fig_ref] [/fig_ref] [fig] [/fig] "
        "[table] [/table] [formula] [/formula] <|im_start|> <|im_end|>), embedding 512 → 524 rows, new rows = mean "
        "of the 512 existing embedding rows (the LM head is tied to it)"
    ) in out


@requires_shared_data
def test_new_rows_are_the_mean_of_the_real_embedding():
    tok = load_tokenizer(AIDREAMS)
    add_special_tokens(tok)
    model = load_full_model(ModelConfig(path=str(AIDREAMS)), tok, seed=0)
    emb = model.get_input_embeddings().weight
    from safetensors.torch import load_file

    original = load_file(str(AIDREAMS / "model.safetensors"))["model.embed_tokens.weight"]
    assert emb.shape == (524, 64) and torch.equal(emb[:512], original)
    assert torch.allclose(emb[512:], original.mean(dim=0).expand(12, -1))
    assert model.get_output_embeddings().weight.data_ptr() == emb.data_ptr()  # tied: the head gained the same rows
