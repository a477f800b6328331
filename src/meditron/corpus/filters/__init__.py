"""Filters of the corpus pipeline: each a datatrove ``BaseFilter`` whose rejects go to the ledger with a reason."""

from meditron.corpus.filters.fulltext import AbstractFullTextFilter
from meditron.corpus.filters.gate import LedgerGate
from meditron.corpus.filters.language import LanguageIdFilter
from meditron.corpus.filters.quality import QualityFilter, SimpleWordTokenizer

__all__ = ["AbstractFullTextFilter", "LanguageIdFilter", "LedgerGate", "QualityFilter", "SimpleWordTokenizer"]
