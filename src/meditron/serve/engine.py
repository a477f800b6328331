"""Generation engines behind ``meditron serve``: transformers on CPU (or one GPU), vLLM when installed on GPU.

Why two: transformers runs everywhere the model was trained and is what the tests exercise; vLLM is the fast path on
GPU servers but is CUDA-only, so it is imported lazily and only chosen when present. Both expose the same small
interface: encode a chat or a prompt to token ids, then stream text deltas for those ids.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meditron.errors import ConfigError

FALLBACK_ROLES = {"system": "System", "developer": "System", "user": "User", "assistant": "Assistant"}


@dataclass
class GenParams:
    max_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    stop: list[str] = field(default_factory=list)


@dataclass
class Delta:
    text: str
    finish_reason: str | None = None
    completion_tokens: int = 0


def fallback_chat_prompt(messages: list[dict[str, str]]) -> str:
    """A plain transcript for models without a chat template (base models): ``User: ...`` / ``Assistant:``."""
    parts = [f"{FALLBACK_ROLES[m['role']]}: {m['content']}" for m in messages]
    return "\n\n".join(parts) + "\n\nAssistant:"


class _IncrementalDecoder:
    """Turns a growing list of token ids into text deltas, holding back incomplete UTF-8 and possible stop strings."""

    def __init__(self, tokenizer: Any, stop: list[str]):
        self.tok, self.stop, self.ids, self.sent = tokenizer, stop, [], 0
        self.hold = max((len(s) for s in stop), default=1) - 1

    def push(self, new_ids: list[int]) -> tuple[str, bool]:
        """(text now safe to send, stop string hit)."""
        self.ids.extend(new_ids)
        text = self.tok.decode(self.ids, skip_special_tokens=True)
        for s in self.stop:
            i = text.find(s, max(0, self.sent - len(s)))
            if i >= 0:
                out = text[self.sent:i]
                self.sent = i
                return out, True
        if text.endswith("\ufffd"):
            return "", False
        safe = len(text) - self.hold if self.stop else len(text)
        if safe <= self.sent:
            return "", False
        out = text[self.sent:safe]
        self.sent = safe
        return out, False

    def flush(self) -> str:
        text = self.tok.decode(self.ids, skip_special_tokens=True)
        out = text[self.sent:]
        self.sent = len(text)
        return out


async def _consume(engine: Any, queue: Any, cancel: threading.Event, params: GenParams) -> AsyncIterator[Delta]:
    """Token ids from a generation queue → text deltas; marks EOS and stop strings; ``None`` ends the stream."""
    decoder = _IncrementalDecoder(engine.tokenizer, params.stop)
    n, finish, hit = 0, "length", False
    try:
        while True:
            item = await queue.get()
            if item is None:
                break
            if isinstance(item, Exception):
                raise item
            n += len(item)
            if any(t in engine.eos_ids for t in item):
                finish = "stop"
                item = [t for t in item if t not in engine.eos_ids]
            text, hit = decoder.push(item)
            if text:
                yield Delta(text, None, n)
            if hit:
                finish = "stop"
                cancel.set()
                break
        if not hit:
            tail = decoder.flush()
            if tail:
                yield Delta(tail, None, n)
        yield Delta("", finish, n)
    finally:
        cancel.set()


class TransformersEngine:
    """transformers ``generate`` in worker threads, streaming through a queue; greedy when temperature is 0."""

    name = "transformers"

    def __init__(self, model_path: str, *, max_workers: int, max_context: int | None = None):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        local = Path(model_path).exists()
        if not local and "/" not in model_path:
            raise ConfigError(f"serve.model={model_path!r}: no such directory")
        self.tokenizer = AutoTokenizer.from_pretrained(model_path, local_files_only=local)
        dtype = torch.float32 if not torch.cuda.is_available() else "auto"
        self.model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype, local_files_only=local)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model.to(self.device).eval()
        self.context_length = int(max_context or getattr(self.model.config, "max_position_embeddings", 2048))
        self.has_chat_template = bool(getattr(self.tokenizer, "chat_template", None))
        gen = self.model.generation_config
        eos = gen.eos_token_id if gen.eos_token_id is not None else self.tokenizer.eos_token_id
        self.eos_ids = [e for e in (eos if isinstance(eos, list) else [eos]) if e is not None]
        im_end = self.tokenizer.convert_tokens_to_ids("<|im_end|>") if "<|im_end|>" in self.tokenizer.get_vocab() else None
        if self.has_chat_template and im_end is not None and im_end not in self.eos_ids:
            self.eos_ids.append(im_end)
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else (self.eos_ids or [0])[0]
        self.pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="meditron-gen")

    def encode_chat(self, messages: list[dict[str, str]]) -> tuple[list[int], list[str]]:
        """Prompt ids and extra stop strings (the fallback transcript stops at the next ``User:`` turn)."""
        if self.has_chat_template:
            text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            return self.tokenizer(text, add_special_tokens=False).input_ids, []
        return self.encode_prompt(fallback_chat_prompt(messages)), ["\nUser:"]

    def encode_prompt(self, text: str) -> list[int]:
        return self.tokenizer(text).input_ids

    def score(self, prompt_ids: list[int], top: int, new_tokens: int) -> dict[str, Any]:
        """Log-probabilities of the prompt's tokens (one forward pass), plus ``new_tokens`` (0 or 1) greedy tokens.

        Returns OpenAI's legacy ``logprobs`` object (``tokens``, ``token_logprobs``, ``top_logprobs``,
        ``text_offset``; the first token has no log-probability) and the ids of the generated tokens.
        """
        import torch

        with torch.inference_mode():
            ids = torch.tensor([prompt_ids], device=self.device)
            logp = torch.log_softmax(self.model(ids, use_cache=False).logits[0].float(), dim=-1)
        all_ids = list(prompt_ids)
        rows = logp[:-1]  # row t predicts token t + 1
        if new_tokens:
            all_ids.append(int(logp[-1].argmax()))
            rows = logp
        targets = torch.tensor(all_ids[1:], device=logp.device)
        token_lp = [None, *rows.gather(1, targets[:, None]).squeeze(1).tolist()]
        top_lp: list[dict[str, float] | None] = [None]
        if top > 0:
            values, indices = rows.topk(top, dim=-1)
            for vs, js in zip(values.tolist(), indices.tolist(), strict=True):
                alternatives: dict[str, float] = {}
                for v, j in zip(vs, js, strict=True):  # best first; pieces that decode alike keep the best
                    alternatives.setdefault(self.tokenizer.decode([j]), v)
                top_lp.append(alternatives)
        else:
            top_lp += [{} for _ in range(rows.shape[0])]
        pieces = [self.tokenizer.decode([i]) for i in all_ids]
        offsets, at = [], 0
        for piece in pieces:
            offsets.append(at)
            at += len(piece)
        return {
            "logprobs": {"tokens": pieces, "token_logprobs": token_lp, "top_logprobs": top_lp, "text_offset": offsets},
            "generated_ids": all_ids[len(prompt_ids) :],
        }

    async def stream(self, prompt_ids: list[int], params: GenParams) -> AsyncIterator[Delta]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList
        from transformers.generation.streamers import BaseStreamer

        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancel = threading.Event()

        class _Streamer(BaseStreamer):
            def __init__(self) -> None:
                self.first = True

            def put(self, value: Any) -> None:
                if self.first:  # the prompt
                    self.first = False
                    return
                loop.call_soon_threadsafe(queue.put_nowait, value.reshape(-1).tolist())

            def end(self) -> None:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        class _Cancel(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full((input_ids.shape[0],), cancel.is_set(), dtype=torch.bool, device=input_ids.device)

        def work() -> None:
            try:
                ids = torch.tensor([prompt_ids], device=self.device)
                kwargs: dict[str, Any] = {
                    "max_new_tokens": params.max_tokens, "eos_token_id": self.eos_ids or None,
                    "pad_token_id": self.pad_id, "streamer": _Streamer(),
                    "stopping_criteria": StoppingCriteriaList([_Cancel()]),
                    "attention_mask": torch.ones_like(ids),
                }
                if params.temperature > 0:
                    kwargs.update(do_sample=True, temperature=params.temperature, top_p=params.top_p, top_k=0)
                else:
                    kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
                with torch.inference_mode():
                    self.model.generate(ids, **kwargs)
            except Exception as e:  # surfaced to the client as a 500 / stream error, never a hung request
                loop.call_soon_threadsafe(queue.put_nowait, e)
                loop.call_soon_threadsafe(queue.put_nowait, None)

        future = loop.run_in_executor(self.pool, work)
        try:
            async for d in _consume(self, queue, cancel, params):
                yield d
        finally:
            cancel.set()  # client gone or stop string: free the worker at the next token
            await asyncio.shield(future)


@dataclass
class _Job:
    prompt_ids: list[int]
    params: GenParams
    loop: Any
    queue: Any
    cancel: threading.Event = field(default_factory=threading.Event)
    done: bool = False
    n: int = 0


class BatchedTransformersEngine(TransformersEngine):
    """One worker runs ``generate`` on batches of the requests waiting together (left-padded, one row each).

    Why: on CPU a forward pass over 4 rows costs little more than over 1 (weights are read once), so answering the
    requests that arrive together in one batch multiplies throughput. Rows stop independently (EOS, max_tokens, stop
    string or client gone); requests arriving while a batch runs form the next batch. Only requests with the same
    sampling settings share a batch.
    """

    name = "transformers-batched"

    def __init__(self, model_path: str, *, max_workers: int, max_context: int | None = None):
        import queue as _queue

        super().__init__(model_path, max_workers=1, max_context=max_context)
        self.max_batch = max_workers
        self.num_batches = 0
        self.largest_batch = 0
        self.pending: _queue.Queue[_Job] = _queue.Queue()
        self.worker = threading.Thread(target=self._worker, name="meditron-batch", daemon=True)
        self.worker.start()

    def _worker(self) -> None:
        import queue as _queue

        held: list[_Job] = []
        while True:
            first = held.pop(0) if held else self.pending.get()
            batch, rest = [first], []
            for job in held:
                (batch if len(batch) < self.max_batch and _same_sampling(job, first) else rest).append(job)
            while len(batch) < self.max_batch:
                try:
                    job = self.pending.get_nowait()
                except _queue.Empty:
                    break
                (batch if _same_sampling(job, first) else rest).append(job)
            held = rest
            batch = [j for j in batch if not j.cancel.is_set() or _finish(j)]
            if batch:
                self._run_batch(batch)

    def _run_batch(self, jobs: list[_Job]) -> None:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList
        from transformers.generation.streamers import BaseStreamer

        self.num_batches += 1
        self.largest_batch = max(self.largest_batch, len(jobs))
        width = max(len(j.prompt_ids) for j in jobs)
        ids = torch.full((len(jobs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(jobs), width), dtype=torch.long)
        for i, j in enumerate(jobs):  # left padding: every row's last prompt token is at the same position
            ids[i, width - len(j.prompt_ids):] = torch.tensor(j.prompt_ids)
            mask[i, width - len(j.prompt_ids):] = 1
        eos = set(self.eos_ids)

        class _Streamer(BaseStreamer):
            def __init__(self) -> None:
                self.first = True

            def put(self, value: Any) -> None:
                if self.first:
                    self.first = False
                    return
                for j, tok in zip(jobs, value.reshape(-1).tolist(), strict=True):
                    if j.done:
                        continue
                    j.n += 1
                    j.loop.call_soon_threadsafe(j.queue.put_nowait, [tok])
                    if tok in eos or j.n >= j.params.max_tokens:
                        _finish(j)

            def end(self) -> None:
                for j in jobs:
                    _finish(j)

        class _RowStop(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.tensor([j.done or j.cancel.is_set() for j in jobs], dtype=torch.bool)

        p = jobs[0].params
        kwargs: dict[str, Any] = {
            "attention_mask": mask, "max_new_tokens": max(j.params.max_tokens for j in jobs),
            "eos_token_id": self.eos_ids or None, "pad_token_id": self.pad_id, "streamer": _Streamer(),
            "stopping_criteria": StoppingCriteriaList([_RowStop()]),
        }
        if p.temperature > 0:
            kwargs.update(do_sample=True, temperature=p.temperature, top_p=p.top_p, top_k=0)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        try:
            with torch.inference_mode():
                self.model.generate(ids.to(self.device), **{k: (v.to(self.device) if k == "attention_mask" else v)
                                                            for k, v in kwargs.items()})
        except Exception as e:  # every waiting client gets the error, none hangs
            for j in jobs:
                if not j.done:
                    j.loop.call_soon_threadsafe(j.queue.put_nowait, e)
                    _finish(j)

    async def stream(self, prompt_ids: list[int], params: GenParams) -> AsyncIterator[Delta]:
        job = _Job(prompt_ids, params, asyncio.get_running_loop(), asyncio.Queue())
        self.pending.put(job)
        async for d in _consume(self, job.queue, job.cancel, params):
            yield d


def _same_sampling(a: _Job, b: _Job) -> bool:
    return (a.params.temperature, a.params.top_p) == (b.params.temperature, b.params.top_p)


def _finish(job: _Job) -> bool:
    if not job.done:
        job.done = True
        job.loop.call_soon_threadsafe(job.queue.put_nowait, None)
    return False


class VllmEngine:  # pragma: no cover - vLLM is CUDA-only and cannot be installed on the CPU test machines
    """vLLM's AsyncLLMEngine, for GPU servers. Chosen by ``serve.backend=vllm`` or ``auto`` with CUDA and vllm present."""

    name = "vllm"

    def __init__(self, model_path: str, *, max_workers: int, max_context: int | None = None):
        try:
            from vllm import AsyncEngineArgs, AsyncLLMEngine
        except ImportError as e:
            raise ConfigError("serve.backend=vllm needs vLLM: pip install 'meditron[vllm]' (GPU only)") from e
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        args = AsyncEngineArgs(model=model_path, max_model_len=max_context, max_num_seqs=max_workers)
        self.engine = AsyncLLMEngine.from_engine_args(args)
        self.context_length = int(max_context or self.tokenizer.model_max_length)
        self.has_chat_template = bool(getattr(self.tokenizer, "chat_template", None))

    encode_chat = TransformersEngine.encode_chat
    encode_prompt = TransformersEngine.encode_prompt

    async def stream(self, prompt_ids: list[int], params: GenParams) -> AsyncIterator[Delta]:
        from vllm import SamplingParams, TokensPrompt

        sp = SamplingParams(max_tokens=params.max_tokens, temperature=params.temperature, top_p=params.top_p,
                            stop=params.stop or None)
        sent, n, finish = 0, 0, None
        async for out in self.engine.generate(TokensPrompt(prompt_token_ids=prompt_ids), sp, uuid.uuid4().hex):
            c = out.outputs[0]
            n, finish = len(c.token_ids), c.finish_reason
            if len(c.text) > sent:
                yield Delta(c.text[sent:], None, n)
                sent = len(c.text)
        yield Delta("", "stop" if finish == "stop" else "length", n)


def load_engine(model_path: str, backend: str, *, max_workers: int, max_context: int | None, batching: bool = False):
    """Pick the engine: vLLM when asked, or with ``auto`` when vllm is importable and CUDA is present; otherwise
    transformers, batching the requests that run together (``batching``) or one ``generate`` thread per request."""
    import importlib.util

    if backend == "auto":
        import torch

        backend = "vllm" if importlib.util.find_spec("vllm") and torch.cuda.is_available() else "transformers"
    t0 = time.perf_counter()
    if backend == "vllm":
        cls: type = VllmEngine
    else:
        cls = BatchedTransformersEngine if batching and max_workers > 1 else TransformersEngine
    engine = cls(model_path, max_workers=max_workers, max_context=max_context)
    engine.load_seconds = time.perf_counter() - t0
    return engine
