"""A real tiny Llama and a small byte-level BPE tokenizer, built in-test (nothing downloaded, nothing shipped).

The tokenizer is trained on MEDITRON's instructions and prompt layouts so that every option key (`` A``..`` E``,
`` yes``/`` no``/`` maybe``) is one token, as with real Llama tokenizers; otherwise a random model would prefer the
shortest option for tokenisation reasons and not score like a random guesser.
"""

from __future__ import annotations

from pathlib import Path

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def training_texts() -> list[str]:
    from meditron.benchmarks.prompts import INSTRUCTIONS

    # The five original benchmarks' instructions only: a new benchmark must not change this fixture (its merges, hence
    # the random model's numbers that the parity tests compare within 1e-4).
    texts = [INSTRUCTIONS[b].format(last="E") for b in ("medqa4", "medqa5", "medmcqa", "mmlu_medical", "pubmedqa")]
    for i in range(200):
        letter = "ABCDE"[i % 5]
        label = ("yes", "no", "maybe")[i % 3]
        texts.append(
            f"Question: A {20 + i}-year-old patient presents with fever and cough.\nOptions:\nA. Aspirin\nB. Bed rest"
            f"\nC. Ceftriaxone\nD. Doxycycline\nE. Echocardiography\nAnswer: {letter}\n\nThe answer is {letter}."
        )
        texts.append(f"Context: Patients were randomised.\nQuestion: Does treatment help?\nAnswer: {label}")
    return texts


def build_tokenizer(texts: list[str] | None = None, vocab_size: int = 600):
    """A byte-level BPE (GPT-2 style); special tokens <pad>, <s>, </s> and the ChatML markers; ChatML template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<pad>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(texts if texts is not None else training_texts(), trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        additional_special_tokens=["<|im_start|>", "<|im_end|>"],
    )
    fast.chat_template = CHATML
    return fast


def build_model(out: Path, tokenizer, *, hidden: int = 64, layers: int = 2, seed: int = 0, init_std: float = 0.02):
    """Save a randomly initialised LlamaForCausalLM (fp32) with ``tokenizer`` into ``out``.

    ``init_std`` large (e.g. 1.0) makes the prediction depend strongly on the prompt, i.e. a per-item random guesser.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=8192,
        initializer_range=init_std,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(cfg).to(torch.float32)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def build_fixed_preference_model(out: Path, tokenizer, preference: dict[str, float], *, hidden: int = 64) -> Path:
    """A real Llama whose next-token distribution is the same after any prompt: ``preference`` maps token text → logit.

    Every token embeds to the same unit vector and the attention/MLP outputs are zeroed, so the last hidden state is
    that vector whatever the input; the LM head then scores each token by the value set here (0 for the rest). This is
    how a test builds "a model whose top token is not an option letter" with nothing mocked.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(cfg).to(torch.float32)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        model.model.embed_tokens.weight.zero_()
        model.model.embed_tokens.weight[:, 0] = 1.0
        model.lm_head.weight.zero_()
        for text, logit in preference.items():
            ids = tokenizer.encode(text, add_special_tokens=False)
            assert len(ids) == 1, f"{text!r} is not one token of this tokenizer: {ids}"
            model.lm_head.weight[ids[0], 0] = logit / hidden**0.5  # RMSNorm scales the unit vector by sqrt(hidden)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
