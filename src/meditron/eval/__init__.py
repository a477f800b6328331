"""meditron.eval: benchmark loaders, prompts, the answer parser, lm-eval backends and reports.

``from meditron.eval import parse_answer`` is the public entry for answer parsing; the rest is imported by module.
"""

from meditron.eval.parse import parse_answer

__all__ = ["parse_answer"]
