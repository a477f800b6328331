"""``meditron corpus download hf``: a Hugging Face dataset (hub id, or a local parquet/JSON/JSONL file or folder)
streamed to JSONL the corpus sources read, optionally as a seeded replay sample of N tokens.

- Rows shaped like MEDITRON's released guidelines (``epfl-llm/guidelines``: ``id, source, title, url, raw_text,
  clean_text, overview``) are written as they are, for the ``guideline_jsonl`` source.
- Other rows become ``{"id", "text", ...scalar fields}`` for the ``jsonl`` source (replay data: RedPajama,
  FineWeb, SlimPajama).
- ``max_tokens``: a uniform random sample of documents holding at most that many tokens (counted with the given
  tokenizer, else whitespace words). Each row draws a key from ``random.Random(seed)`` in stream order; the rows
  with the smallest keys that fit the budget are kept (bottom-k sampling, one pass, reproducible for a seed and a
  stream). Memory holds the sampled text (≈ 4 bytes per token), never the dataset; ``scan_rows`` bounds how much
  of an endless stream is read.

Hub access needs the optional ``datasets`` library, imported only for hub ids; local files need only pyarrow.
"""

from __future__ import annotations

import gzip
import heapq
import json
import os
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from meditron.corpus.download.http import FetchResult, file_digests
from meditron.corpus.download.manifest import Manifest
from meditron.errors import ConfigError, InputError

GUIDELINE_FIELDS = ("id", "source", "title", "url", "raw_text", "clean_text", "overview")
LOCAL_SUFFIXES = (".parquet", ".jsonl", ".jsonl.gz", ".json", ".json.gz", ".ndjson")


def _local_files(root: Path, split: str) -> list[Path]:
    """Data files of a local dataset; in a folder, those named for ``split`` (HF's ``train-0000.parquet`` or a
    ``train/`` folder) when any are, else all of them."""
    if root.is_file():
        return [root]
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name.lower().endswith(LOCAL_SUFFIXES))
    named = [p for p in files if p.name.startswith(split) or split in p.relative_to(root).parts[:-1]]
    if not (named or files):
        raise InputError(f"no {', '.join(LOCAL_SUFFIXES)} file in the dataset folder", path=str(root))
    return named or files


def _read_local(path: Path) -> Iterator[dict]:
    name = path.name.lower()
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
            yield from batch.to_pylist()
        return
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        first = fh.read(1)
        while first and first.isspace():
            first = fh.read(1)
        if first == "[":  # a JSON array file
            rows = json.loads(first + fh.read())
            yield from rows
            return
        buffer = first + fh.readline()
        line_no = 1
        for line in [buffer, *fh]:
            if line.strip():
                try:
                    row = json.loads(line)
                except ValueError as err:
                    raise InputError(f"not a JSON line ({err})", path=str(path), record=line_no) from None
                yield row
            line_no += 1


def iter_dataset(dataset: str, split: str = "train", config: str | None = None) -> tuple[Iterator[dict], str | None]:
    """(rows, licence): a local path when it exists, else a hub id streamed with ``datasets``."""
    local = Path(dataset)
    if local.exists():
        files = _local_files(local, split)
        return (row for f in files for row in _read_local(f)), None
    try:
        import datasets
    except ImportError:
        raise ConfigError(f"--dataset {dataset!r} is not a local path, and reading hub datasets needs the `datasets` "
                          "library: pip install datasets (or download the parquet files and pass their folder)") from None
    stream = datasets.load_dataset(dataset, name=config, split=split, streaming=True)
    licence = getattr(getattr(stream, "info", None), "license", None) or None
    return iter(stream), licence


def word_counter(tokenizer: str | None) -> Callable[[str], int]:
    """Tokens per text with the given local tokenizer, else whitespace-separated words."""
    if tokenizer is None:
        return lambda text: len(text.split())
    from meditron.tokenizer import load_tokenizer

    tok = load_tokenizer(tokenizer)
    return lambda text: len(tok(text, add_special_tokens=False)["input_ids"])


def shape_row(row: dict, index: int, text_field: str) -> tuple[dict, str]:
    """(output row, its text): guideline rows unchanged, others as ``{id, text, ...scalars}``."""
    if isinstance(row.get("clean_text") or row.get("raw_text"), str):
        out = {k: row.get(k) for k in GUIDELINE_FIELDS if k in row}
        return out, out.get("clean_text") or out.get("raw_text")
    text = row.get(text_field)
    if not isinstance(text, str):
        raise InputError(f"row has no string field {text_field!r} (fields: {', '.join(sorted(row))}); "
                         "choose one with --text-field", record=index)
    out = {"id": str(row.get("id") or row.get("doc_id") or index), "text": text}
    out.update({k: v for k, v in row.items() if k not in out and k != text_field
                and isinstance(v, (str, int, float, bool)) and k != "id"})
    return out, text


def sample_rows(rows: Iterator[dict], *, text_field: str, max_tokens: int | None, seed: int,
                count: Callable[[str], int], scan_rows: int | None) -> tuple[list[dict], int, int]:
    """(rows to write in stream order, tokens in them, rows scanned): all rows, or a bottom-k sample by token budget."""
    rng = random.Random(seed)
    heap: list[tuple[float, int, dict, int]] = []  # max-heap on key via negation
    kept_tokens = scanned = 0
    everything: list[tuple[int, dict]] = []
    for index, row in enumerate(rows):
        if scan_rows is not None and index >= scan_rows:
            break
        scanned += 1
        out, text = shape_row(row, index, text_field)
        tokens = count(text)
        if max_tokens is None:
            everything.append((index, out))
            kept_tokens += tokens
            continue
        key = rng.random()
        if tokens > max_tokens:
            continue  # a single document larger than the whole budget can never fit
        heapq.heappush(heap, (-key, index, out, tokens))
        kept_tokens += tokens
        while kept_tokens > max_tokens:
            _, _, _, dropped = heapq.heappop(heap)  # the largest key leaves: the sample stays the smallest keys
            kept_tokens -= dropped
    if max_tokens is None:
        return [r for _, r in everything], kept_tokens, scanned
    chosen = sorted((index, out) for _, index, out, _ in heap)
    return [r for _, r in chosen], kept_tokens, scanned


def download_hf(
    dataset: str,
    out: Path,
    *,
    split: str = "train",
    config: str | None = None,
    text_field: str = "text",
    max_tokens: int | None = None,
    tokenizer: str | None = None,
    seed: int = 0,
    scan_rows: int | None = None,
) -> tuple[FetchResult, dict[str, Any]]:
    """Write ``out/<dataset>-<split>.jsonl`` (atomically) and its manifest entry; return the result and the entry."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows, licence = iter_dataset(dataset, split, config)
    chosen, tokens, scanned = sample_rows(rows, text_field=text_field, max_tokens=max_tokens, seed=seed,
                                          count=word_counter(tokenizer), scan_rows=scan_rows)
    slug = Path(dataset).name if Path(dataset).exists() else dataset.replace("/", "_")
    slug = slug.split(".")[0] if Path(dataset).is_file() else slug
    dest = out / f"{slug}-{config + '-' if config else ''}{split}.jsonl"
    part = dest.with_name(dest.name + ".part")
    with open(part, "w", encoding="utf-8") as fh:
        for row in chosen:
            fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    os.replace(part, dest)
    size, sha, md5 = file_digests(dest)
    url = str(Path(dataset).resolve()) if Path(dataset).exists() else f"hf://datasets/{dataset}"
    result = FetchResult(url, dest, "downloaded", size, sha, md5)
    entry = Manifest(out, source="hf").record(
        result, licence=licence, dataset=dataset, split=split, config=config, rows=len(chosen), rows_scanned=scanned,
        tokens=tokens, token_count="tokenizer " + str(tokenizer) if tokenizer else "whitespace words",
        max_tokens=max_tokens, seed=seed if max_tokens is not None else None)
    return result, entry
