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
        decoder = _IncrementalDecoder(self.tokenizer, params.stop)
        n, finish, hit = 0, "length", False
        try:
            while True:
                item = await queue.get()
                if item is None:
                    break
                if isinstance(item, Exception):
                    raise item
                n += len(item)
                if any(t in self.eos_ids for t in item):
                    finish = "stop"
                    item = [t for t in item if t not in self.eos_ids]
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
            cancel.set()  # client gone or stop string: free the worker at the next token
            await asyncio.shield(future)


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


def load_engine(model_path: str, backend: str, *, max_workers: int, max_context: int | None):
    """Pick the engine: vLLM when asked, or with ``auto`` when vllm is importable and CUDA is present."""
    import importlib.util

    if backend == "auto":
        import torch

        backend = "vllm" if importlib.util.find_spec("vllm") and torch.cuda.is_available() else "transformers"
    t0 = time.perf_counter()
    cls = VllmEngine if backend == "vllm" else TransformersEngine
    engine = cls(model_path, max_workers=max_workers, max_context=max_context)
    engine.load_seconds = time.perf_counter() - t0
    return engine
