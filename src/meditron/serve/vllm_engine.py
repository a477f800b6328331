"""vLLM behind ``meditron serve`` on GPU servers: ``serve.backend=vllm``, or ``auto`` with CUDA and vllm installed.

Its own module so that the engines registry (:data:`meditron.serve.engine.ENGINES`) names it as a lazy target: vLLM is
CUDA-only, and nothing here is imported on the CPU machines where the transformers engine runs.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from meditron.errors import ConfigError
from meditron.serve.engine import (
    Delta,
    GenParams,
    TransformersEngine,
    load_model_tokenizer,
    max_token_chars,
)


class VllmEngine:  # pragma: no cover - vLLM is CUDA-only and cannot be installed on the CPU test machines
    """vLLM's AsyncLLMEngine, for GPU servers. Chosen by ``serve.backend=vllm`` or ``auto`` with CUDA and vllm present."""

    name = "vllm"

    def __init__(self, model_path: str, *, max_workers: int, max_context: int | None = None, batching: bool = False):
        # ``batching`` is the transformers engine's switch: vLLM always batches the running requests (continuously)
        try:
            from vllm import AsyncEngineArgs, AsyncLLMEngine
        except ImportError as e:
            raise ConfigError("serve.backend=vllm needs vLLM: pip install 'meditron[vllm]' (GPU only)") from e
        from meditron.model_info import model_max_context

        self.tokenizer = load_model_tokenizer(model_path)
        args = AsyncEngineArgs(model=model_path, max_model_len=max_context, max_num_seqs=max_workers)
        self.engine = AsyncLLMEngine.from_engine_args(args)
        native = model_max_context(model_path, self.tokenizer) if (Path(model_path) / "config.json").is_file() else None
        self.context_length = int(max_context or native or self.tokenizer.model_max_length)
        self.vocab_size = len(self.tokenizer)
        self.max_token_chars = max_token_chars(self.tokenizer)
        self.has_chat_template = bool(getattr(self.tokenizer, "chat_template", None))

    encode_chat = TransformersEngine.encode_chat
    encode_prompt = TransformersEngine.encode_prompt
    _one_bos = TransformersEngine._one_bos

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
