"""Token shards per source and split, in the ``shard_format`` layout (datatrove ``.ds`` + ``.ds.index``).

Built on datatrove's tokenizer step (fast ``tokenizers`` batch encoding) with our own post-processor: each document
is ``[BOS] text [EOS]``, BOS and EOS as decided by ``corpus.tokenization`` (Llama-style tokenizers: both), but
routing each document to ``<split>/<source>/<rank>.ds`` and writing the index as it goes (datatrove keeps all
document ends in a list until the file closes), so memory stays flat however many documents a task holds. Documents
are written in input order — no shuffling here; the trainer samples — which makes the bytes reproducible. A document
that the upsampling step gave ``metadata["copies"] = n`` is written n times in a row (tokenized once; one ledger line);
the added copies and tokens are counted apart (``upsampled`` in the task counts).
Replay documents go to a candidates folder with an ``.ids`` side file: the replay selector picks from them once the
medical token count is known.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from datatrove.data import Document, DocumentsPipeline
from datatrove.utils.batching import batched
from datatrove.utils.tokenization import PipelineStepWithTokenizer, load_tokenizer

from meditron.corpus.counts import write_task_counts
from meditron.corpus.ledger import LedgerWriter
from meditron.corpus.shard_format import token_dtype
from meditron.corpus.tokenization import ShardTokenization


def _clear_bpe_cache(tokenizer) -> None:
    """Empty the BPE word cache. Llama/SentencePiece-style tokenizers have no pre-tokenizer, so a "word" is a whole
    document and the cache (10,000 entries) would hold thousands of documents: memory would grow with the input."""
    clear = getattr(tokenizer.model, "_clear_cache", None)
    if clear is not None:
        clear()


class ShardFile:
    """An append-only ``.ds`` file with its ``.ds.index`` (uint64 cumulative ends) and optional ``.ids`` lines."""

    def __init__(self, path: Path, token_size: int, with_ids: bool = False):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.dtype = token_dtype(token_size)
        self.tokens = open(path, "wb")
        self.index = open(str(path) + ".index", "wb")
        self.ids = open(str(path) + ".ids", "w", encoding="utf-8") if with_ids else None
        self.num_tokens = 0
        self.num_docs = 0

    def write(self, tokens: list[int] | np.ndarray, doc_id: str | None = None) -> None:
        arr = np.asarray(tokens, dtype=self.dtype)
        self.tokens.write(arr.tobytes())
        self.num_tokens += len(arr)
        self.num_docs += 1
        self.index.write(np.uint64(self.num_tokens).tobytes())
        if self.ids is not None:
            self.ids.write(f"{doc_id}\n")

    def close(self) -> None:
        for f in (self.tokens, self.index, self.ids):
            if f is not None:
                f.close()


class ShardWriter(PipelineStepWithTokenizer):
    """Tokenize kept documents into per-source/split shards; record them in the ledger as kept."""

    name = "✍️ Token shards"
    type = "🔢 - TOKENIZER"

    def __init__(
        self,
        *,
        shards_dir: str | Path,
        tokenization: ShardTokenization | Path,
        ledger_dir: str,
        counts_dir: str | Path,
        replay_dir: str | Path,
        replay_sources: list[str],
        batch_size: int = 256,
    ):
        """``tokenization``: the tokenizer preparation's decisions, or the file it saved them to (read when the task
        runs, since the preparation is an earlier stage)."""
        super().__init__()
        self._tokenization = tokenization
        self.shards_dir = Path(shards_dir)
        self.ledger = LedgerWriter(ledger_dir, "shards")
        self.counts_dir = Path(counts_dir)
        self.replay_dir = Path(replay_dir)
        self.replay_sources = set(replay_sources)
        self.batch_size = batch_size

    @cached_property
    def tokenization(self) -> ShardTokenization:
        t = self._tokenization
        return t if isinstance(t, ShardTokenization) else ShardTokenization.load(t)

    @cached_property
    def token_size(self) -> int:
        return self.tokenization.token_size

    @cached_property
    def tokenizer(self):
        """The saved tokenizer with a post-processor that frames every document as ``[BOS] text [EOS]``."""
        from tokenizers.processors import TemplateProcessing

        t = self.tokenization
        tokenizer = load_tokenizer(str(t.tokenizer_json))
        bos = [t.bos_token] if t.bos_token else []
        eos = [t.eos_token] if t.eos_token else []
        tokenizer.post_processor = TemplateProcessing(
            single=" ".join([*bos, "$A", *eos]), pair=None,
            special_tokens=[(t, tokenizer.token_to_id(t)) for t in dict.fromkeys(bos + eos)],  # GPT-2: BOS = EOS
        )
        return tokenizer

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        files: dict[tuple[str, str], ShardFile] = {}
        counts: dict[str, Any] = defaultdict(dict)
        self.upsampled: dict[str, dict[str, dict[str, int]]] = {}
        with self.ledger as ledger:
            for batch in batched(data, self.batch_size):
                with self.track_time(unit="batch"):
                    encoded = self.tokenizer.encode_batch([doc.text for doc in batch])
                    _clear_bpe_cache(self.tokenizer)
                for doc, enc in zip(batch, encoded, strict=False):
                    self._write(doc, enc.ids, rank, files, ledger)
        for (split, source), f in sorted(files.items()):
            f.close()
            counts[source][split] = {
                "files": [str(f.path.relative_to(f.path.parents[2]))],
                "num_tokens": f.num_tokens,
                "num_docs": f.num_docs,
                "replay_candidates": source in self.replay_sources,
            }
        extra = {"upsampled": self.upsampled} if self.upsampled else {}
        write_task_counts(self.counts_dir, rank, {"sources": dict(counts), **extra})
        return
        yield

    def _write(self, doc: Document, ids: list[int], rank: int, files: dict, ledger: LedgerWriter) -> None:
        source, split = doc.metadata.get("source") or "?", doc.metadata["split"]
        replay = source in self.replay_sources
        key = (split, source)
        if key not in files:
            root = self.replay_dir if replay else self.shards_dir
            files[key] = ShardFile(root / split / source / f"{rank:05d}.ds", self.token_size, with_ids=replay)
        copies = 1 if replay else int(doc.metadata.get("copies", 1))
        for _ in range(copies):
            files[key].write(ids, doc.id)
        self.stat_update("tokens", value=len(ids) * copies)
        if copies > 1:
            added = self.upsampled.setdefault(source, {}).setdefault(split, {"copies": 0, "tokens": 0})
            added["copies"] += copies - 1
            added["tokens"] += (copies - 1) * len(ids)
        if not replay:  # replay candidates reach the ledger when the selector decides
            doc.metadata["num_tokens"] = len(ids)
            ledger.write(doc, rank)
