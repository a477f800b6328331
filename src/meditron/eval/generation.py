"""Fast batched decoding for :class:`~meditron.eval.backends.PrefixSharingHFLM` (CoT and SC-CoT).

lm-eval's ``HFLM.generate_until`` runs Hugging Face ``generate`` on batches of requests: SC-CoT with ``repeats=N``
sends every question N times, so its prompt is encoded N times, every row of a batch keeps decoding until the last one
stops, and every step decodes the tails of all rows once per stop string. This loop instead

* encodes each prompt once and expands its KV cache to the N sample rows (``DynamicCache.batch_repeat_interleave``),
  with several questions per batch (left padding + attention mask, as ``HFLM``);
* drops a row from the batch (and its cache) as soon as it has produced EOS or one of the stop strings; for sampled
  rows (``decode_stream``) the room is refilled with the next questions' freshly prefilled rows (continuous
  batching), while greedy keeps ``HFLM``'s batches so its outputs stay bit-identical to the stock backend;
* appends each step's keys/values in place into a cache buffer with headroom instead of ``torch.cat``;
* returns each sample's token ids and mean token log-probability (raw model distribution, temperature 1), which
  SC-CoT uses to break vote ties.

What it keeps from ``HFLM`` so greedy outputs are the stock backend's: the same encoding (``tok_batch_encode``, left
truncation to ``max_length - max_gen_toks``), the same forward arguments (position ids from the attention mask, the
prefill computing logits at the last position only), greedy = argmax of float32 logits, EOS ids from the model's
generation config, ``max_gen_toks`` new tokens at most, and the same text: ``tok_decode`` then truncation at the
first stop string (``postprocess_generated_text``). Sampling applies HF's warpers in HF's order (temperature, top-k
(default 50), top-p, min-p) and draws each row from its own generator seeded by (seed, prompt, sample index), so a
question's samples do not depend on which other questions share its batch.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

#: Generation kwargs the fast loop reproduces; anything else goes through lm-eval's own ``generate_until``.
SUPPORTED_KWARGS = {"until", "max_gen_toks", "do_sample", "temperature", "top_k", "top_p", "min_p"}
#: Generation-config settings that would change HF's logits before argmax/sampling; if set, use the stock path.
_NEUTRAL_CONFIG = {
    "repetition_penalty": 1.0,
    "no_repeat_ngram_size": 0,
    "bad_words_ids": None,
    "suppress_tokens": None,
    "begin_suppress_tokens": None,
    "forced_bos_token_id": None,
    "forced_eos_token_id": None,
    "min_length": 0,
    "min_new_tokens": None,
    "typical_p": 1.0,
    "epsilon_cutoff": 0.0,
    "eta_cutoff": 0.0,
    "sequence_bias": None,
    "encoder_repetition_penalty": 1.0,
    "guidance_scale": None,
    "top_h": None,
    "renormalize_logits": False,
}


@dataclass
class Sample:
    """One generated continuation: the returned text, the generated token ids, their mean log-probability."""

    text: str
    tokens: list[int]
    mean_logprob: float | None  # None when the stock path generated it (no log-probs there)


@dataclass
class DecodeSettings:
    until: list[str]
    max_gen_toks: int
    do_sample: bool
    temperature: float
    top_k: int | None
    top_p: float | None
    min_p: float | None
    eos_ids: frozenset[int]


def decode_settings(lm: Any, gen_kwargs: dict) -> DecodeSettings | None:
    """The request's settings resolved as ``HFLM`` + HF ``generate`` would; None if the fast loop cannot match them."""
    from lm_eval.models.utils import handle_stop_sequences, normalize_gen_kwargs

    if set(gen_kwargs) - SUPPORTED_KWARGS - {"max_new_tokens", "max_tokens"}:
        return None
    kwargs = normalize_gen_kwargs(gen_kwargs, lm.max_gen_toks)
    eos = lm.tok_decode(lm.eot_token_id, skip_special_tokens=False)
    until = handle_stop_sequences(kwargs.pop("until", None), eos=eos)
    gc = lm.model.generation_config
    for key, neutral in _NEUTRAL_CONFIG.items():
        if getattr(gc, key, neutral) not in (neutral, None):
            return None
    eos_ids = gc.eos_token_id if gc.eos_token_id is not None else []
    do_sample = bool(kwargs.get("do_sample"))
    pick = kwargs.get if do_sample else (lambda key, default=None: default)
    return DecodeSettings(
        until=until,
        max_gen_toks=int(kwargs["max_gen_toks"]),
        do_sample=do_sample,
        temperature=float(pick("temperature", None) or getattr(gc, "temperature", None) or 1.0),
        top_k=pick("top_k", getattr(gc, "top_k", None) if getattr(gc, "top_k", None) is not None else 50),
        top_p=pick("top_p", getattr(gc, "top_p", None)),
        min_p=pick("min_p", getattr(gc, "min_p", None)),
        eos_ids=frozenset([eos_ids] if isinstance(eos_ids, int) else eos_ids),
    )


def row_seed(seed: int, prompt: str, sample: int) -> int:
    """A 63-bit seed for one sample of one prompt: independent of the batch and of the other questions of the run."""
    digest = hashlib.sha256(f"{seed}\x00{sample}\x00{prompt}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def _warpers(settings: DecodeSettings) -> list[Any]:
    from transformers.generation.logits_process import (
        MinPLogitsWarper,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    out: list[Any] = []
    if settings.temperature != 1.0:
        out.append(TemperatureLogitsWarper(settings.temperature))
    if settings.top_k:
        out.append(TopKLogitsWarper(top_k=settings.top_k))
    if settings.top_p is not None and settings.top_p < 1.0:
        out.append(TopPLogitsWarper(top_p=settings.top_p))
    if settings.min_p is not None:
        out.append(MinPLogitsWarper(min_p=settings.min_p))
    return out


class _StopWatch:
    """Per-row stop: an EOS id, or a stop string in the decoded tail (lm-eval's look-back, one batch decode a step)."""

    def __init__(self, lm: Any, settings: DecodeSettings) -> None:
        self.lm, self.settings = lm, settings
        self.stops = [s for s in settings.until if s]
        lengths = [len(lm.tokenizer.encode(s, add_special_tokens=False)) for s in self.stops]
        self.lookback = max(lengths, default=0) + 2

    def done(self, tokens: list[list[int]]) -> list[bool]:
        tails = self.lm.tokenizer.batch_decode([t[-self.lookback :] for t in tokens]) if self.stops else []
        flags = []
        for i, toks in enumerate(tokens):
            hit = toks[-1] in self.settings.eos_ids or any(s in tails[i] for s in self.stops)
            flags.append(hit)
        return flags


@functools.lru_cache(maxsize=1)
def _growing_layer_class() -> type:
    from transformers.cache_utils import DynamicLayer

    class GrowingLayer(DynamicLayer):
        """A ``DynamicLayer`` whose keys/values are views of a buffer with room for ``HEADROOM`` more tokens.

        ``DynamicLayer`` appends a step's key/value with ``torch.cat``, copying the whole cache every step (≈ 10% of
        a CPU decode step at 10 rows x 400 tokens); here the new column is written in place. Whenever the keys are
        no longer a prefix view of the buffer (rows dropped, cache merged or trimmed), the buffer is rebuilt once.
        The values stored are the same tensors' values, so the attention results are unchanged.
        """

        HEADROOM = 64

        def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any):
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
            length, new = (self.keys.shape[-2] if self.keys.dim() == 4 else 0), key_states.shape[-2]
            buf = getattr(self, "_kbuf", None)
            view = (
                buf is not None
                and length > 0
                and self.keys.data_ptr() == buf.data_ptr()
                and self.keys.shape[:2] == buf.shape[:2]
                and self.keys.stride() == buf.stride()
            )
            if not (view and length + new <= buf.shape[-2]):
                b, h, _, d = key_states.shape
                self._kbuf = key_states.new_empty((b, h, length + new + self.HEADROOM, d))
                self._vbuf = value_states.new_empty((b, h, length + new + self.HEADROOM, value_states.shape[-1]))
                if length:
                    self._kbuf[:, :, :length] = self.keys
                    self._vbuf[:, :, :length] = self.values
            self._kbuf[:, :, length : length + new] = key_states
            self._vbuf[:, :, length : length + new] = value_states
            self.keys, self.values = self._kbuf[:, :, : length + new], self._vbuf[:, :, : length + new]
            return self.keys, self.values

    return GrowingLayer


class _Decoder:
    """The model side of one batch: the KV cache, the attention mask, positions, and which rows are still running."""

    def __init__(self, lm: Any, contexts: list[str], num_samples: int, settings: DecodeSettings) -> None:
        from transformers import DynamicCache

        max_ctx = lm.max_length - settings.max_gen_toks
        if max_ctx <= 0:
            raise ValueError(
                f"max_gen_toks={settings.max_gen_toks} leaves no room for the prompt in the model's "
                f"{lm.max_length}-token context: lower eval.max_new_tokens"
            )
        self.lm, self.model = lm, lm.model
        params = inspect.signature(self.model.forward).parameters
        self.cache_key = "cache" if "cache" in params else "past_key_values"
        self.cache = DynamicCache(config=self.model.config)
        if mergeable_cache(lm):  # plain full-attention layers: append in place instead of torch.cat
            grow = _growing_layer_class()
            self.cache.layers = [grow() for _ in self.cache.layers]
        ids, mask = lm.tok_batch_encode(contexts, left_truncate_len=max_ctx)
        self.mask = mask.to(lm.device)
        position = (self.mask.long().cumsum(-1) - 1).masked_fill(self.mask == 0, 0)
        extra = {"logits_to_keep": 1} if "logits_to_keep" in params else {}
        self.logits = self._forward(ids.to(lm.device), position, **extra)
        if num_samples > 1:  # the prompt was encoded once; its cache now serves every sample
            self.cache.batch_repeat_interleave(num_samples)
            self.logits = self.logits.repeat_interleave(num_samples, dim=0)
            self.mask = self.mask.repeat_interleave(num_samples, dim=0)
            position = position.repeat_interleave(num_samples, dim=0)
        self.last_pos = position[:, -1:]
        self.active = list(range(len(contexts) * num_samples))  # batch position -> row

    def _forward(self, ids: torch.Tensor, position: torch.Tensor, **extra: Any) -> torch.Tensor:
        lm = self.lm
        with (
            torch.no_grad(),
            torch.autocast(
                device_type=lm.device.type,
                dtype=lm.mixed_precision_dtype,
                enabled=lm.mixed_precision_dtype is not None,
            ),
        ):
            out = self.model(
                input_ids=ids,
                attention_mask=self.mask,
                position_ids=position,
                use_cache=True,
                **{self.cache_key: self.cache},
                **extra,
            )
        return out.logits[:, -1, :]

    def keep(self, batch_positions: list[int], nxt: torch.Tensor) -> torch.Tensor:
        """Drop finished rows from the cache and the batch; returns the kept rows' next tokens."""
        if len(batch_positions) == len(self.active):
            return nxt
        index = torch.tensor(batch_positions, device=self.lm.device)
        self.cache.batch_select_indices(index)
        self.mask, self.last_pos = self.mask[index], self.last_pos[index]
        self.active = [self.active[b] for b in batch_positions]
        return nxt[index]

    def merge(self, other: _Decoder, rows: list[int]) -> None:
        """Add the freshly prefilled rows of ``other`` to this batch (continuous batching).

        The two caches have different lengths: the shorter one is left-padded with zero keys/values under a 0 in
        the attention mask, exactly what left padding of a batch does; every row keeps its own positions.
        """
        width = max(self.mask.shape[1], other.mask.shape[1])
        self.mask = torch.cat([_pad_left(self.mask, width), _pad_left(other.mask, width)])
        for mine, theirs in zip(self.cache.layers, other.cache.layers, strict=True):
            mine.keys = torch.cat([_pad_left(mine.keys, width, dim=2), _pad_left(theirs.keys, width, dim=2)])
            mine.values = torch.cat([_pad_left(mine.values, width, dim=2), _pad_left(theirs.values, width, dim=2)])
        self.last_pos = torch.cat([self.last_pos, other.last_pos])
        self.logits = torch.cat([self.logits, other.logits])
        self.active = self.active + rows

    def trim(self) -> None:
        """Drop the leading columns that are padding for every remaining row (they only cost attention time)."""
        used = self.mask.any(dim=0).nonzero()
        lead = int(used[0]) if len(used) else 0
        if lead:
            self.mask = self.mask[:, lead:]
            for layer in self.cache.layers:
                layer.keys, layer.values = layer.keys[:, :, lead:], layer.values[:, :, lead:]

    def step(self, nxt: torch.Tensor) -> None:
        self.mask = torch.cat([self.mask, self.mask.new_ones((self.mask.shape[0], 1))], dim=-1)
        self.last_pos = self.last_pos + 1
        self.logits = self._forward(nxt.unsqueeze(-1), self.last_pos)


def _pad_left(t: torch.Tensor, width: int, dim: int = 1) -> torch.Tensor:
    extra = width - t.shape[dim]
    if extra <= 0:
        return t
    shape = list(t.shape)
    shape[dim] = extra
    return torch.cat([t.new_zeros(shape), t], dim=dim)


def mergeable_cache(lm: Any) -> bool:
    """Continuous batching edits the cache's key/value tensors: only plain (full-attention) dynamic layers allow it."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    return all(type(layer) is DynamicLayer for layer in DynamicCache(config=lm.model.config).layers)


def _row_generators(lm: Any, contexts: list[str], num_samples: int, seed: int) -> list[torch.Generator]:
    generators = []
    for r in range(len(contexts) * num_samples):
        g = torch.Generator(device=lm.device)
        g.manual_seed(row_seed(seed, contexts[r // num_samples], r % num_samples))
        generators.append(g)
    return generators


def _sample(scores: torch.Tensor, warpers: list[Any], top_k: int | None, generators: list[torch.Generator]):
    """One token per row from HF's warped distribution, by inverse CDF over the top-k candidates.

    Each row draws one uniform number from its own generator (cheap, and independent of the other rows); the
    candidates outside top-k have probability 0 after the warpers, so restricting the CDF to them changes nothing.
    """
    warped = scores
    for w in warpers:
        warped = w(None, warped)
    probs = F.softmax(warped, dim=-1)
    top_p, top_i = probs.topk(min(top_k or probs.shape[-1], probs.shape[-1]), dim=-1)
    cdf = top_p.cumsum(dim=-1)
    u = torch.cat([torch.rand(1, generator=g, device=scores.device) for g in generators]).unsqueeze(-1)
    choice = torch.searchsorted(cdf, u * cdf[:, -1:], right=True).clamp(max=cdf.shape[-1] - 1)
    return top_i.gather(1, choice).squeeze(-1)


def _next_tokens(
    dec: _Decoder, settings: DecodeSettings, warpers: list, generators: list, tokens: list[list[int]], logprob_sums: list[float]
) -> torch.Tensor:
    """One decoding step's token for every active row (sampled, or HF greedy: argmax of the float32 logits), appended
    to that row's tokens with its log-probability added to the row's sum; returns the picked ids (batch order)."""
    scores = dec.logits.to(torch.float32)
    if settings.do_sample:
        nxt = _sample(scores, warpers, settings.top_k, [generators[r] for r in dec.active])
    else:
        nxt = scores.argmax(dim=-1)
    picked = F.log_softmax(scores, dim=-1).gather(1, nxt.unsqueeze(-1)).squeeze(-1).tolist()
    for b, (r, tok) in enumerate(zip(dec.active, nxt.tolist(), strict=True)):
        tokens[r].append(tok)
        logprob_sums[r] += picked[b]
    return nxt


def decode_batch(
    lm: Any, contexts: list[str], num_samples: int, settings: DecodeSettings, seed: int
) -> list[list[Sample]]:
    """Decode ``num_samples`` continuations of each context in one batch: prefill once, expand, step until all stop."""

    dec = _Decoder(lm, contexts, num_samples, settings)
    generators = _row_generators(lm, contexts, num_samples, seed) if settings.do_sample else []
    warpers = _warpers(settings) if settings.do_sample else []
    watch = _StopWatch(lm, settings)
    rows = len(dec.active)
    tokens: list[list[int]] = [[] for _ in range(rows)]
    logprob_sums = [0.0] * rows
    for step in range(settings.max_gen_toks):
        nxt = _next_tokens(dec, settings, warpers, generators, tokens, logprob_sums)
        if step == settings.max_gen_toks - 1:
            break
        finished = watch.done([tokens[r] for r in dec.active])
        running = [b for b, f in enumerate(finished) if not f]
        if not running:
            break
        dec.step(dec.keep(running, nxt))
    return _samples(lm, tokens, logprob_sums, len(contexts), num_samples, settings.until)


def _samples(lm, tokens: list[list[int]], logprob_sums: list[float], num_contexts: int, num_samples: int,
             until: list[str]) -> list[list[Sample]]:
    """Rows back into per-question groups of samples: text cut at the first stop string (as lm-eval's ``hf`` does),
    the generated ids, and the mean log-probability per token (the SC-CoT tie-break)."""
    from lm_eval.models.utils import postprocess_generated_text

    out: list[list[Sample]] = []
    for c in range(num_contexts):
        group = []
        for r in range(c * num_samples, (c + 1) * num_samples):
            text = postprocess_generated_text(lm.tok_decode(tokens[r]), until, None)
            group.append(Sample(text, tokens[r], logprob_sums[r] / max(len(tokens[r]), 1)))
        out.append(group)
    return out


class _Stream:
    """Continuous batching: at most ``capacity`` rows decode together, and whenever a question's ``num_samples``
    rows fit into the room left by finished rows, its prompt is encoded (once) and its rows join the batch."""

    def __init__(self, lm: Any, contexts: list[str], num_samples: int, settings: DecodeSettings, capacity: int):
        self.lm, self.contexts, self.n, self.settings = lm, contexts, num_samples, settings
        self.capacity = max(capacity, num_samples)
        self.pending = list(range(len(contexts)))
        self.dec: _Decoder | None = None

    def admit(self) -> None:
        running = len(self.dec.active) if self.dec else 0
        take = min(len(self.pending), (self.capacity - running) // self.n)
        if not take:
            return
        chosen, self.pending = self.pending[:take], self.pending[take:]
        new = _Decoder(self.lm, [self.contexts[c] for c in chosen], self.n, self.settings)
        rows = [c * self.n + s for c in chosen for s in range(self.n)]
        if self.dec is None:
            new.active, self.dec = rows, new
        else:
            self.dec.merge(new, rows)

    def advance(self, running: list[int], nxt: torch.Tensor) -> None:
        """Keep the running rows (batch positions), feed them their next token, then refill the free room."""
        if running:
            assert self.dec is not None
            nxt = self.dec.keep(running, nxt)
            self.dec.trim()
            self.dec.step(nxt)
        else:
            self.dec = None
        self.admit()


def decode_stream(
    lm: Any, contexts: list[str], num_samples: int, settings: DecodeSettings, seed: int, capacity: int
) -> list[list[Sample]]:
    """Like :func:`decode_batch` for any number of contexts, with continuous batching of at most ``capacity`` rows.

    Contexts are admitted in the given order. A row's tokens depend only on its own logits and its own generator
    (seeded by seed, prompt, sample index), so which questions share the batch does not change the draws.
    """

    stream = _Stream(lm, contexts, num_samples, settings, capacity)
    generators = _row_generators(lm, contexts, num_samples, seed) if settings.do_sample else []
    warpers = _warpers(settings) if settings.do_sample else []
    watch = _StopWatch(lm, settings)
    rows = len(contexts) * num_samples
    tokens: list[list[int]] = [[] for _ in range(rows)]
    logprob_sums = [0.0] * rows
    stream.admit()
    while stream.dec is not None:
        dec = stream.dec
        nxt = _next_tokens(dec, settings, warpers, generators, tokens, logprob_sums)
        finished = watch.done([tokens[r] for r in dec.active])
        capped = [len(tokens[r]) >= settings.max_gen_toks for r in dec.active]
        stream.advance([b for b, (f, c) in enumerate(zip(finished, capped, strict=True)) if not (f or c)], nxt)
    return _samples(lm, tokens, logprob_sums, len(contexts), num_samples, settings.until)
