"""Train the sample's tokenizer: a byte-level BPE (vocabulary 4,096) on every text in the embedded sample.

    python -m tools.sample_generator.build_tokenizer [--out DIR]

The result is an HF fast-tokenizer directory (``tokenizer.json`` + ``tokenizer_config.json``) that
``AutoTokenizer.from_pretrained(dir)`` loads offline. It carries only the Llama-style special tokens ``<unk> <s> </s>
<pad>``; MEDITRON's markers ([bib_ref]..., <|im_start|>...) are added by the corpus stage, as for any base tokenizer.
Deterministic: the texts are read in sorted path order and the trainer is single-threaded per run of equal counts,
so the same sample gives the same ``tokenizer.json``.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path

from meditron.sample import SAMPLE_DIR

VOCAB_SIZE = 4096
SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>"]
TEXT_SUFFIXES = {".json", ".jsonl", ".csv", ".xml", ".nxml", ".html", ".gz"}
#: Sample folders added after the tokenizer was trained. Kept out of its training texts so that the committed tokenizer
#: (and every token id that tests and tiny models pin) stays as it is; byte-level BPE encodes their text all the same.
NOT_TRAINED_ON: tuple[str, ...] = ("benchmarks/truthfulqa",)


def _strings(obj: object) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _strings(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _strings(value)


def _xml_text(data: bytes, html: bool) -> str:
    from lxml import etree
    from lxml import html as lxml_html

    if html:
        return lxml_html.fromstring(data).text_content()
    parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, recover=True)
    root = etree.fromstring(data, parser)
    return " ".join(t.strip() for t in root.itertext() if t.strip())


def sample_texts(root: Path = SAMPLE_DIR) -> Iterator[str]:
    """Every natural-language string of the sample, in sorted path order (markup and JSON keys left out)."""
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES):
        rel = path.relative_to(root)
        if "tokenizer" in rel.parts or any(rel.as_posix().startswith(f"{d}/") for d in NOT_TRAINED_ON):
            continue
        data = path.read_bytes()
        name = path.name
        if name.endswith(".gz"):
            data, name = gzip.decompress(data), name[:-3]
        if name.endswith(".jsonl"):
            for line in data.decode("utf-8").splitlines():
                if line.strip():
                    yield from _strings(json.loads(line))
        elif name.endswith(".json"):
            text = data.decode("utf-8")
            try:
                yield from _strings(json.loads(text))
            except json.JSONDecodeError:  # JSON Lines under a .json name (MedMCQA)
                for line in text.splitlines():
                    if line.strip():
                        yield from _strings(json.loads(line))
        elif name.endswith(".csv"):
            for row in csv.reader(io.StringIO(data.decode("utf-8"))):
                yield from row
        elif name.endswith((".xml", ".nxml", ".html")):
            yield _xml_text(data, html=name.endswith(".html"))


def train(texts: Iterator[str], vocab_size: int = VOCAB_SIZE):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    bos = tok.token_to_id("<s>")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos)]
    )
    return tok


def save(tok, out: Path) -> None:
    """Write ``tokenizer.json`` and a ``tokenizer_config.json`` that makes it a ``PreTrainedTokenizerFast``."""
    out.mkdir(parents=True, exist_ok=True)
    tok.save(str(out / "tokenizer.json"), pretty=True)
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "model_max_length": 4096,
        "add_bos_token": True,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "padding_side": "right",
    }
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    special = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}
    (out / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SAMPLE_DIR / "tokenizer")
    parser.add_argument("--vocab-size", type=int, default=VOCAB_SIZE)
    args = parser.parse_args(argv)
    tok = train(sample_texts(), args.vocab_size)
    save(tok, args.out)
    print(f"tokenizer ({tok.get_vocab_size()} tokens) written to {args.out}")


if __name__ == "__main__":
    main()
