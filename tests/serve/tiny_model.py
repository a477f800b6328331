"""A tiny but real Llama checkpoint for the serve tests: byte-level BPE tokenizer trained here, ChatML template,
MEDITRON's special tokens, random weights large enough that the next-token choice is clear (quantization-robust)."""

from __future__ import annotations

from pathlib import Path

CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|im_start|>", "<|im_end|>", "[bib_ref]", "[/bib_ref]", "[fig_ref]", "[/fig_ref]", "[fig]", "[/fig]",
                  "[table]", "[/table]", "[formula]", "[/formula]"]

TEXT = [
    "Hypertension is a common condition in which the long-term force of the blood against the artery walls is high.",
    "Type 2 diabetes mellitus is treated first with lifestyle changes and metformin unless contraindicated.",
    "Community-acquired pneumonia in adults is often caused by Streptococcus pneumoniae.",
    "Aspirin irreversibly inhibits cyclooxygenase and reduces platelet aggregation.",
    "The patient presented with chest pain radiating to the left arm, diaphoresis and nausea.",
    "Acute kidney injury is defined by a rise in serum creatinine or a fall in urine output.",
    "Sepsis guidelines recommend early antibiotics, fluid resuscitation and source control.",
    "What is the first-line treatment for anaphylaxis? Intramuscular epinephrine 0.5 mg.",
    "Iron deficiency anaemia shows low ferritin, microcytosis and hypochromia on the blood film.",
    "Vaccination against measles, mumps and rubella is given in two doses during childhood.",
    "Warfarin requires INR monitoring; direct oral anticoagulants need dose changes in renal failure.",
    "Asthma exacerbations are treated with inhaled salbutamol, oral steroids and oxygen if hypoxic.",
]


def build_tiny_model(out: Path, *, vocab_size: int = 400, seed: int = 0, tie: bool = False,
                     chat_template: bool = True, hidden_size: int = 64, num_layers: int = 2, num_heads: int = 4,
                     num_kv_heads: int = 2, intermediate_size: int = 128, max_positions: int = 256) -> Path:
    """Write an HF directory (safetensors, config, tokenizer, generation config) to ``out`` and return it."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(TEXT * 4, trainer=trainer)
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>")
    hf_tok.add_special_tokens({"additional_special_tokens": SPECIAL_TOKENS})
    if chat_template:
        hf_tok.chat_template = CHATML_TEMPLATE
    hf_tok.save_pretrained(out)

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(hf_tok), hidden_size=hidden_size, intermediate_size=intermediate_size,
        num_hidden_layers=num_layers, num_attention_heads=num_heads, num_key_value_heads=num_kv_heads,
        max_position_embeddings=max_positions, rms_norm_eps=1e-5, rope_theta=10000.0,
        tie_word_embeddings=tie, bos_token_id=hf_tok.bos_token_id, eos_token_id=hf_tok.eos_token_id,
        initializer_range=0.25,
    )
    model = LlamaForCausalLM(cfg)
    model.save_pretrained(out)
    eos = [hf_tok.eos_token_id, hf_tok.convert_tokens_to_ids("<|im_end|>")]
    GenerationConfig(bos_token_id=hf_tok.bos_token_id, eos_token_id=eos, do_sample=False,
                     max_new_tokens=64).save_pretrained(out)
    return out
