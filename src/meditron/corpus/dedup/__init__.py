"""Exact and near-duplicate removal on datatrove's MinHash stages (signatures → buckets → clusters → filter).

Exact duplicates ride the same machinery: the signature step adds one extra "bucket" whose signature is the content
hash, so identical texts always pair up even when MinHash is disabled or a text is too short to shingle.
"""

from meditron.corpus.dedup.cluster import DedupCluster
from meditron.corpus.dedup.filter import DedupFilter
from meditron.corpus.dedup.signature import DedupSignature, content_hash, dedup_minhash_config

__all__ = ["DedupCluster", "DedupFilter", "DedupSignature", "content_hash", "dedup_minhash_config"]
