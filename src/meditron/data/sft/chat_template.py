"""ChatML: the template stored as the tokenizer's ``chat_template``, and tokenisation with the answer-only loss mask.

Training renders every example with ``tokenizer.apply_chat_template`` itself (no hand-written copy of the format), so
the prompt a served or evaluated model gets from ``apply_chat_template(..., add_generation_prompt=True)`` is, token for
token, the prefix the model was trained on. The assistant content and its closing ``<|im_end|>`` sit inside Jinja
``{% generation %}`` blocks, which is how transformers reports which tokens are the assistant's
(``return_assistant_tokens_mask``): exactly those tokens get labels, everything else -100.

BOS follows the base tokenizer's convention, as pretraining documents do: when the tokenizer adds BOS to plain text
(Llama-2/Mistral SentencePiece), the template starts with ``{{ bos_token }}`` (:data:`CHATML_TEMPLATE_BOS`), else it
adds none (:data:`CHATML_TEMPLATE`, byte-level BPE such as the quickstart's). Either way the rendered text is the whole
input: it is tokenized without special tokens (``apply_chat_template(tokenize=True)`` does so, the server and the
evaluation do so, llama.cpp's chat completion does so when the template writes the BOS), so every sequence starts with
exactly one BOS when the tokenizer adds one, and with none otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from transformers import PreTrainedTokenizerBase

from meditron.errors import ConfigError, InputError
from meditron.special_tokens import IGNORE_INDEX, IM_END, IM_START

from .records import ChatExample

CHATML_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['role'] == 'assistant' %}"
    "{% generation %}{{- message['content'] + '<|im_end|>' }}{% endgeneration %}{{- '\\n' }}"
    "{%- else %}"
    "{{- message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

#: The same, starting with the tokenizer's BOS: for tokenizers that add BOS to plain text.
CHATML_TEMPLATE_BOS = "{{- bos_token }}" + CHATML_TEMPLATE


def chatml_template(tok: PreTrainedTokenizerBase) -> str:
    """The ChatML template for ``tok``: with BOS first when ``tok`` adds BOS to plain text, else without."""
    from meditron.tokenizer import adds_special_tokens

    return CHATML_TEMPLATE_BOS if adds_special_tokens(tok)[0] else CHATML_TEMPLATE


def install_chat_template(tok: PreTrainedTokenizerBase) -> PreTrainedTokenizerBase:
    """Give ``tok`` the ChatML template (saved with it by ``save_pretrained``), with BOS first when ``tok`` adds BOS
    (:func:`chatml_template`). ChatML tokens must be single tokens."""
    vocab = tok.get_vocab()
    for t in (IM_START, IM_END):
        ids = tok.encode(t, add_special_tokens=False)
        if t not in vocab or len(ids) != 1:
            raise ConfigError(
                f"tokenizer has no single token for {t!r}; add MEDITRON's special tokens first "
                "(meditron.tokenizer.add_special_tokens) and resize the model's embeddings"
            )
    if not tok.is_fast:
        raise ConfigError("finetuning needs a fast tokenizer (the assistant-token mask uses character offsets)")
    tok.chat_template = chatml_template(tok)
    return tok


@dataclass(frozen=True)
class TokenizedExample:
    """Token ids and labels of one conversation (labels = ids on assistant tokens, -100 elsewhere)."""

    id: str
    input_ids: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.input_ids)


def tokenize_messages(tok: PreTrainedTokenizerBase, messages: list[dict[str, str]]) -> tuple[list[int], list[int]]:
    """``apply_chat_template`` ids and the assistant mask (1 on assistant content and its ``<|im_end|>``)."""
    enc = tok.apply_chat_template(
        messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True, add_generation_prompt=False
    )
    return list(enc["input_ids"]), list(enc["assistant_masks"])


def tokenize_example(tok: PreTrainedTokenizerBase, ex: ChatExample) -> TokenizedExample:
    """Render one example with the tokenizer's template; the labels keep only the assistant tokens."""
    ids, mask = tokenize_messages(tok, ex.messages)
    return _to_example(ex.id, ids, mask)


def _to_example(ex_id: str, ids: list[int], mask: list[int]) -> TokenizedExample:
    if not any(mask):
        raise InputError("the rendered conversation has no assistant token to learn from", record=ex_id)
    input_ids = np.asarray(ids, dtype=np.int64)
    labels = np.where(np.asarray(mask, dtype=bool), input_ids, IGNORE_INDEX).astype(np.int64)
    return TokenizedExample(ex_id, input_ids, labels)


def tokenize_examples(
    tok: PreTrainedTokenizerBase, examples: list[ChatExample], batch_size: int = 256
) -> list[TokenizedExample]:
    """``tokenize_example`` for many examples, rendered and encoded in batches (the Rust encoder runs them in
    parallel when ``TOKENIZERS_PARALLELISM`` allows); the result is identical to one-by-one tokenization."""
    out: list[TokenizedExample] = []
    for start in range(0, len(examples), batch_size):
        chunk = examples[start : start + batch_size]
        enc = tok.apply_chat_template(
            [e.messages for e in chunk],
            tokenize=True,
            return_dict=True,
            return_assistant_tokens_mask=True,
            add_generation_prompt=False,
        )
        for e, ids, mask in zip(chunk, enc["input_ids"], enc["assistant_masks"], strict=True):
            out.append(_to_example(e.id, list(ids), list(mask)))
    return out
