"""meditron: build a medical LLM end to end the MEDITRON way (arXiv 2311.16079).

Stages, in the order data flows: ``corpus`` → ``data`` (shards) → ``train`` (pretrain, finetune, checkpoints)
→ ``eval`` / ``serve``. Each stage's entry point is reached through ``meditron.cli``.
"""

__version__ = "0.1.0"
