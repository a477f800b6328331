"""The user-supplied tables of the upsampling rules: a journal list and citation counts, both CSV files with a header.

- ``journals_file``: a ``journal`` column (e.g. the journals reviewed by UpToDate); other columns are ignored. Names
  are compared normalised (case, punctuation, ``&``/``and``, a leading "The"), as the paper's code did.
- ``citations_file``: ``citations`` and ``year`` (publication year) columns and at least one of ``pmid``, ``pmcid``,
  ``doi``. Citations per year = citations / (reference year − year + 1), the paper's age in whole years plus one; the
  quantiles of that rate over the file's rows are the ``citations`` bands' thresholds.

A bad row is an ``InputError`` naming the file and the line. The citation table is held as two numpy arrays (a
64-bit hash of each id, a float32 rate): 12 bytes per id, whatever the file's size.
"""

from __future__ import annotations

import csv
import re
from array import array
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from pathlib import Path

import numpy as np
import xxhash

from meditron.errors import InputError

_NOT_WORD = re.compile(r"[^0-9a-z]+")
ID_COLUMNS = ("pmid", "pmcid", "doi")


def normalise_journal(name: str) -> str:
    """``The Lancet.`` → ``lancet``; ``Alimentary Pharmacology & Therapeutics`` → ``alimentary pharmacology and
    therapeutics``."""
    text = _NOT_WORD.sub(" ", name.lower().replace("&", " and ")).strip()
    return text.removeprefix("the ").strip()


def _rows(path: Path, required: Iterable[str], any_of: Iterable[str] = ()) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row with lower-cased column names) of a CSV file whose header has the ``required`` columns."""
    try:
        handle = open(path, encoding="utf-8-sig", newline="")
    except OSError as err:
        raise InputError(f"cannot read the CSV file ({err.strerror})", path=str(path)) from None
    with handle:
        reader = csv.DictReader(handle)
        header = [(h or "").strip().lower() for h in reader.fieldnames or []]
        missing = [c for c in required if c not in header]
        options = list(any_of)
        if missing or (options and not set(options) & set(header)):
            want = list(required) + ([" or ".join(options)] if options else [])
            raise InputError(f"line 1: the header needs the columns {', '.join(want)}; found {header or 'nothing'}",
                             path=str(path))
        reader.fieldnames = header
        try:
            for row in reader:
                yield reader.line_num, {k: (v or "").strip() for k, v in row.items() if k is not None}
        except csv.Error as err:
            raise InputError(f"line {reader.line_num}: not valid CSV ({err})", path=str(path)) from None


class JournalList:
    """The listed journals, normalised; ``journal in journals`` for a document's journal name."""

    def __init__(self, names: Iterable[str] = ()):
        self.names = frozenset(normalise_journal(n) for n in names)

    @classmethod
    def load(cls, path: str | Path) -> JournalList:
        names = []
        for line, row in _rows(Path(path), ["journal"]):
            if not row.get("journal"):
                raise InputError(f"line {line}: empty journal name; remove the row or fill it in", path=str(path))
            names.append(row["journal"])
        return cls(names)

    def __contains__(self, journal: object) -> bool:
        return isinstance(journal, str) and normalise_journal(journal) in self.names

    def __len__(self) -> int:
        return len(self.names)


def id_key(kind: str, value: str) -> int:
    """64-bit hash of one document id (``pmid:123``, ``pmcid:PMC123``, ``doi:10.1/x``, case-insensitive)."""
    value = value.strip().lower()
    if kind == "pmcid" and not value.startswith("pmc"):
        value = "pmc" + value
    return xxhash.xxh64_intdigest(f"{kind}:{value}")


def _number(row: dict[str, str], column: str, line: int, path: Path) -> float:
    try:
        value = float(row.get(column) or "")
    except ValueError:
        value = -1.0
    if not value >= 0 or value != value or value == float("inf"):
        raise InputError(f"line {line}: {column} must be a number >= 0, got {row.get(column)!r}", path=str(path))
    return value


class CitationTable:
    """Citations per year by document id, and the rate's quantiles over the file (the ``citations`` bands)."""

    def __init__(self, keys: np.ndarray, rates: np.ndarray, thresholds: Mapping[float, float], num_rows: int):
        self.keys, self.rates, self.thresholds, self.num_rows = keys, rates, dict(thresholds), num_rows

    @classmethod
    def load(cls, path: str | Path, reference: date, quantiles: Iterable[float]) -> CitationTable:
        file = Path(path)
        keys, rates, row_rates = array("Q"), array("f"), array("f")
        for line, row in _rows(file, ["citations", "year"], ID_COLUMNS):
            citations = _number(row, "citations", line, file)
            year = row.get("year", "")
            if not (len(year) == 4 and year.isdigit()):
                raise InputError(f"line {line}: year must be a 4-digit year, got {year!r}", path=str(file))
            ids = [(c, row[c]) for c in ID_COLUMNS if row.get(c)]
            if not ids:
                raise InputError(f"line {line}: no id; fill one of {', '.join(ID_COLUMNS)}", path=str(file))
            rate = citations / (max(reference.year - int(year), 0) + 1)
            row_rates.append(rate)
            for kind, value in ids:
                keys.append(id_key(kind, value))
                rates.append(rate)
        k = np.frombuffer(keys, dtype=np.uint64) if keys else np.zeros(0, np.uint64)
        r = np.frombuffer(rates, dtype=np.float32) if rates else np.zeros(0, np.float32)
        k, first = np.unique(k, return_index=True)  # an id listed twice keeps its first row
        all_rates = np.frombuffer(row_rates, dtype=np.float32) if row_rates else np.zeros(0, np.float32)
        thresholds = {q: float(np.quantile(all_rates, q)) for q in quantiles} if len(all_rates) else {}
        return cls(k, r[first], thresholds, len(all_rates))

    def rate(self, metadata: Mapping[str, object]) -> float | None:
        """Citations per year of the document (by PMID, then PMCID, then DOI), or None when the file lacks it."""
        if not len(self.keys):
            return None
        for kind in ID_COLUMNS:
            value = metadata.get(kind)
            if value:
                key = np.uint64(id_key(kind, str(value)))
                i = int(np.searchsorted(self.keys, key))
                if i < len(self.keys) and self.keys[i] == key:
                    return float(self.rates[i])
        return None
