"""Shard format: the corpus stage's streaming writer and ``write_token_file`` produce the same bytes, and
``TokenShards`` reads them back per source and split."""

from __future__ import annotations

import numpy as np
import pytest

from meditron.corpus.writers.shards import ShardFile
from meditron.data.shards import TokenShards, write_manifest, write_token_file
from meditron.errors import InputError


@pytest.mark.parametrize("token_size", [2, 4])
def test_streaming_writer_matches_write_token_file(tmp_path, token_size):
    docs = [[5, 6, 7, 2], [8, 2], [70000 if token_size == 4 else 9, 10, 11, 12, 2]]
    write_token_file(tmp_path / "a" / "00000.ds", docs, token_size)
    f = ShardFile(tmp_path / "b" / "00000.ds", token_size)
    for d in docs:
        f.write(d)
    f.close()
    for suffix in ("", ".index"):
        assert (tmp_path / "a" / f"00000.ds{suffix}").read_bytes() == (tmp_path / "b" / f"00000.ds{suffix}").read_bytes()
    assert (f.num_tokens, f.num_docs) == (11, 3)


def test_token_shards_round_trip(tmp_path):
    n1 = write_token_file(tmp_path / "train" / "papers" / "00000.ds", [[1, 2], [3, 4, 2]], 2)
    n2 = write_token_file(tmp_path / "train" / "papers" / "00001.ds", [[5, 2]], 2)
    write_manifest(tmp_path, {"token_size": 2, "tokenizer": "tokenizer", "eos_id": 2, "vocab_size": 100,
                              "sources": {"papers": {"train": {"files": ["train/papers/00000.ds",
                                                                         "train/papers/00001.ds"],
                                                               "num_tokens": n1[0] + n2[0], "num_docs": 3}}}})
    shards = TokenShards(tmp_path)
    assert shards.sources("train") == ["papers"] and shards.num_tokens("papers") == 7
    assert shards.tokens("papers").tolist() == [1, 2, 3, 4, 2, 5, 2]
    assert [f.doc_ends.tolist() for f in shards.files("papers")] == [[2, 5], [2]]
    assert shards.files("papers", "validation") == []
    (tmp_path / "train" / "papers" / "00001.ds").unlink()
    with pytest.raises(InputError, match="missing"):
        shards.files("papers")
    assert np.dtype(shards.tokens("nothing").dtype) == np.dtype("<u2")
