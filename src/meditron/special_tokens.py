"""The token-level facts every stage shares: ChatML turn markers and the label that means "no loss here".

One home, so the finetuning template, the loss, the trainer's padding, the evaluation stop sequences and the server's
stop tokens cannot drift apart. Plain constants with no imports: any stage may read them.
"""

from __future__ import annotations

#: ChatML turn markers, used by finetuning (the chat template), evaluation (stop sequences) and serving (stop tokens).
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
CHATML_TOKENS: tuple[str, ...] = (IM_START, IM_END)

#: Label of a position that carries no loss (prompt tokens, padding): PyTorch's ``cross_entropy`` default ignore index.
IGNORE_INDEX = -100
