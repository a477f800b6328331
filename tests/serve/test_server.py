"""meditron serve through the official openai client and raw HTTP: answers, streams, errors, limits, privacy."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from meditron.errors import ConfigError
from meditron.serve.config import DEFAULT_SYSTEM_PROMPT, ServeConfig
from meditron.serve.server import serve_in_thread

KEY = "test-key-123"
Q = "What is the first-line treatment for anaphylaxis?"


@pytest.fixture(scope="module")
def server(tiny_model: Path):
    cfg = ServeConfig(model=str(tiny_model), port=0, api_key=KEY, max_new_tokens=48, max_concurrency=2, max_queue=3,
                      batching=True, num_threads=1)
    with serve_in_thread(cfg) as url:
        yield url


@pytest.fixture(scope="module")
def client(server):
    import openai

    return openai.OpenAI(base_url=server + "/v1", api_key=KEY, max_retries=0, timeout=60)


@pytest.fixture(scope="module")
def hf(tiny_model: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return (AutoTokenizer.from_pretrained(tiny_model, local_files_only=True),
            AutoModelForCausalLM.from_pretrained(tiny_model, local_files_only=True).eval())


def _greedy(hf, text: str, n: int, chat: bool = False) -> tuple[str, int]:
    import torch

    tok, model = hf
    if chat:
        messages = [{"role": "system", "content": DEFAULT_SYSTEM_PROMPT}, {"role": "user", "content": text}]
        text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        ids = tok(text, add_special_tokens=False, return_tensors="pt").input_ids
    else:
        ids = tok(text, return_tensors="pt").input_ids
    eos = [tok.eos_token_id, tok.convert_tokens_to_ids("<|im_end|>")]
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, do_sample=False,
                             eos_token_id=eos, pad_token_id=tok.eos_token_id)
    return tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True), ids.shape[1]


def test_models_and_chat_equal_transformers_greedy(client, hf):
    assert [m.id for m in client.models.list().data] == ["tiny-meditron"]
    r = client.chat.completions.create(model="tiny-meditron", messages=[{"role": "user", "content": Q}], max_tokens=20)
    want, n_prompt = _greedy(hf, Q, 20, chat=True)
    assert r.choices[0].message.content == want and r.choices[0].message.role == "assistant"
    assert r.usage.prompt_tokens == n_prompt  # the default safety system prompt was added
    assert r.usage.completion_tokens <= 20 and r.choices[0].finish_reason in ("stop", "length")


def test_streamed_chat_equals_non_streamed(client):
    kw = dict(model="tiny-meditron", messages=[{"role": "user", "content": Q}], max_tokens=24)
    full = client.chat.completions.create(**kw)
    chunks = list(client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **kw))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == full.choices[0].message.content
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) >= 2  # really streamed in pieces
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == full.choices[0].finish_reason
    assert chunks[-1].usage.completion_tokens == full.usage.completion_tokens


def test_completions_equal_transformers_greedy(client, hf):
    prompt = "The patient presented with chest pain"
    r = client.completions.create(model="tiny-meditron", prompt=prompt, max_tokens=12)
    want, n_prompt = _greedy(hf, prompt, 12)
    assert r.choices[0].text == want and r.usage.prompt_tokens == n_prompt
    streamed = "".join(c.choices[0].text for c in
                       client.completions.create(model="tiny-meditron", prompt=prompt, max_tokens=12, stream=True))
    assert streamed == want


def test_raw_sse_format(server):
    body = {"model": "tiny-meditron", "messages": [{"role": "user", "content": Q}], "max_tokens": 8, "stream": True}
    with httpx.stream("POST", server + "/v1/chat/completions", json=body, timeout=60,
                      headers={"Authorization": f"Bearer {KEY}"}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        raw = "".join(r.iter_text())
    events = raw.split("\n\n")
    assert events[-1] == "" and events[-2] == "data: [DONE]"
    assert all(e.startswith("data: ") for e in events[:-1])
    first = json.loads(events[0][6:])
    assert first["object"] == "chat.completion.chunk" and first["choices"][0]["delta"]["role"] == "assistant"


def test_clear_errors_through_openai_client(server, client):
    import openai

    bad = openai.OpenAI(base_url=server + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as e:
        bad.chat.completions.create(model="tiny-meditron", messages=[{"role": "user", "content": Q}])
    assert e.value.status_code == 401 and "Incorrect API key" in e.value.message
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": Q}])
    assert "The model 'gpt-4o' does not exist; this server serves 'tiny-meditron'" in e.value.message
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="tiny-meditron", messages=[{"role": "user", "content": "fever " * 300}],
                                       max_tokens=10)
    assert e.value.code == "context_length_exceeded" and "maximum context length is 256 tokens" in e.value.message
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="tiny-meditron", messages=[{"role": "user", "content": Q}],
                                       max_tokens=100)
    assert "above this server's limit of 48" in e.value.message
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="tiny-meditron", messages=[{"role": "doctor", "content": Q}])
    assert "messages.0.role" in e.value.message
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="tiny-meditron", messages=[{"role": "user", "content": Q}], n=2)
    assert e.value.param == "n"
    r = httpx.post(server + "/v1/chat/completions", content=b"{not json", timeout=30,
                   headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"


def test_page_and_health_need_no_key(server):
    page = httpx.get(server + "/", timeout=30)
    assert page.status_code == 200 and "Not for clinical use" in page.text
    assert httpx.get(server + "/config", timeout=30).json()["requires_key"] is True
    assert httpx.get(server + "/v1/models", timeout=30).status_code == 401


def test_non_loopback_needs_a_key(tiny_model):
    with pytest.raises(ConfigError, match="not a loopback address"):
        with serve_in_thread(ServeConfig(model=str(tiny_model), host="0.0.0.0", port=0)):
            pass


def test_prompts_not_logged_unless_asked(tiny_model, caplog):
    import openai

    secret = "Patient John Q. Example, MRN 0048213, has chest pain"
    for log_prompts in (False, True):
        caplog.clear()
        cfg = ServeConfig(model=str(tiny_model), port=0, max_new_tokens=4, log_prompts=log_prompts)
        with caplog.at_level(logging.INFO, logger="meditron.serve"), serve_in_thread(cfg) as url:
            c = openai.OpenAI(base_url=url + "/v1", api_key="none", max_retries=0)
            c.chat.completions.create(model="tiny-meditron", messages=[{"role": "user", "content": secret}])
        assert any("completion_tokens=" in r.getMessage() for r in caplog.records)
        assert any(secret in r.getMessage() for r in caplog.records) is log_prompts


def test_load_32_clients_all_answered_or_429(server):
    """32 concurrent clients on 2 running + 3 queued slots: each gets 200 or 429, none lost; healthy after."""

    async def one(c: httpx.AsyncClient, i: int):
        body = {"model": "tiny-meditron", "messages": [{"role": "user", "content": f"{Q} ({i})"}], "max_tokens": 16}
        t0 = time.perf_counter()
        r = await c.post("/v1/chat/completions", json=body)
        return r.status_code, r.json(), time.perf_counter() - t0

    async def main():
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(base_url=server, timeout=120, limits=limits,
                                     headers={"Authorization": f"Bearer {KEY}"}) as c:
            return await asyncio.wait_for(asyncio.gather(*(one(c, i) for i in range(32))), timeout=180)

    results = asyncio.run(main())
    codes = [s for s, _, _ in results]
    assert len(results) == 32 and set(codes) <= {200, 429}, codes
    assert codes.count(200) >= 5 and codes.count(429) >= 1
    for status, body, _ in results:
        if status == 200:
            assert body["choices"][0]["message"]["content"] is not None and body["usage"]["completion_tokens"] > 0
        else:
            assert body["error"]["code"] == "rate_limit_exceeded"
    health = httpx.get(server + "/health", timeout=30).json()
    assert health["status"] == "ok" and health["running"] == 0 and health["queued"] == 0
    assert httpx.post(server + "/v1/completions", json={"model": "tiny-meditron", "prompt": "Aspirin", "max_tokens": 2},
                      headers={"Authorization": f"Bearer {KEY}"}, timeout=60).status_code == 200


def test_stop_strings_cut_and_never_leak(client):
    prompt = "Community-acquired pneumonia in adults"
    full = client.completions.create(model="tiny-meditron", prompt=prompt, max_tokens=24).choices[0].text
    stop = full[len(full) // 2: len(full) // 2 + 2]
    want = full[: full.index(stop)]
    r = client.completions.create(model="tiny-meditron", prompt=prompt, max_tokens=24, stop=[stop])
    assert r.choices[0].text == want and r.choices[0].finish_reason == "stop"
    streamed = "".join(c.choices[0].text for c in client.completions.create(
        model="tiny-meditron", prompt=prompt, max_tokens=24, stop=stop, stream=True))
    assert streamed == want


def test_fallback_transcript_for_models_without_chat_template():
    from meditron.serve.engine import fallback_chat_prompt

    text = fallback_chat_prompt([{"role": "system", "content": "Be careful."}, {"role": "user", "content": "Dose?"}])
    assert text == "System: Be careful.\n\nUser: Dose?\n\nAssistant:"


def test_cli_refuses_public_bind_without_key(tiny_model):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "MEDITRON_API_KEY"}
    r = subprocess.run([sys.executable, "-m", "meditron", "serve", "--model", str(tiny_model), "--host", "0.0.0.0"],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 2 and "not a loopback address" in r.stderr


def test_concurrent_requests_are_batched_and_answer_as_alone(server):
    """Requests running together share one batched generate (left-padded rows) and get the same greedy answers as
    when sent alone, whatever their prompt lengths and max_tokens."""
    questions = ["Define sepsis.", "Aspirin mechanism?", "First-line therapy for type 2 diabetes mellitus in adults?",
                 "Iron deficiency signs", "x", "Warfarin monitoring and dose changes"]

    async def ask(c: httpx.AsyncClient, q: str) -> str:
        body = {"model": "tiny-meditron", "messages": [{"role": "user", "content": q}], "max_tokens": 12 + len(q) % 9}
        r = await c.post("/v1/chat/completions", json=body)
        assert r.status_code == 200, r.text
        return r.json()["choices"][0]["message"]["content"]

    async def main():
        async with httpx.AsyncClient(base_url=server, timeout=120, headers={"Authorization": f"Bearer {KEY}"}) as c:
            alone = [await ask(c, q) for q in questions]
            before = (await c.get("/health")).json()
            together = await asyncio.gather(*(ask(c, q) for q in questions[:5]))  # 2 running + 3 queued
            return alone, before, together, (await c.get("/health")).json()

    alone, before, together, after = asyncio.run(main())
    assert together == alone[:5]
    assert after["engine"] == "transformers-batched" and after["largest_batch"] == 2
    assert after["num_batches"] - before["num_batches"] < 5  # fewer generate calls than requests


def test_unbatched_engine_gives_the_same_answers(tiny_model, client):
    """serve.batching=false (the default): one generate thread per running request; same answers as batched."""
    import openai

    msgs = [[{"role": "user", "content": q}] for q in ("Define sepsis.", "Aspirin mechanism?", "x")]
    want = [client.chat.completions.create(model="tiny-meditron", messages=m, max_tokens=10).choices[0].message.content
            for m in msgs]
    cfg = ServeConfig(model=str(tiny_model), port=0, max_new_tokens=16, max_concurrency=2)
    with serve_in_thread(cfg) as url:
        c = openai.AsyncOpenAI(base_url=url + "/v1", api_key="none", max_retries=0)

        async def main():
            rs = await asyncio.gather(*(c.chat.completions.create(model="tiny-meditron", messages=m, max_tokens=10)
                                        for m in msgs))
            return [r.choices[0].message.content for r in rs]

        assert asyncio.run(main()) == want
        assert httpx.get(url + "/health", timeout=30).json()["engine"] == "transformers"


def test_client_disconnect_frees_its_slot(server):
    body = {"model": "tiny-meditron", "messages": [{"role": "user", "content": Q}], "max_tokens": 48, "stream": True}
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.stream("POST", server + "/v1/chat/completions", json=body, headers=headers, timeout=60) as r:
        assert next(r.iter_lines()).startswith("data: ")  # streaming started, then the client goes away
    deadline = time.time() + 20
    while True:
        h = httpx.get(server + "/health", timeout=30).json()
        if h["running"] == 0 and h["queued"] == 0:
            break
        assert time.time() < deadline, h
        time.sleep(0.05)
    r = httpx.post(server + "/v1/chat/completions", json={**body, "stream": False, "max_tokens": 4}, headers=headers,
                   timeout=60)
    assert r.status_code == 200


def test_prompt_logprobs_equal_transformers(client, hf):
    """echo + logprobs: every prompt token's log-probability and top alternatives, as lm-eval's loglikelihood asks."""
    import openai
    import torch

    tok, model = hf
    ids = tok("Aspirin irreversibly inhibits cyclooxygenase").input_ids
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([ids])).logits[0], dim=-1)
    want = [logp[t - 1, ids[t]].item() for t in range(1, len(ids))]
    greedy = int(logp[-1].argmax())

    # lm-eval's local-completions payload: token ids, echo, logprobs 1, max_tokens 1, temperature 0
    r = client.completions.create(
        model="tiny-meditron", prompt=[ids], echo=True, logprobs=1, max_tokens=1, temperature=0
    )
    lp = r.choices[0].logprobs
    assert len(lp.token_logprobs) == len(ids) + 1 and lp.token_logprobs[0] is None
    np.testing.assert_allclose(lp.token_logprobs[1:-1], want, rtol=1e-5, atol=1e-6)
    assert lp.token_logprobs[-1] == pytest.approx(logp[-1, greedy].item(), rel=1e-5)
    assert lp.tokens[-1] == tok.decode([greedy]) and r.choices[0].text == tok.decode(ids) + tok.decode([greedy])
    for t in range(1, len(ids)):  # the top-1 alternative is the argmax, with its log-probability
        ((token, value),) = lp.top_logprobs[t].items()
        assert token == tok.decode([int(logp[t - 1].argmax())])
        assert value == pytest.approx(logp[t - 1].max().item(), rel=1e-5)

    # text prompt, max_tokens 0, 3 alternatives: the prompt only
    text = "Aspirin irreversibly inhibits cyclooxygenase"
    r = client.completions.create(model="tiny-meditron", prompt=text, echo=True, logprobs=3, max_tokens=0)
    lp = r.choices[0].logprobs
    assert r.choices[0].text == text and len(lp.token_logprobs) == len(ids)
    np.testing.assert_allclose(lp.token_logprobs[1:], want, rtol=1e-5, atol=1e-6)
    assert r.usage.completion_tokens == 0
    for t, alternatives in enumerate(lp.top_logprobs[1:], start=1):  # up to 3 (pieces decoding alike share a key)
        assert 1 <= len(alternatives) <= 3
        assert max(alternatives.values()) == pytest.approx(logp[t - 1].max().item(), rel=1e-5)

    for bad in ({"max_tokens": 5}, {"stream": True, "max_tokens": 1}, {"max_tokens": 1, "temperature": 0.7}):
        with pytest.raises(openai.BadRequestError, match="at most one greedy token"):
            client.completions.create(model="tiny-meditron", prompt=text, echo=True, logprobs=1, **bad)
