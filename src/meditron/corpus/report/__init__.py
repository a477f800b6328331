"""The corpus report: a one-task datatrove step (``step``), the report maths (``maths``, pure functions of the counts
the other stages saved), its Markdown (``markdown``) and the files it writes (``writer``: manifest, merged ledger,
contamination index, ``corpus_report.json``/``.md``, the run's ``run.json`` entry)."""

from meditron.corpus.report.markdown import render_markdown
from meditron.corpus.report.step import CorpusFinalizer
from meditron.corpus.report.writer import finalize_corpus

__all__ = ["CorpusFinalizer", "finalize_corpus", "render_markdown"]
