"""Dedup: exact and MinHash duplicates through datatrove's bucket stage; the earliest document is kept."""

from __future__ import annotations

import json
import random
import struct

from datatrove.data import Document
from datatrove.pipeline.dedup.minhash import MinhashDedupBuckets, MinhashDedupSignature
from datatrove.utils.text import TextNormConfig, simplify_text
from hypothesis import given, settings
from hypothesis import strategies as st

from meditron.corpus.dedup import DedupCluster, DedupFilter, DedupSignature, content_hash, dedup_minhash_config
from meditron.corpus.dedup.signature import simplify_text_fast
from tests.corpus.pipeline_fixtures import paragraph
from tests.testing import SHARED_DATA, requires_shared_data


def _docs(task: int, texts: list[str]) -> list[Document]:
    return [Document(text=t, id=f"t{task}-{i}", metadata={"source": "s"}) for i, t in enumerate(texts)]


def _run_dedup(tmp_path, tasks: list[list[str]], minhash: bool = True, exact: bool = True):
    cfg = dedup_minhash_config(5, 14, 8, seed=1, minhash=minhash, exact=exact)
    sigs, dups, clusters = tmp_path / "sigs", tmp_path / "dups", tmp_path / "clusters"
    step = DedupSignature(sigs, cfg, minhash, exact)
    for rank, texts in enumerate(tasks):
        passed = list(step.run(iter(_docs(rank, texts)), rank, len(tasks)))
        assert [d.text for d in passed] == texts  # documents pass through unchanged, in order
    for bucket in range(cfg.num_buckets):
        MinhashDedupBuckets(str(sigs), str(dups), config=cfg).run(None, bucket, cfg.num_buckets)
    list(DedupCluster(dups, sigs, clusters).run(None, 0, 1) or [])
    kept, dropped = {}, {}
    for rank, texts in enumerate(tasks):
        filt = DedupFilter(str(tmp_path / "ledger"), clusters)
        kept[rank] = [d.id for d in filt.run(iter(_docs(rank, texts)), rank, len(tasks))]
        ledger = tmp_path / "ledger" / "dedup" / f"{rank:05d}.jsonl"
        if ledger.exists():
            for line in ledger.read_text().splitlines():
                rec = json.loads(line)
                dropped[rec["id"]] = rec["reason"]
    summary = json.loads((clusters / "clusters.json").read_text())
    return kept, dropped, summary


def test_exact_and_near_duplicates_across_tasks(tmp_path):
    rng = random.Random(3)
    base = [" ".join(paragraph(rng, 60) for _ in range(2)) for _ in range(6)]
    near = base[2].split(" ")
    near[10] = "zebra"
    task0 = [base[0], base[1], base[2]]
    task1 = [base[3], "  " + base[0].replace(" ", "\n", 3) + " ", " ".join(near), base[4], base[0]]
    kept, dropped, summary = _run_dedup(tmp_path, [task0, task1])
    assert kept == {0: ["t0-0", "t0-1", "t0-2"], 1: ["t1-0", "t1-3"]}
    assert dropped == {"t1-1": "exact-dup of t0-0", "t1-2": "near-dup of t0-2", "t1-4": "exact-dup of t0-0"}
    assert summary["clusters"] == 2 and summary["cluster_sizes"] == {"2": 1, "3": 1}
    assert summary["removed_exact"] == 2 and summary["removed_near"] == 1


def test_exact_only_keeps_near_duplicates(tmp_path):
    rng = random.Random(4)
    a = " ".join(paragraph(rng, 80) for _ in range(2))
    b = a.replace(a.split(" ")[7], "zebra", 1)
    kept, dropped, _ = _run_dedup(tmp_path, [[a, b, "short text", "short text"]], minhash=False)
    assert kept == {0: ["t0-0", "t0-1", "t0-2"]}
    assert dropped == {"t0-3": "exact-dup of t0-2"}


def test_content_hash_ignores_whitespace_layout_only():
    assert content_hash("a  b\nc ") == content_hash("a b c")
    assert content_hash("a b c") != content_hash("a b C")


def test_cluster_root_is_the_smallest_node(tmp_path):
    dups, sigs = tmp_path / "dups", tmp_path / "sigs"
    dups.mkdir()
    (sigs / "docs").mkdir(parents=True)
    for task in range(3):
        (sigs / "docs" / f"{task:05d}.tsv").write_text("".join(f"{task}{i}\tt{task}-{i}\n" for i in range(5)))
    # chain 2/4 - 1/3 - 0/4 - 2/0 seen in an order where union-by-size would keep another root
    pairs = [(2, 4, 1, 3), (1, 3, 2, 0), (2, 0, 0, 4)]
    (dups / "00000_00.dups").write_bytes(b"".join(struct.pack("<4I", *p) for p in pairs))
    list(DedupCluster(dups, sigs, tmp_path / "out").run(None, 0, 1) or [])
    reasons = {f.name: f.read_text() for f in sorted((tmp_path / "out").glob("*.tsv"))}
    assert reasons == {
        "00001.tsv": "3\tnear-dup of t0-4\n",
        "00002.tsv": "0\tnear-dup of t0-4\n4\tnear-dup of t0-4\n",
    }


_TEXT_PIECES = [
    "Café", "naïve", "Ångström", "résumé", "e\u0301", "ﬁ", "İ", "ß", "Ǆ", "ΣΑΣ", "١٢٣", "3.14", "1,5", "٫", "x²",
    "Monday", "JANUARY", "—", "–", "…", "...", "«", "»", "¿", "!", "(a)", "[bib_ref]", "#", "\t", "\n", "\xa0",
    "\u2009", "\u3000", "  ", " ", "word", "DNA", "mg/kg", "p<0.05", "\u0301\u0302", "\U0001d400", "😀", "\x1c",
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(_TEXT_PIECES), max_size=30).map("".join),
    st.sampled_from([{}, {"norm_weekdays": True, "norm_monthnames": True}, {"remove_punctuation": False},
                     {"norm_whitespace": False}, {"lowercase": False, "norm_numbers": False}]),
)
def test_fast_simplify_text_equals_datatrove(text, overrides):
    """Our faster text simplification is datatrove's, character for character, under every config switch."""
    config = TextNormConfig(**overrides)
    assert simplify_text_fast(text, config) == simplify_text(text, config)


@requires_shared_data
def test_fast_shingles_equal_datatrove_on_real_documents():
    """Real JATS/MEDLINE/CDC documents: the same simplified text and the same shingles as datatrove's signature step."""
    from meditron.corpus.config import SourceConfig
    from meditron.corpus.readers import build_reader

    cfg = dedup_minhash_config(5, 14, 8, seed=1, minhash=True, exact=True)
    ours = DedupSignature("unused", cfg, minhash=True, exact=True)
    stock = MinhashDedupSignature("unused", config=cfg, language=ours.word_tokenizer)
    sources = [
        SourceConfig(name="papers", kind="jats", paths=[str(SHARED_DATA / "pubmed" / "jats")]),
        SourceConfig(name="abstracts", kind="medline", paths=[str(SHARED_DATA / "pubmed" / "medline")]),
        SourceConfig(name="guidelines", kind="guideline_html", site="cdc",
                     paths=[str(SHARED_DATA / "guidelines" / "cdc_mmwr_html")]),
    ]
    texts = [d.text for s in sources for d in build_reader(s).run(None, 0, 1) if d.text]
    assert len(texts) > 500 and sum(not t.isascii() for t in texts) > 50
    for text in texts:
        assert simplify_text_fast(text, cfg.norm_config) == simplify_text(text, cfg.norm_config)
        assert ours.get_shingles(text).tolist() == stock.get_shingles(text).tolist()
