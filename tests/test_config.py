"""Typed configs: presets validate with the paper's hyperparameters; mistakes give messages naming key and value."""

from __future__ import annotations

import pytest

from meditron.config import CONFIGS_DIR, RunConfig, apply_overrides, dump_config, load_config
from meditron.errors import ConfigError

PRESETS = sorted(p.name for p in CONFIGS_DIR.glob("*.yaml"))


def test_presets_are_shipped():
    assert {"quickstart-cpu.yaml", "meditron-7b.yaml", "meditron-70b.yaml"} <= set(PRESETS)


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_validates(preset):
    cfg = load_config(CONFIGS_DIR / preset)
    assert isinstance(cfg, RunConfig)
    # a dumped config loads back to the same tree (run.json stores it)
    assert RunConfig.model_validate(dump_config(cfg)) == cfg


@pytest.mark.parametrize(
    ("preset", "lr", "seq_len", "batch", "tp"),
    [("meditron-7b", 3e-4, 2048, 1600, 1), ("meditron-70b", 1.5e-4, 4096, 512, 8)],
)
def test_paper_pretraining_hyperparameters(preset, lr, seq_len, batch, tp):
    t = load_config(preset).train
    assert (t.lr, t.seq_len, t.global_batch_size, t.parallel.tp) == (lr, seq_len, batch, tp)
    assert t.betas == (0.9, 0.95)
    assert (t.eps, t.weight_decay, t.grad_clip, t.warmup_steps) == (1e-5, 0.1, 1.0, 2000)
    assert t.schedule == "cosine" and t.parallel.mixed_precision == "bf16"


@pytest.mark.parametrize("preset", ["meditron-7b", "meditron-70b"])
def test_paper_finetuning_hyperparameters(preset):
    f = load_config(preset).finetune
    assert (f.lr, f.min_lr, f.warmup_ratio, f.global_batch_size, f.epochs, f.weight_decay) == (
        2e-5,
        2e-6,
        0.1,
        64,
        3,
        0.1,
    )


def test_overrides_parse_yaml_scalars_and_nested_keys():
    cfg = load_config("quickstart-cpu", ["train.lr=1e-4", "train.parallel.tp=2", "eval.modes=[cot, chat]", "name=x"])
    assert cfg.train.lr == 1e-4
    assert cfg.train.parallel.tp == 2
    assert cfg.eval.modes == ["cot", "chat"]
    assert cfg.name == "x"


def test_misspelt_key_is_named_with_a_suggestion():
    with pytest.raises(ConfigError) as e:
        load_config("quickstart-cpu", ["train.lrr=1e-4"])
    assert "unknown key 'train.lrr'" in str(e.value)
    assert "did you mean 'train.lr'" in str(e.value)


def test_misspelt_key_in_yaml_file(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("train:\n  global_batch: 8\n")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert str(p) in str(e.value)
    assert "unknown key 'train.global_batch'" in str(e.value)
    assert "train.global_batch_size" in str(e.value)
    # The seed lives at the top level only: the old per-stage keys say where it moved, for the YAML and --set.
    p.write_text("seed: 3\nfinetune:\n  seed: 8\n")
    with pytest.raises(ConfigError) as e:
        load_config(p, ["train.seed=5"])
    assert str(e.value).splitlines()[1:] == [
        "  key 'train.seed' moved to the top-level 'seed' (one seed for the whole run): write 'seed: ...' at the top "
        "of the config or --set seed=...",
        "  key 'finetune.seed' moved to the top-level 'seed' (one seed for the whole run): write 'seed: ...' at the "
        "top of the config or --set seed=...",
    ]


def test_wrong_type_names_key_and_value():
    with pytest.raises(ConfigError) as e:
        load_config("quickstart-cpu", ["train.steps=many"])
    msg = str(e.value)
    assert "key 'train.steps'" in msg and "'many'" in msg


def test_wrong_literal_names_allowed_values():
    with pytest.raises(ConfigError) as e:
        load_config(None, ["eval.modes=[top_token, beam]"])
    assert "eval.modes.1" in str(e.value) and "'beam'" in str(e.value)


def test_bad_override_syntax_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="must look like key.sub=value"):
        apply_overrides({}, ["train.lr"])
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_non_mapping_yaml(tmp_path):
    p = tmp_path / "list.yaml"
    p.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(p)


def test_model_path_and_preset_are_exclusive():
    with pytest.raises(ConfigError, match="either model.path or model.preset"):
        load_config(None, ["model.path=/x", "model.preset=tiny-llama"])


@pytest.mark.parametrize("override", ["finetune.mixture=gap_replay", "finetune.source_weights={papers: 1.0}",
                                      "finetune.shards_dir=/data/shards"])
def test_finetune_refuses_pretraining_blend_keys(override):
    """Finetuning reads chat datasets: a shard blend under finetune would be ignored, so it is refused by name."""
    key = override.split("=")[0]
    with pytest.raises(ConfigError) as e:
        load_config("quickstart-cpu", [override])
    assert f"{key}=" in str(e.value) and "has no effect" in str(e.value) and f"train.{key.split('.')[1]}" in str(e.value)


def test_reduce_grads_per_micro_batch_is_refused_under_pipeline_parallelism():
    """The pipeline schedule turns gradient sync off until each stage's last micro-batch itself."""
    assert load_config("quickstart-cpu", ["train.parallel.reduce_grads=per_micro_batch"]).train.parallel.reduce_grads \
        == "per_micro_batch"
    with pytest.raises(ConfigError, match=r"reduce_grads=per_micro_batch is not available with pp=2"):
        load_config("quickstart-cpu", ["train.parallel.reduce_grads=per_micro_batch", "train.parallel.pp=2"])
