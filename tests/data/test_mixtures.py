"""Named mixtures over one shard set: the share grammar, the mixture manifests, and what pretraining reads from them
(only the mixture's sources, in its proportions: tokens are counted per source in what the blender yields)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from meditron.config import load_config
from meditron.corpus.mixture_config import Share, parse_share
from meditron.corpus.mixtures import mixture_path, read_mixture, write_mixtures
from meditron.data.shards import write_manifest, write_token_file
from meditron.errors import ConfigError, InputError
from meditron.train.pretrain import pretrain_datasets

SEQ = 8
BLOCK = 8192  # the blender's default block: pretraining uses it
#: source → (first token id, training tokens, validation tokens). Each source's tokens are its own range of 100 ids,
#: its document end included, so every token a sample holds names the source it came from.
SOURCES = {
    "abstracts": (100, 3000, 0),
    "guidelines": (200, 4000, 100),
    "papers": (300, 6000, 200),
    "replay": (400, 2000, 0),
}


def _docs(first: int, tokens: int) -> list[list[int]]:
    """Documents of 50 tokens (49 ids of the source's range, then its end-of-document id ``first + 99``)."""
    return [[first + k for k in range(49)] + [first + 99] for _ in range(tokens // 50)]


def make_shards(root: Path) -> Path:
    """Four sources through the shard writer (papers in two files), two with a validation split."""
    sources: dict = {}
    for name, (first, train, val) in SOURCES.items():
        docs = _docs(first, train)
        halves = [docs[: len(docs) // 2], docs[len(docs) // 2 :]] if name == "papers" else [docs]
        files, total = [], 0
        for j, part in enumerate(halves):
            t, _ = write_token_file(root / f"train/{name}/{j:05d}.ds", part, 2)
            files.append(f"train/{name}/{j:05d}.ds")
            total += t
        sources[name] = {"train": {"files": files, "num_tokens": total, "num_docs": len(docs)}}
        if val:
            t, d = write_token_file(root / f"validation/{name}/00000.ds", _docs(first, val), 2)
            sources[name]["validation"] = {"files": [f"validation/{name}/00000.ds"], "num_tokens": t, "num_docs": d}
    write_manifest(root, {"token_size": 2, "tokenizer": "tokenizer", "eos_id": 2, "vocab_size": 600,
                          "sources": sources})  # fmt: skip
    return root


WEIGHTS = {"guidelines": 0.5, "papers": 0.3, "replay": 0.2}  # abstracts left out
BUDGETS = {"papers": "1x", "abstracts": "4.5K", "replay": 0}  # 6000 + 4500 tokens; replay listed but left out
MIXTURES = {"gap_mix": WEIGHTS, "pmc_budget": BUDGETS}


def tokens_per_source(dataset, n: int) -> dict[str, int]:
    """Tokens of each source among the first ``n`` samples the dataset yields, told apart by their id range."""
    counts = dict.fromkeys(SOURCES, 0)
    for i in range(n):
        ids = dataset[i]["input_ids"]
        for name, (first, _, _) in SOURCES.items():
            counts[name] += int(((ids >= first) & (ids < first + 100)).sum())
    return counts


@pytest.fixture
def shards(tmp_path) -> Path:
    root = make_shards(tmp_path / "shards")
    write_mixtures(root, MIXTURES)
    return root


def _cfg(root: Path, mixture: str, mixtures: dict | None = None):
    sets = [f"train.shards_dir={root}", f"train.seq_len={SEQ}", "seed=5", f"train.mixture={mixture}"]
    if mixtures is not None:
        sets.append(f"corpus.mixtures={json.dumps(mixtures)}")
    return load_config(None, sets)


def test_share_grammar():
    assert parse_share(0.5) == Share("weight", 0.5) and parse_share(1e-2) == Share("weight", 0.01)
    assert parse_share(0.0) == Share("weight", 0.0) and parse_share(0) == Share("tokens", 0)
    assert parse_share(2_000_000) == Share("tokens", 2_000_000)
    assert parse_share("2B") == Share("tokens", 2 * 10**9) and parse_share("1.5b") == Share("tokens", 1_500_000_000)
    assert parse_share("500M") == Share("tokens", 500 * 10**6) and parse_share("420k") == Share("tokens", 420_000)
    assert parse_share("1T") == Share("tokens", 10**12) and parse_share("2_000") == Share("tokens", 2000)
    assert parse_share("1x") == Share("epochs", 1.0) and parse_share(" 2.5X ") == Share("epochs", 2.5)
    assert Share("epochs", 2.5).budget_tokens(3001) == 7502 and Share("tokens", 4500).budget_tokens(10) == 4500
    with pytest.raises(ValueError, match=r"^1 reads as a token budget of 1 token; .* write it as a float \(e.g\. 1\.0\)"):
        parse_share(1)
    with pytest.raises(ValueError, match="'999' reads as a token budget of 999 tokens"):
        parse_share("999")
    with pytest.raises(ValueError, match="'2Q' is not a token budget"):
        parse_share("2Q")
    with pytest.raises(ValueError, match="a weight must be a finite number ≥ 0, got -0.5"):
        parse_share(-0.5)
    with pytest.raises(ValueError, match="True is neither a weight"):
        parse_share(True)


def test_config_errors_name_the_key():
    sources = ["corpus.sources=[{name: papers, kind: jats, paths: [x]}, {name: replay, kind: jsonl, paths: [y]}]"]
    cases = {
        "corpus.mixtures.m={papers: 1}": "key 'corpus.mixtures.m.papers': Value error, 1 reads as a token budget",
        "corpus.mixtures.m={papers: 0.5, replay: 2K}": "key 'corpus.mixtures.m': Value error, mixes weights (papers) "
        "and token budgets (replay)",
        "corpus.mixtures.m={code: 0.5}": "corpus.mixtures.m names 'code', not a source of the corpus "
        "(corpus.sources: papers, replay)",
        "corpus.mixtures.m={papers: 0.0}": "a mixture needs at least one source with a share above 0",
        "corpus.mixtures={a/b: {papers: 1.0}}": "mixture name 'a/b' must be letters, digits",
        "train.source_weights={papers: 1.0}": "both set the blend of sources: keep one",
    }
    for override, message in cases.items():
        extra = ["train.mixture=m"] if override.startswith("train.") else []
        with pytest.raises(ConfigError) as err:
            load_config(None, [*sources, override, *extra])
        assert message in str(err.value), (override, str(err.value))
    # budgets of tokens and epochs mix; weights alone too
    cfg = load_config(None, [*sources, "corpus.mixtures={a: {papers: 1x, replay: 2M}, b: {papers: 1.0}}"])
    assert cfg.corpus.mixtures == {"a": {"papers": "1x", "replay": "2M"}, "b": {"papers": 1.0}}


def test_manifests_give_shares_budgets_and_epochs(shards):
    weights = json.loads(mixture_path(shards, "gap_mix").read_text())
    assert weights["kind"] == "weights" and weights["total_tokens"] is None
    assert weights["spec"] == WEIGHTS and weights["left_out"] == ["abstracts"]
    assert {s: e["share"] for s, e in weights["sources"].items()} == pytest.approx(WEIGHTS)
    assert {s: e["available_tokens"] for s, e in weights["sources"].items()} == {
        "guidelines": 4000, "papers": 6000, "replay": 2000}  # fmt: skip
    assert weights["validation_sources"] == ["guidelines", "papers"]
    budgets = json.loads(mixture_path(shards, "pmc_budget").read_text())
    assert budgets["kind"] == "budgets" and budgets["total_tokens"] == 10500
    assert budgets["sources"]["papers"] == {"weight": 6000.0, "available_tokens": 6000, "budget_tokens": 6000,
                                            "epochs": 1.0, "validation_tokens": 200, "share": 6000 / 10500}
    assert budgets["sources"]["abstracts"] == {"weight": 4500.0, "available_tokens": 3000, "budget_tokens": 4500,
                                               "epochs": 1.5, "validation_tokens": 0, "share": 4500 / 10500}
    assert budgets["left_out"] == ["guidelines", "replay"] and budgets["validation_sources"] == ["papers"]


def test_each_mixture_reads_only_its_sources_in_its_proportions(shards):
    n = 2 * BLOCK  # two whole blocks: counts are exact
    train, val, _ = pretrain_datasets(_cfg(shards, "gap_mix", MIXTURES), shards)
    # largest remainder of 0.5/0.3/0.2 × 8192 = 4096, 2457.6, 1638.4 → 4096, 2458, 1638 sequences per block
    assert train.names == ["guidelines", "papers", "replay"] and train.counts.tolist() == [4096, 2458, 1638]
    located = [train.locate(i)[0] for i in range(n)]
    for b in range(2):  # each block holds exactly its counts
        block = located[b * BLOCK : (b + 1) * BLOCK]
        assert [block.count(s) for s in train.names] == [4096, 2458, 1638]
    # every token is counted once, by its source: 2 blocks × sequences per block × SEQ tokens, none from abstracts
    assert tokens_per_source(train, n) == {"abstracts": 0, "guidelines": 2 * 4096 * SEQ, "papers": 2 * 2458 * SEQ,
                                           "replay": 2 * 1638 * SEQ}  # fmt: skip
    assert len(val) == 100 // SEQ + 200 // SEQ  # guidelines' and papers' validation splits
    assert tokens_per_source(val, len(val)) == {"abstracts": 0, "guidelines": 96, "papers": 200, "replay": 0}

    train, val, _ = pretrain_datasets(_cfg(shards, "pmc_budget", MIXTURES), shards)
    # 6000 : 4500 tokens = 4/7 : 3/7 of 8192 = 4681.14, 3510.86 → 4681, 3511 (abstracts' larger remainder)
    assert train.names == ["abstracts", "papers"] and train.counts.tolist() == [3511, 4681]
    assert train.shares == {"abstracts": 3511 / BLOCK, "papers": 4681 / BLOCK}
    assert tokens_per_source(train, n) == {"abstracts": 2 * 3511 * SEQ, "guidelines": 0, "papers": 2 * 4681 * SEQ,
                                           "replay": 0}  # fmt: skip
    located = [train.locate(i)[0] for i in range(n)]
    assert located.count("abstracts") == 2 * 3511 and located.count("papers") == 2 * 4681
    # abstracts (375 sequences) repeat: each pass over them is a full permutation
    draws = [train.locate(i)[1] for i in range(n) if located[i] == "abstracts"]
    assert sorted(draws[:375]) == list(range(375)) and sorted(draws[375:750]) == list(range(375))
    assert len(val) == 200 // SEQ  # papers' validation only: abstracts have none


def test_sources_outside_the_mixture_are_never_opened(shards):
    for f in (shards / "train" / "guidelines").glob("*.ds"):
        f.unlink()
    train, _, _ = pretrain_datasets(_cfg(shards, "pmc_budget"), shards)
    assert train.names == ["abstracts", "papers"]
    with pytest.raises(InputError, match=r"train/guidelines/00000.ds: token shard listed in the manifest is missing"):
        pretrain_datasets(_cfg(shards, "gap_mix"), shards)


def test_missing_stale_and_edited_mixtures_are_refused(shards):
    with pytest.raises(ConfigError, match=r"train.mixture 'nope': no mixture manifest .*nope.json \(built mixtures: "
                                          r"gap_mix, pmc_budget\); add it to corpus.mixtures and run `meditron corpus "
                                          r"mixtures --config CONFIG`"):
        pretrain_datasets(_cfg(shards, "nope"), shards)
    edited = {**MIXTURES, "gap_mix": {**WEIGHTS, "replay": 0.4}}
    with pytest.raises(ConfigError, match="corpus.mixtures.gap_mix is .* in the config but .* the config was edited"):
        pretrain_datasets(_cfg(shards, "gap_mix", edited), shards)
    same = {**MIXTURES, "gap_mix": {"replay": 0.20, "papers": 0.3, "guidelines": 0.5, "abstracts": 0.0}}
    assert read_mixture(shards, "gap_mix", configured=same["gap_mix"]).name == "gap_mix"  # same blend, other spelling
    manifest = json.loads((shards / "manifest.json").read_text())
    write_manifest(shards, {**manifest, "seed": 99})  # the corpus ran again
    with pytest.raises(InputError, match="gap_mix.json: built for another shard set than .*manifest.json"):
        read_mixture(shards, "gap_mix")
    # rebuilding: the configured set, and only it
    written = write_mixtures(shards, {"gap_mix": WEIGHTS})
    assert list(written) == ["gap_mix"] and not mixture_path(shards, "pmc_budget").exists()
    assert read_mixture(shards, "gap_mix").weights == WEIGHTS


def test_a_mixture_source_without_training_tokens_is_named(shards):
    before = {p.name: p.read_bytes() for p in (shards / "mixtures").iterdir()}
    with pytest.raises(ConfigError, match=r"corpus.mixtures.bad: source 'code' has no training tokens in .*manifest"
                                          r".json \(sources with training tokens: abstracts, guidelines, papers, "
                                          r"replay\)"):
        write_mixtures(shards, {"ok": {"papers": 1.0}, "bad": {"papers": 1.0, "code": 1.0}})
    assert {p.name: p.read_bytes() for p in (shards / "mixtures").iterdir()} == before  # nothing half-written
    with pytest.raises(InputError, match="no shard manifest to build mixtures over"):
        write_mixtures(shards.parent / "none", {"ok": {"papers": 1.0}})


def test_natural_epochs_mixture_equals_the_default_blend(shards):
    """``1x`` on every source is the natural mix: the same stream as no mixture at all."""
    write_mixtures(shards, {"all": dict.fromkeys(SOURCES, "1x")})
    mixed, _, _ = pretrain_datasets(_cfg(shards, "all"), shards)
    default, _, _ = pretrain_datasets(load_config(None, [f"train.shards_dir={shards}", f"train.seq_len={SEQ}",
                                                         "seed=5"]), shards)  # fmt: skip
    assert mixed.counts.tolist() == default.counts.tolist()
    for i in (0, 17, 4095, 9000):
        np.testing.assert_array_equal(mixed[i]["input_ids"], default[i]["input_ids"])
