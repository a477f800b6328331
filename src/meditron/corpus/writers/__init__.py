"""Writers of the corpus pipeline: the filtered-documents hand-off between stages and the token shards."""

from meditron.corpus.writers.intermediate import IntermediateReader, IntermediateWriter
from meditron.corpus.writers.shards import ShardFile, ShardWriter

__all__ = ["IntermediateReader", "IntermediateWriter", "ShardFile", "ShardWriter"]
