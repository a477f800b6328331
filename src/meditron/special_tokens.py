"""The token-level facts every stage shares: ChatML turn markers and the label that means "no loss here".

One home, so the finetuning template, the loss, the trainer's padding, the evaluation stop sequences and the server's
stop tokens cannot drift apart. Plain constants with no imports: any stage may read them.
"""

from __future__ import annotations

#: ChatML turn markers, used by finetuning (the chat template), evaluation (stop sequences) and serving (stop tokens).
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
CHATML_TOKENS: tuple[str, ...] = (IM_START, IM_END)

#: MEDITRON's structure markers in full papers (App. B.2), by name: citations, figure/table references, figure and
#: table captions, formulas. Each becomes an opening ``[name]`` and a closing ``[/name]`` special token.
MARKER_NAMES: tuple[str, ...] = ("bib_ref", "fig_ref", "fig", "table", "formula")
MarkerCase = str  # "lower" (``[fig_ref]``, this project's default) or "upper" (``[FIG_REF]``, the paper's spelling)


def marker_name(name: str, case: MarkerCase = "lower") -> str:
    """The spelling of one marker name in ``case`` (``corpus.markup.case``)."""
    if case not in ("lower", "upper"):
        raise ValueError(f"marker case must be 'lower' or 'upper', not {case!r}")
    return name.upper() if case == "upper" else name.lower()


def structure_markers(case: MarkerCase = "lower") -> tuple[str, ...]:
    """The special tokens the corpus cleaners write, in a fixed order (``[bib_ref]``, ``[/bib_ref]``, ...): the one
    list the JATS cleaner and every tokenizer that adds the markers agree on."""
    return tuple(t for n in MARKER_NAMES for t in (f"[{marker_name(n, case)}]", f"[/{marker_name(n, case)}]"))

#: Label of a position that carries no loss (prompt tokens, padding): PyTorch's ``cross_entropy`` default ignore index.
IGNORE_INDEX = -100
