"""Train/validation split by a hash of the document id: the same document lands in the same split in every run,
whatever the seed, the task count or the other documents (MEDITRON: papers and abstracts 3%, guidelines 5%)."""

from __future__ import annotations

import xxhash
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

TRAIN, VALIDATION = "train", "validation"


def unit_hash(key: str) -> float:
    """A deterministic uniform number in [0, 1) for a string."""
    return xxhash.xxh64_intdigest(key) / 2.0**64


def split_of(doc_id: str, validation_share: float) -> str:
    return VALIDATION if validation_share > 0 and unit_hash(f"split:{doc_id}") < validation_share else TRAIN


class SplitAssigner(PipelineStep):
    """Sets ``metadata["split"]`` from the per-source validation share."""

    name = "🔀 Split"
    type = "🔀 - MIXING"

    def __init__(self, validation_shares: dict[str, float]):
        super().__init__()
        self.validation_shares = validation_shares

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in data:
            share = self.validation_shares.get(doc.metadata.get("source") or "?", 0.0)
            doc.metadata["split"] = split_of(doc.id, share)
            self.stat_update(doc.metadata["split"])
            yield doc
