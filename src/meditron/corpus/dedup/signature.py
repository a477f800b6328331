"""Stage 1 of dedup: MinHash signatures (datatrove) plus a content-hash bucket, and a side file of ids and hashes.

Unlike datatrove's ``MinhashDedupSignature`` this step passes documents through, so it sits just before the writer
of the filtered documents and its document indices are exactly their positions in that file. ``docs/<rank>.tsv``
holds ``content_hash<TAB>id`` per index: the cluster step reads it to name the kept document in each drop reason and
to tell exact from near duplicates.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np
import xxhash
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature, _mersenne_prime

from meditron.corpus.filters.quality import SimpleWordTokenizer

_SPACES = re.compile(r"\s+")


def content_hash(text: str) -> int:
    """Hash of the whitespace-normalised text, below the Mersenne prime datatrove's bucket reader expects."""
    return xxhash.xxh64_intdigest(_SPACES.sub(" ", text).strip()) % int(_mersenne_prime)


def dedup_minhash_config(n_grams: int, num_buckets: int, hashes_per_bucket: int, seed: int, minhash: bool,
                         exact: bool) -> MinhashConfig:
    """The datatrove config every dedup stage shares: MinHash buckets (if enabled) + one exact bucket (if enabled)."""
    total = (num_buckets if minhash else 0) + (1 if exact else 0)
    return MinhashConfig(n_grams=n_grams, num_buckets=total, hashes_per_bucket=hashes_per_bucket, seed=seed)


class DedupSignature(MinhashDedupSignature):
    """Writes ``bucket_XXX/<rank>.minhash.sig`` (sorted) and ``docs/<rank>.tsv``; yields every document unchanged."""

    name = "🎯 Dedup signatures"

    def __init__(self, output_folder: str | Path, config: MinhashConfig, minhash: bool, exact: bool):
        super().__init__(str(output_folder), config=config, language=SimpleWordTokenizer())
        self.minhash = minhash
        self.exact = exact
        self.num_minhash_buckets = config.num_buckets - (1 if exact else 0)
        # MinHash permutations are drawn for the MinHash buckets only
        self.num_hashes = self.num_minhash_buckets * config.hashes_per_bucket
        self.root = Path(output_folder)

    def get_signature(self, shingles: np.ndarray) -> list[list[int]]:
        a, b = self.parameters
        phv = (shingles * a + b) % _mersenne_prime
        return [x.tolist() for x in np.split(np.min(phv, axis=0).astype(np.uint64), self.num_minhash_buckets)]

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        cfg = self.config
        fmt = f"<{cfg.hashes_per_bucket}QI"
        paths = [self.root / f"bucket_{bi:03d}" / f"{rank:05d}.minhash.sig" for bi in range(cfg.num_buckets)]
        for p in paths:
            p.parent.mkdir(parents=True, exist_ok=True)
        docs_path = self.root / "docs" / f"{rank:05d}.tsv"
        docs_path.parent.mkdir(parents=True, exist_ok=True)
        buckets = [open(p, "wb") for p in paths]
        try:
            with open(docs_path, "w", encoding="utf-8") as docs_file:
                for doc_idx, doc in enumerate(data):
                    with self.track_time():
                        chash = content_hash(doc.text)
                        docs_file.write(f"{chash}\t{doc.id}\n")
                        if self.minhash and self.num_minhash_buckets:
                            shingles = self.get_shingles(doc.text)
                            if shingles.size:
                                for f, sig in zip(buckets, self.get_signature(shingles), strict=False):
                                    f.write(struct.pack(fmt, *sig, doc_idx))
                        if self.exact:
                            buckets[-1].write(struct.pack(fmt, *([chash] * cfg.hashes_per_bucket), doc_idx))
                    yield doc
        finally:
            for f in buckets:
                f.close()
        for p in paths:
            _sort_bucket_file(p, cfg.hashes_per_bucket)


def _sort_bucket_file(path: Path, hashes_per_bucket: int) -> None:
    """Sort records by (hashes..., doc index): the order datatrove's bucket stage merges on."""
    dtype = np.dtype([(f"h{i}", "<u8") for i in range(hashes_per_bucket)] + [("doc", "<u4")])
    records = np.fromfile(path, dtype=dtype)
    records.sort(order=list(dtype.names))
    tmp = path.parent.parent / ".tmp" / f"{path.parent.name}_{path.name}"  # outside the folders stage 2 lists
    tmp.parent.mkdir(parents=True, exist_ok=True)
    records.tofile(tmp)
    tmp.replace(path)
