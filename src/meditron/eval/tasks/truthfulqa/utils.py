"""lm-eval hooks for meditron_truthfulqa: data and prompts come from meditron.eval (see meditron/eval/task_data.py)."""

from meditron.eval.task_data import doc_to_choice, doc_to_target, doc_to_text, make_loader

load = make_loader("truthfulqa")

__all__ = ["doc_to_choice", "doc_to_target", "doc_to_text", "load"]
