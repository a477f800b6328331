"""Generation engines behind ``meditron serve``: transformers on CPU (or one GPU), vLLM when installed on GPU.

Why two: transformers runs everywhere the model was trained and is what the tests exercise; vLLM is the fast path on
GPU servers but is CUDA-only, so it lives in ``vllm_engine.py``, found through :data:`ENGINES` and imported only when
chosen. Both expose the same small interface: encode a chat or a prompt to token ids, then stream text deltas for
those ids.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meditron.errors import ConfigError
from meditron.special_tokens import IM_END

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


@dataclass
class _Job:
    """One request's generation: its prompt, settings, decoder and the queue its deltas go to."""

    prompt_ids: list[int]
    params: GenParams
    loop: Any
    queue: Any
    decoder: _IncrementalDecoder
    cancel: threading.Event = field(default_factory=threading.Event)
    done: bool = False
    n: int = 0


def _put(job: _Job, item: Any) -> None:
    job.loop.call_soon_threadsafe(job.queue.put_nowait, item)


def _finish(job: _Job, reason: str) -> bool:
    """End a job once: the decoder's held-back tail (unless a stop string cut it), the finish reason, end of stream."""
    if job.done:
        return False
    job.done = True
    if reason != "stop-string":
        tail = job.decoder.flush()
        if tail:
            _put(job, Delta(tail, None, job.n))
    _put(job, Delta("", "stop" if reason in ("eos", "stop-string") else "length", job.n))
    _put(job, None)
    return False


def _fail(job: _Job, error: BaseException) -> None:
    if not job.done:
        job.done = True
        _put(job, error)
        _put(job, None)


class _JobStreamer:
    """The one streamer: receives each generated token of every row (in the generate thread) and turns it into
    text deltas there (decoding is tokenizer work, kept off the event loop); rows stop independently."""

    def __init__(self, jobs: list[_Job], eos_ids: list[int]):
        self.jobs, self.eos, self.first = jobs, set(eos_ids), True

    def put(self, value: Any) -> None:
        if self.first:  # generate's first call carries the prompt
            self.first = False
            return
        for job, token in zip(self.jobs, value.reshape(-1).tolist(), strict=True):
            if job.done:
                continue
            job.n += 1
            if token in self.eos:
                _finish(job, "eos")
                continue
            text, hit = job.decoder.push([token])
            if text:
                _put(job, Delta(text, None, job.n))
            if hit:
                _finish(job, "stop-string")
            elif job.n >= job.params.max_tokens:
                _finish(job, "length")

    def end(self) -> None:
        for job in self.jobs:
            _finish(job, "length")


async def _consume(job: _Job) -> AsyncIterator[Delta]:
    """A job's deltas from its queue; an exception from the generate thread is raised here; ``None`` ends it."""
    try:
        while True:
            item = await job.queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        job.cancel.set()  # client gone or done: the row stops at its next token


class TransformersEngine:
    """transformers ``generate`` in worker threads, streaming through a queue; greedy when temperature is 0.

    Each request is a job; ``_generate`` runs one ``generate`` call over a list of jobs (one row each, left-padded)
    with one streamer and one set of generation arguments. The plain engine runs every job alone in a pool thread;
    :class:`BatchedTransformersEngine` runs the jobs waiting together as one batch.
    """

    name = "transformers"

    def __init__(self, model_path: str, *, max_workers: int, max_context: int | None = None):
        import torch
        from transformers import AutoModelForCausalLM

        from meditron.model_info import model_max_context

        self.tokenizer = load_model_tokenizer(model_path)
        dtype = torch.float32 if not torch.cuda.is_available() else "auto"
        self.model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype, local_files_only=True)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model.to(self.device).eval()
        self.context_length = int(max_context or model_max_context(self.model.config, self.tokenizer) or 2048)
        self.vocab_size = int(self.model.get_input_embeddings().weight.shape[0])
        self.max_token_chars = max_token_chars(self.tokenizer)
        self.has_chat_template = bool(getattr(self.tokenizer, "chat_template", None))
        gen = self.model.generation_config
        eos = gen.eos_token_id if gen.eos_token_id is not None else self.tokenizer.eos_token_id
        self.eos_ids = [e for e in (eos if isinstance(eos, list) else [eos]) if e is not None]
        im_end = self.tokenizer.convert_tokens_to_ids(IM_END) if IM_END in self.tokenizer.get_vocab() else None
        if self.has_chat_template and im_end is not None and im_end not in self.eos_ids:
            self.eos_ids.append(im_end)
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else (self.eos_ids or [0])[0]
        self.pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="meditron-gen")

    def encode_chat(self, messages: list[dict[str, str]]) -> tuple[list[int], list[str]]:
        """Prompt ids and extra stop strings (the fallback transcript stops at the next ``User:`` turn)."""
        if self.has_chat_template:  # the template writes the markers (and the BOS): no special tokens added on top
            text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            return self._one_bos(self.tokenizer(text, add_special_tokens=False).input_ids), []
        return self.encode_prompt(fallback_chat_prompt(messages)), ["\nUser:"]

    def encode_prompt(self, text: str) -> list[int]:
        return self._one_bos(self.tokenizer(text).input_ids)

    def _one_bos(self, ids: list[int]) -> list[int]:
        """Exactly one BOS first when the tokenizer adds BOS (see :func:`meditron.tokenizer.one_bos`)."""
        from meditron.tokenizer import adds_special_tokens, one_bos

        if not hasattr(self, "_adds_bos"):
            self._adds_bos = adds_special_tokens(self.tokenizer)[0]
        return one_bos(self.tokenizer, ids, self._adds_bos)

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

    def generation_kwargs(self, jobs: list[_Job]) -> dict[str, Any]:
        """The one generation-arguments builder: left-padded rows, one streamer, per-row stop, greedy or sampling."""
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        width = max(len(j.prompt_ids) for j in jobs)
        ids = torch.full((len(jobs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(jobs), width), dtype=torch.long)
        for i, j in enumerate(jobs):  # left padding: every row's last prompt token is at the same position
            ids[i, width - len(j.prompt_ids):] = torch.tensor(j.prompt_ids)
            mask[i, width - len(j.prompt_ids):] = 1

        class _RowStop(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.tensor([j.done or j.cancel.is_set() for j in jobs], dtype=torch.bool,
                                    device=input_ids.device)

        p = jobs[0].params
        kwargs: dict[str, Any] = {
            "inputs": ids.to(self.device), "attention_mask": mask.to(self.device),
            "max_new_tokens": max(j.params.max_tokens for j in jobs), "eos_token_id": self.eos_ids or None,
            "pad_token_id": self.pad_id, "streamer": _JobStreamer(jobs, self.eos_ids),
            "stopping_criteria": StoppingCriteriaList([_RowStop()]),
        }
        if p.temperature > 0:
            kwargs.update(do_sample=True, temperature=p.temperature, top_p=p.top_p, top_k=0)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return kwargs

    def _generate(self, jobs: list[_Job]) -> None:
        """One ``generate`` call over ``jobs`` (runs in a worker thread); an error reaches every waiting client."""
        import torch

        try:
            with torch.inference_mode():
                self.model.generate(**self.generation_kwargs(jobs))
        except Exception as e:  # surfaced as a JSON 500 / an SSE error event, never a hung request
            for j in jobs:
                _fail(j, e)

    def _new_job(self, prompt_ids: list[int], params: GenParams) -> _Job:
        return _Job(prompt_ids, params, asyncio.get_running_loop(), asyncio.Queue(),
                    _IncrementalDecoder(self.tokenizer, params.stop))

    async def stream(self, prompt_ids: list[int], params: GenParams) -> AsyncIterator[Delta]:
        job = self._new_job(prompt_ids, params)
        future = job.loop.run_in_executor(self.pool, self._generate, [job])
        try:
            async for d in _consume(job):
                yield d
        finally:
            job.cancel.set()
            await asyncio.shield(future)


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
            batch = [j for j in batch if not j.cancel.is_set() or _finish(j, "length")]
            if batch:
                self.num_batches += 1
                self.largest_batch = max(self.largest_batch, len(batch))
                self._generate(batch)

    async def stream(self, prompt_ids: list[int], params: GenParams) -> AsyncIterator[Delta]:
        job = self._new_job(prompt_ids, params)
        self.pending.put(job)
        async for d in _consume(job):
            yield d


def _same_sampling(a: _Job, b: _Job) -> bool:
    return (a.params.temperature, a.params.top_p) == (b.params.temperature, b.params.top_p)


def max_token_chars(tokenizer: Any) -> int:
    """The longest token's spelling in characters: a prompt of more than ``context × this`` characters cannot fit,
    which the server checks before tokenizing anything (raw spellings are never shorter than the decoded text)."""
    return max((len(t) for t in tokenizer.get_vocab()), default=1) or 1


#: ``org/name`` on the Hugging Face hub (no path separators beyond the one slash, no leading dot or tilde).
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def load_model_tokenizer(model_path: str) -> Any:
    """A local folder's tokenizer as every stage reads it (:func:`meditron.tokenizer.load_tokenizer`: rebuilt on
    a SentencePiece ``tokenizer.model``); a hub id's from the local cache only, like its weights."""
    if Path(model_path).expanduser().is_dir():
        from meditron.tokenizer import load_tokenizer

        return load_tokenizer(Path(model_path).expanduser())
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_path, local_files_only=True)


def check_model_dir(model_path: str) -> Path | None:
    """The exported model directory, or one line saying what is wrong with it (before any library sees it).

    Why here: transformers answers a missing or empty folder with a long traceback (or a hub lookup), so anything
    that is a local path but not a directory with a config, weights and a tokenizer is refused in one line naming the
    path and what to pass instead. A hub id (``org/name``) that is not a local path is passed on (returns None):
    users who are online can serve a hub model; offline, its loader's first error line is reported.
    """
    path = Path(model_path).expanduser()
    hint = "pass --model an exported model directory (meditron export writes <run>/hf) or a hub id (org/name)"
    if not path.exists() and _HUB_ID.match(model_path):
        return None
    if not path.exists():
        raise ConfigError(f"serve.model={model_path!r}: no such directory; {hint}")
    if not path.is_dir():
        raise ConfigError(f"serve.model={model_path!r} is a file, not a model directory; {hint}")
    if not any(path.iterdir()):
        raise ConfigError(f"serve.model={model_path!r} is an empty directory; {hint}")
    if not (path / "config.json").is_file():
        raise ConfigError(f"serve.model={model_path!r} has no config.json: not a Hugging Face model directory; {hint}")
    if not any(path.glob("*.safetensors")) and not any(path.glob("pytorch_model*.bin")):
        raise ConfigError(f"serve.model={model_path!r} has no weights (*.safetensors); {hint}")
    if not any((path / f).is_file() for f in ("tokenizer.json", "tokenizer.model", "tokenizer_config.json")):
        raise ConfigError(f"serve.model={model_path!r} has no tokenizer (tokenizer.json / tokenizer.model); {hint}")
    return path


#: ``serve.backend`` → the engine factory, imported on first use (vLLM's module only on the GPU servers that pick it).
#: Every factory takes ``(model_path, *, max_workers, max_context, batching)``. ``auto`` is a rule on top, not an entry:
#: see :func:`engine_backend`.
ENGINES: dict[str, str] = {
    "transformers": "meditron.serve.engine:transformers_engine",
    "vllm": "meditron.serve.vllm_engine:VllmEngine",
}


def transformers_engine(model_path: str, *, max_workers: int, max_context: int | None = None,
                        batching: bool = False) -> TransformersEngine:
    """transformers, batching the requests that run together (``batching``) or one ``generate`` thread per request."""
    cls = BatchedTransformersEngine if batching and max_workers > 1 else TransformersEngine
    return cls(model_path, max_workers=max_workers, max_context=max_context)


def engine_backend(backend: str) -> str:
    """``auto`` → ``vllm`` when vllm is importable and CUDA is present, else ``transformers``; other names unchanged."""
    if backend != "auto":
        return backend
    import importlib.util

    import torch

    return "vllm" if importlib.util.find_spec("vllm") and torch.cuda.is_available() else "transformers"


def load_engine(model_path: str, backend: str, *, max_workers: int, max_context: int | None, batching: bool = False):
    """Load the engine ``backend`` names in :data:`ENGINES` (``auto``: see :func:`engine_backend`); a model that does
    not load is refused in one line naming it."""
    from meditron.registry import resolve

    check_model_dir(model_path)
    factory = resolve(ENGINES, engine_backend(backend), "serve.backend")
    t0 = time.perf_counter()
    try:
        engine = factory(model_path, max_workers=max_workers, max_context=max_context, batching=batching)
    except ConfigError:
        raise
    except Exception as e:  # a damaged config/tokenizer/weights file: one line, not the loader's traceback
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise ConfigError(f"serve.model={model_path!r} does not load: {type(e).__name__}: {first}") from None
    engine.load_seconds = time.perf_counter() - t0
    return engine
