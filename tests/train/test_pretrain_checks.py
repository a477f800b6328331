"""``meditron pretrain`` checks its inputs before training: shards made with another tokenizer than the model's, or
framed differently (BOS), are refused in one line naming both tokenizers; a ``train.seq_len`` above the model's
context is refused naming both numbers. On the real aidreams260K model and the real 32k SentencePiece tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from meditron.config import RunConfig
from meditron.data.shards import write_manifest
from meditron.errors import ConfigError, InputError
from meditron.run import RunDir
from meditron.tokenizer import add_special_tokens, describe_tokenizer, load_tokenizer
from meditron.train.pretrain import run_pretrain
from tests.corpus.test_shard_tokenization import AIDREAMS, SPM_32K, TEXTS, write_shard
from tests.testing import requires_shared_data

pytestmark = requires_shared_data


def make_shards(root: Path, tokenizer: Path, **tokenization) -> Path:
    """Real shards of TEXTS (the shards stage's tokenizer preparation and writer) with their manifest."""
    f, prep = write_shard(root, str(tokenizer), **tokenization)
    shards = root / "shards"
    write_manifest(shards, {
        "token_size": prep.token_size, "tokenizer": "tokenizer", "eos_id": prep.record["eos_id"],
        "vocab_size": prep.vocab_size, "tokenization": prep.record,
        "sources": {"papers": {"train": {"files": ["train/papers/00000.ds"], "num_tokens": len(f.tokens),
                                         "num_docs": len(TEXTS)}}},
    })  # fmt: skip
    return shards


def pretrain(tmp_path: Path, shards: Path, **train):
    cfg = RunConfig.model_validate({
        "name": "p", "out_dir": str(tmp_path / "runs"), "model": {"path": str(AIDREAMS)},
        "train": {"shards_dir": str(shards), "seq_len": 32, "steps": 1, "tensorboard": False, **train},
    })  # fmt: skip
    return run_pretrain(cfg, RunDir.from_config(cfg), resume=False)


def identity(source: Path) -> str:
    tok = load_tokenizer(source)
    add_special_tokens(tok)
    return describe_tokenizer(tok).short()


def test_shards_of_another_tokenizer_are_refused_in_one_line(tmp_path):
    shards = make_shards(tmp_path, SPM_32K)
    with pytest.raises(InputError) as err:
        pretrain(tmp_path, shards)
    message = str(err.value)
    assert message == (
        f"{shards / 'manifest.json'}: the shards were made with a different tokenizer than the model's: shards' "
        f"tokenizer {SPM_32K} (corpus.tokenizer) ({identity(SPM_32K)}) vs model's tokenizer {AIDREAMS} (model.path) "
        f"({identity(AIDREAMS)}); rerun `meditron corpus run` with corpus.tokenizer set to the model's tokenizer, or "
        "set train.shards_dir to shards made with it"
    )
    assert "\n" not in message and "vocab 32012" in message and "vocab 524" in message
    assert not (tmp_path / "runs" / "p" / "checkpoints").exists()  # refused before any training


def test_model_tokenizer_no_longer_silently_wins(tmp_path):
    """``model.tokenizer`` must be the shards' tokenizer; another one is a config error naming both, never used."""
    shards = make_shards(tmp_path, AIDREAMS)
    cfg = RunConfig.model_validate({
        "name": "p", "out_dir": str(tmp_path / "runs"), "model": {"preset": "tiny-llama", "tokenizer": str(SPM_32K)},
        "train": {"shards_dir": str(shards), "seq_len": 32, "steps": 1},
    })  # fmt: skip
    with pytest.raises(ConfigError, match=r"shards' tokenizer .*vocab 524.* vs model's tokenizer .*model\.tokenizer"):
        run_pretrain(cfg, RunDir.from_config(cfg), resume=False)


def test_shards_without_bos_are_refused_for_a_bos_model(tmp_path):
    """Shards from before the BOS convention (no ``tokenization`` record: documents end with EOS only) do not match
    a Llama model whose tokenizer adds BOS; shards framed explicitly without BOS (``corpus.tokenization.bos=false``)
    are the user's choice and pass this check."""
    shards = make_shards(tmp_path / "old", AIDREAMS, bos=False)
    manifest = json.loads((shards / "manifest.json").read_text())
    del manifest["tokenization"]
    (shards / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError) as err:
        pretrain(tmp_path, shards)
    assert str(err.value) == (
        f"{shards / 'manifest.json'}: the shards' documents do not start with BOS but the model's tokenizer "
        f"{AIDREAMS} (model.path) adds one at inference (shards' tokenizer {shards / 'tokenizer'}); rerun `meditron "
        "corpus run` with corpus.tokenizer set to the model's tokenizer, or set train.shards_dir to shards made with "
        "it, or set corpus.tokenization.bos explicitly"
    )
    explicit = make_shards(tmp_path / "explicit", AIDREAMS, bos=False)
    with pytest.raises(ConfigError, match="train.seq_len=256 is above"):  # past the tokenizer check
        pretrain(tmp_path, explicit, seq_len=256)


def test_seq_len_above_the_model_context_is_refused(tmp_path):
    shards = make_shards(tmp_path, AIDREAMS / "tokenizer.model")  # the model's own tokenizer, from its .model file
    with pytest.raises(ConfigError) as err:
        pretrain(tmp_path, shards, seq_len=256)
    assert str(err.value) == (
        f"train.seq_len=256 is above the model's maximum context of 128 tokens (max_position_embeddings in the model "
        f"config ({AIDREAMS})): set train.seq_len to 128 or less"
    )


def test_the_cli_prints_the_refusal_as_one_line(tmp_path):
    """As a user sees it: ``meditron pretrain`` exits 2 with one unwrapped ``error:`` line naming both tokenizers."""
    import yaml

    from tests.train.helpers import run_cli

    shards = make_shards(tmp_path, SPM_32K)
    config = tmp_path / "my.yaml"
    config.write_text(yaml.safe_dump({
        "name": "p", "out_dir": str(tmp_path / "runs"), "model": {"path": str(AIDREAMS)},
        "train": {"shards_dir": str(shards), "seq_len": 32},
    }))  # fmt: skip
    proc = run_cli(["pretrain", "-c", str(config)], check=False)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and len(lines[0]) > 300
    assert f"shards' tokenizer {SPM_32K} (corpus.tokenizer)" in lines[0]
    assert f"vs model's tokenizer {AIDREAMS} (model.path)" in lines[0]


def test_model_tokenizer_must_extend_the_model_s_own(tmp_path):
    """``model.tokenizer`` beside a model with its own tokenizer may add tokens but not renumber the model's."""
    shards = make_shards(tmp_path, SPM_32K)
    cfg = RunConfig.model_validate({
        "name": "p", "out_dir": str(tmp_path / "runs"),
        "model": {"path": str(AIDREAMS), "tokenizer": str(SPM_32K)},
        "train": {"shards_dir": str(shards), "seq_len": 32, "steps": 1},
    })  # fmt: skip
    with pytest.raises(InputError, match=(
        rf"model\.tokenizer {SPM_32K} does not extend the tokenizer of model\.path {AIDREAMS}: "
        r"\d+ of its 512 tokens have another id or are missing .*remove model\.tokenizer"
    )):  # fmt: skip
        run_pretrain(cfg, RunDir.from_config(cfg), resume=False)
