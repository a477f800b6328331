"""Model backends for evaluation, all lm-eval ``LM`` objects found by name (lazy imports, clear errors).

* ``meditron`` — :class:`PrefixSharingHFLM`, our lm-eval model (registered as ``meditron-hf``): lm-eval's stock ``HFLM``
  with a faster multiple-choice scorer. In MEDITRON's few-shot setup the demonstrations are identical for every
  question within a seed, so their key/value cache is computed once and reused for all questions; the options of one
  question share its forward pass. Tokenisation is lm-eval's own (the parent class encodes the requests), so the
  log-likelihoods equal the stock ``hf`` backend's up to float rounding. Its ``generate_until`` (and
  :meth:`PrefixSharingHFLM.generate_samples`, which SC-CoT uses) decodes with :mod:`meditron.eval.generation`: each
  prompt encoded once for all its samples, finished rows leave the batch, greedy outputs equal the stock backend's.
* ``hf`` — lm-eval's stock ``HFLM``. ``vllm`` — lm-eval's ``VLLM``, imported only when asked for.
* ``openai`` — lm-eval's ``local-completions`` (top_token, needs ``echo``+``logprobs`` on the server) and
  ``local-chat-completions`` (generative modes) against any OpenAI-compatible endpoint, e.g. ``meditron serve``.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from lm_eval.api.registry import register_model
from lm_eval.models.huggingface import HFLM

from meditron.errors import ConfigError
from meditron.eval.generation import Sample, decode_batch, decode_settings, decode_stream, mergeable_cache

#: Below this many shared tokens a separate prefix pass costs more than it saves.
MIN_SHARED_PREFIX = 8


def _common_prefix_len(seqs: list[tuple[int, ...]]) -> int:
    first, n = seqs[0], min(len(s) for s in seqs)
    for s in seqs[1:]:
        i = 0
        while i < n and s[i] == first[i]:
            i += 1
        n = i
        if n == 0:
            break
    return n


@register_model("meditron-hf")
class PrefixSharingHFLM(HFLM):
    """``HFLM`` whose log-likelihood scorer encodes the shared prompt prefix once and reuses its KV cache.

    Requests are grouped into *rows* (one forward input: context + continuation[:-1]; the one-token options of a
    question collapse into one row, as in lm-eval's own ``logits_cache``). The longest token prefix common to every row
    (the instruction and few-shot demonstrations when the caller sends one seed at a time) is run once; each batch of
    rows then runs only its own tokens on top of that cache. Anything the shortcut cannot reproduce exactly (seq2seq
    models, left-truncated inputs, sliding-window attention) goes through the parent's scorer unchanged.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.prefix_stats = {"prefix_tokens": 0, "row_tokens": 0, "rows": 0}
        #: After each ``loglikelihood`` call: per request, (argmax token id, its log-prob) at the answer position over
        #: the whole vocabulary, or None when the call went through the parent's scorer (which does not expose it).
        self.last_top: list[tuple[int, float]] | None = None

    @staticmethod
    def _score(lp: torch.Tensor, request, first_pos: int) -> tuple[float, bool, int, float]:
        """(sum of continuation log-probs, greedy?, argmax token at the answer position, its log-prob).

        ``lp`` holds log-probs from row position ``first_pos``; the answer position is the one predicting the
        continuation's first token, whose argmax over the whole vocabulary is the paper's top token.
        """
        _, ctx, cont = request
        begin = len(ctx) - 1 - first_pos
        sel = lp[begin : begin + len(cont)]
        cont_t = torch.tensor(cont, dtype=torch.long, device=sel.device)
        best = sel.argmax(dim=-1)
        greedy = bool((best == cont_t).all())
        top = int(best[0])
        return float(torch.gather(sel, 1, cont_t.unsqueeze(-1)).sum()), greedy, top, float(sel[0, top])

    def _accepts_logits_to_keep(self) -> bool:
        """Models whose forward takes per-sample ``logits_to_keep`` positions (transformers >= 5 causal LMs)."""
        if not hasattr(self, "_logits_to_keep"):
            import inspect

            self._logits_to_keep = "logits_to_keep" in inspect.signature(self.model.forward).parameters
        return self._logits_to_keep

    def _shortcut_ok(self, requests: list[tuple[tuple[str, str], list[int], list[int]]]) -> bool:
        if self.backend != "causal" or not requests:
            return False
        if getattr(self.model.config, "sliding_window", None):
            window = self.model.config.sliding_window
            if any(len(c) + len(k) > window for _, c, k in requests):
                return False
        return all(0 < len(c) and 0 < len(k) and len(c) + len(k) <= self.max_length + 1 for _, c, k in requests)

    def _loglikelihood_tokens(self, requests, disable_tqdm: bool = False, override_bs: int | None = None):  # type: ignore[override]
        self.last_top = None
        if not self._shortcut_ok(requests):
            return super()._loglikelihood_tokens(requests, disable_tqdm=disable_tqdm, override_bs=override_bs)
        from transformers import DynamicCache

        rows: dict[tuple[int, ...], int] = {}
        row_of: list[int] = []
        for _, ctx, cont in requests:
            row = tuple(ctx + cont[:-1])
            row_of.append(rows.setdefault(row, len(rows)))
        row_list = list(rows)
        # The prefix must end before every continuation's first scored position (len(ctx) - 1).
        limit = min(len(ctx) for _, ctx, _ in requests) - 1
        shared = min(_common_prefix_len(row_list), limit)
        if shared < MIN_SHARED_PREFIX:
            shared = 0
        prefix_kv = None
        with torch.no_grad():
            pick = self._accepts_logits_to_keep()
            if shared:
                prefix = torch.tensor([row_list[0][:shared]], device=self.device)
                out = self.model(prefix, use_cache=True, **({"logits_to_keep": 1} if pick else {}))
                prefix_kv = [(layer.keys, layer.values) for layer in out.past_key_values.layers]
            bs = self.batch_size if isinstance(self.batch_size, int) and self.batch_size > 0 else 8
            # First scored position of each row (suffix coordinates): only those positions go through the LM head.
            first = [len(r) for r in row_list]
            for (_, ctx, _), r in zip(requests, row_of, strict=True):
                first[r] = min(first[r], len(ctx) - 1 - shared)
            order = sorted(range(len(row_list)), key=lambda i: (-len(row_list[i]), row_list[i]))
            reqs_of_row: list[list[int]] = [[] for _ in row_list]
            for q, r in enumerate(row_of):
                reqs_of_row[r].append(q)
            results: list[tuple[float, bool]] = [(0.0, False)] * len(requests)
            tops: list[tuple[int, float]] = [(0, 0.0)] * len(requests)
            pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
            for start in range(0, len(order), bs):
                idx = order[start : start + bs]
                suffixes = [row_list[i][shared:] for i in idx]
                width = max(len(s) for s in suffixes)
                inp = torch.tensor([list(s) + [pad] * (width - len(s)) for s in suffixes], device=self.device)
                kwargs: dict[str, Any] = {}
                if prefix_kv is not None:
                    b = len(idx)
                    data = [(k.expand(b, -1, -1, -1), v.expand(b, -1, -1, -1)) for k, v in prefix_kv]
                    kwargs["past_key_values"] = DynamicCache(ddp_cache_data=data, config=self.model.config)
                    kwargs["use_cache"] = True
                spans = [range(first[i], len(s)) for i, s in zip(idx, suffixes, strict=True)]
                if pick:
                    count = max(len(sp) for sp in spans)
                    keep = [list(sp) + [sp[-1]] * (count - len(sp)) for sp in spans]
                    kwargs["logits_to_keep"] = torch.tensor(keep, device=self.device)
                with torch.autocast(
                    device_type=self.device.type,
                    dtype=self.mixed_precision_dtype,
                    enabled=self.mixed_precision_dtype is not None,
                ):
                    logits = self.model(inp, **kwargs).logits
                logprobs = F.log_softmax(logits, dim=-1, dtype=self.softmax_dtype)
                # Score this batch's requests now, so memory stays one batch of log-probs whatever the set size.
                for j, (i, sp) in enumerate(zip(idx, spans, strict=True)):
                    lp = logprobs[j, : len(sp)] if pick else logprobs[j, sp.start : sp.stop]
                    for q in reqs_of_row[i]:
                        ll, greedy, top, top_lp = self._score(lp, requests[q], shared + first[i])
                        results[q], tops[q] = (ll, greedy), (top, top_lp)
                self.prefix_stats["row_tokens"] += sum(len(s) for s in suffixes)
            self.prefix_stats["prefix_tokens"] += shared
            self.prefix_stats["rows"] += len(row_list)

        for (request_str, _, _), answer in zip(requests, results, strict=True):
            if request_str is not None:
                self.cache_hook.add_partial("loglikelihood", request_str, answer)
        self.last_top = tops
        return results

    # ---- generation -------------------------------------------------------------------------------------------------

    def _fast_generation_ok(self) -> bool:
        """The fast loop covers causal LMs without thinking-token stripping; anything else keeps lm-eval's path."""
        return self.backend == "causal" and self.think_end_token is None

    def _batch_prompts(self, num_samples: int) -> int:
        """Prompts per batch: ``batch_size`` counts sequences (as in ``HFLM``), rounded up to whole prompts."""
        rows = self.batch_size if isinstance(self.batch_size, int) and self.batch_size > 0 else 8
        return max(1, -(-rows // num_samples))

    def _decode_all(self, contexts: list[str], num_samples: int, settings, seed: int) -> list[list[Sample]]:
        """Batches of whole prompts (each with its ``num_samples`` rows), longest first as ``HFLM`` orders them."""
        order = sorted(range(len(contexts)), key=lambda i: (-len(self.tok_encode(contexts[i])), contexts[i]))
        out: list[list[Sample]] = [[] for _ in contexts]
        step = self._batch_prompts(num_samples)
        if settings.do_sample and mergeable_cache(self):  # greedy keeps HFLM's batches: bit-identical outputs
            groups = decode_stream(self, [contexts[i] for i in order], num_samples, settings, seed, step * num_samples)
            for i, group in zip(order, groups, strict=True):
                out[i] = group
            return out
        for start in range(0, len(order), step):
            idx = order[start : start + step]
            groups = decode_batch(self, [contexts[i] for i in idx], num_samples, settings, seed)
            for i, group in zip(idx, groups, strict=True):
                out[i] = group
        return out

    def generate_samples(self, requests: list, num_samples: int, seed: int) -> list[list[Sample]]:
        """``num_samples`` continuations of every ``generate_until`` request, each with its mean token log-probability.

        All requests must share one ``gen_kwargs``. Sampled rows are seeded by (``seed``, prompt, sample index), so the
        result for a question is the same whatever else is in the call. Settings the fast loop cannot reproduce fall
        back to lm-eval's ``generate_until`` once per sample (seeded ``seed + s``), without log-probabilities.
        """
        contexts = [r.args[0] for r in requests]
        gen_kwargs = requests[0].args[1] if requests else {}
        if any(r.args[1] != gen_kwargs for r in requests):
            raise ValueError("generate_samples: every request of one call must have the same gen_kwargs")
        settings = decode_settings(self, gen_kwargs) if self._fast_generation_ok() else None
        if settings is None:
            outs: list[list[Sample]] = [[] for _ in requests]
            for s in range(num_samples):
                torch.manual_seed(seed + s)
                for i, text in enumerate(super().generate_until(requests, disable_tqdm=True)):
                    outs[i].append(Sample(text, [], None))
            return outs
        if not settings.do_sample and num_samples > 1:
            greedy = self._decode_all(contexts, 1, settings, seed)
            return [group * num_samples for group in greedy]
        return self._decode_all(contexts, num_samples, settings, seed)

    def generate_until(self, requests: list, disable_tqdm: bool = False) -> list[str]:  # type: ignore[override]
        """lm-eval's API on the fast loop; identical requests (lm-eval's ``repeats``) share one prompt encoding.

        The sampling seed is drawn from torch's global generator, which lm-eval seeds, so runs stay reproducible.
        """
        if not self._fast_generation_ok():
            return super().generate_until(requests, disable_tqdm=disable_tqdm)
        seed = int(torch.randint(0, 2**62, (1,)).item())
        by_kwargs: dict[str, dict[str, list[int]]] = {}
        for i, req in enumerate(requests):
            key = json.dumps(req.args[1], sort_keys=True, default=str)
            by_kwargs.setdefault(key, {}).setdefault(req.args[0], []).append(i)
        results: list[str] = [""] * len(requests)
        for copies_of in by_kwargs.values():
            first = requests[next(iter(copies_of.values()))[0]]
            if decode_settings(self, first.args[1]) is None:
                idxs = [i for group in copies_of.values() for i in group]
                texts = super().generate_until([requests[i] for i in idxs], disable_tqdm=True)
                for i, text in zip(idxs, texts, strict=True):
                    results[i] = text
                continue
            by_count: dict[int, list[str]] = {}
            for context, idxs in copies_of.items():
                by_count.setdefault(len(idxs), []).append(context)
            for count, contexts in by_count.items():
                reqs = [requests[copies_of[c][0]] for c in contexts]
                for context, req, group in zip(contexts, reqs, self.generate_samples(reqs, count, seed), strict=True):
                    for i, sample in zip(copies_of[context], group, strict=True):
                        results[i] = sample.text
                        self.cache_hook.add_partial("generate_until", req.args, sample.text)
        return results


#: ``eval.backend`` → the factory that builds its lm-eval ``LM`` (``meditron.registry.resolve``). Each factory takes
#: make_lm's arguments and imports its heavy or optional dependency (vLLM, the HTTP clients) only when called.
BACKENDS: dict[str, str] = {
    "meditron": "meditron.eval.backends:_meditron_lm",
    "hf": "meditron.eval.backends:_hf_lm",
    "vllm": "meditron.eval.backends:_vllm_lm",
    "openai": "meditron.eval.backends:_openai_lm",
}


def make_lm(
    backend: str,
    model: str | None,
    *,
    base_url: str | None,
    batch_size: int,
    generative: bool,
    tokenizer: str | None = None,
    max_length: int | None = None,
) -> Any:
    """The lm-eval ``LM`` for a config's backend; errors name the config key and the fix.

    ``max_length`` (the resolved ``eval.max_context``) is handed to the HF backends so lm-eval's own limit agrees
    with the budget our prompts were fitted to.
    """
    from meditron.registry import resolve

    factory = resolve(BACKENDS, backend, "eval.backend")
    return factory(
        model,
        base_url=base_url,
        batch_size=batch_size,
        generative=generative,
        tokenizer=tokenizer,
        max_length=max_length,
    )


def _local_model(model: str | None) -> str:
    if not model:
        raise ConfigError("eval.model is required: a local Hugging Face model directory (config.json + weights)")
    return model


def _hf_kwargs(model: str, batch_size: int, max_length: int | None) -> dict[str, Any]:
    """HFLM's arguments: device, batch size, the context limit, and the tokenizer as every stage reads it."""
    kw: dict[str, Any] = {
        "pretrained": model,
        "device": "cpu" if not torch.cuda.is_available() else "cuda",
        "batch_size": batch_size,
    }
    if max_length:
        kw["max_length"] = max_length
    if Path(model).is_dir():
        from meditron.tokenizer import load_tokenizer

        kw["tokenizer"] = load_tokenizer(model)
    return kw


def _meditron_lm(model: str | None, *, batch_size: int, max_length: int | None, **_: Any) -> PrefixSharingHFLM:
    return PrefixSharingHFLM(**_hf_kwargs(_local_model(model), batch_size, max_length))


def _hf_lm(model: str | None, *, batch_size: int, max_length: int | None, **_: Any) -> HFLM:
    return HFLM(**_hf_kwargs(_local_model(model), batch_size, max_length))


def _vllm_lm(model: str | None, **_: Any) -> Any:
    model = _local_model(model)
    if importlib.util.find_spec("vllm") is None:
        raise ConfigError(
            "eval.backend=vllm needs vLLM (GPU only): pip install 'lm-eval[vllm]' on a CUDA machine, "
            "or use backend=meditron"
        )
    from lm_eval.models.vllm_causallms import VLLM

    return VLLM(pretrained=model, batch_size="auto")


def _openai_lm(
    model: str | None, *, base_url: str | None, generative: bool, tokenizer: str | None, **_: Any
) -> Any:
    """lm-eval's HTTP clients: chat completions for generation, completions (local tokenizer) for log-likelihoods."""
    if not base_url:
        raise ConfigError("eval.backend=openai needs eval.base_url, e.g. http://127.0.0.1:8000/v1")
    from lm_eval.api.registry import get_model

    root = base_url.rstrip("/")
    if generative:
        return get_model("local-chat-completions")(
            model=model or "default", base_url=f"{root}/chat/completions", tokenized_requests=False
        )
    if not tokenizer:
        raise ConfigError(
            "top_token over HTTP scores prompt tokens locally: set eval.tokenizer to the served model's "
            "tokenizer directory (or use modes cot/sc_cot/chat, which need no local tokenizer)"
        )
    return get_model("local-completions")(
        model=model or "default",
        base_url=f"{root}/completions",
        tokenizer_backend="huggingface",
        tokenizer=tokenizer,
    )
