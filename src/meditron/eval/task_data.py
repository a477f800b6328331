"""Our benchmarks as lm-eval tasks (``eval/tasks/<bench>/<bench>.yaml``), for users of the ``lm_eval`` CLI.

The YAMLs load data with ``custom_dataset`` → :func:`make_loader`, i.e. through the same validating readers and the
same prompt text as ``meditron eval``'s zero-shot top_token mode, so ``lm_eval --tasks meditron_medqa4`` scores exactly
what ``meditron eval --num-fewshot 0`` scores (a test pins the equality). MEDITRON's fixed-per-seed few-shot prefix is
not expressible in lm-eval's per-document sampler, so few-shot runs belong to ``meditron eval``.

    lm_eval --model hf --model_args pretrained=DIR --include_path src/meditron/eval/tasks \\
        --tasks meditron_medqa4 --metadata '{"data_dir": "../shared/data/benchmarks"}'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter

from meditron._base import ConfigPath
from meditron.benchmarks import load_benchmark, prompts
from meditron.errors import ConfigError


def make_loader(name: str) -> Callable[..., Any]:
    """A ``custom_dataset`` callable: ``data_dir`` comes from lm-eval's ``--metadata``/``TaskManager(metadata=...)``."""

    def load(data_dir: str | None = None, **_: Any):
        import datasets

        if not data_dir:
            raise ConfigError(f'meditron_{name}: pass the benchmark folder, e.g. --metadata \'{{"data_dir": "DIR"}}\'')
        items = load_benchmark(name, TypeAdapter(ConfigPath).validate_python(data_dir)).items  # `sample:` allowed
        rows = [
            {
                "id": it.id,
                "prompt": prompts.fewshot_prefix(prompts.instruction(it), []) + prompts.top_token_prompt(it),
                "choices": list(it.options),
                "gold": list(it.options).index(it.answer),
                "subject": it.subject or "",
            }
            for it in items
        ]
        return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})

    return load


def doc_to_text(doc: dict[str, Any]) -> str:
    return doc["prompt"]


def doc_to_choice(doc: dict[str, Any]) -> list[str]:
    return doc["choices"]


def doc_to_target(doc: dict[str, Any]) -> int:
    return doc["gold"]
