"""The OpenAI-compatible backend against ``meditron serve`` on the same tiny model: same greedy answers as local HF."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from meditron.eval.config import EvalConfig
from meditron.eval.run import run_eval
from tests.testing import requires_module


@pytest.fixture
def served(tiny_model):
    import uvicorn

    from meditron.serve.config import ServeConfig
    from meditron.serve.server import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(ServeConfig(model=str(tiny_model), port=port, model_name="tiny"))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/v1"
    server.should_exit = True
    thread.join(timeout=10)


@requires_module("tenacity", "(lm-eval's API models need it)")
def test_chat_mode_over_http_matches_local(served, tiny_model, small_benchmarks, tmp_path):
    common = dict(data_dir=str(small_benchmarks), benchmarks=["medqa4"], modes=["chat"], limit=3, max_new_tokens=8)
    remote = run_eval(EvalConfig(model="tiny", backend="openai", base_url=served, out=tmp_path / "http", **common))
    local = run_eval(EvalConfig(model=str(tiny_model), backend="meditron", out=tmp_path / "local", **common))
    assert remote["results"]["medqa4"]["chat"]["n"] == 3
    rows = [
        [json.loads(x) for x in (tmp_path / d / "items/medqa4/chat.jsonl").read_text().splitlines()]
        for d in ("http", "local")
    ]
    # The server renders the same messages with the same chat template and decodes greedily.
    assert [json.loads(r["prompt"]) for r in rows[0]][0][0]["role"] == "system"
    assert [r["output"].strip() for r in rows[0]] == [r["output"].strip() for r in rows[1]]
    assert remote["results"]["medqa4"]["chat"]["accuracy"] == local["results"]["medqa4"]["chat"]["accuracy"]


@requires_module("tenacity", "(lm-eval's API models need it)")
def test_top_token_over_http_scores_like_local(served, tiny_model, small_benchmarks, tmp_path):
    """lm-eval's local-completions against `meditron serve` (echo + logprobs): the local backend's choices."""
    from meditron.errors import ConfigError

    common = dict(data_dir=str(small_benchmarks), benchmarks=["medqa4"], modes=["top_token"], limit=3, num_fewshot=0)
    with pytest.raises(ConfigError, match="eval.tokenizer"):
        run_eval(EvalConfig(model="tiny", backend="openai", base_url=served, out=tmp_path / "a", **common))
    remote = run_eval(
        EvalConfig(model="tiny", tokenizer=str(tiny_model), backend="openai", base_url=served, out=tmp_path / "http",
                   **common)
    )  # fmt: skip
    local = run_eval(EvalConfig(model=str(tiny_model), backend="meditron", out=tmp_path / "local", **common))
    rows = [
        [json.loads(x) for x in (tmp_path / d / "items/medqa4/top_token_zero_shot.jsonl").read_text().splitlines()]
        for d in ("http", "local")
    ]
    assert len(rows[0]) == 3
    assert [r["parsed"] for r in rows[0]] == [r["parsed"] for r in rows[1]]
    for http, here in zip(*rows, strict=True):  # the same log-likelihood of every option, scored by the server
        for option, value in here["loglikelihoods"].items():
            assert http["loglikelihoods"][option] == pytest.approx(value, rel=1e-4, abs=1e-4)
    assert remote["results"]["medqa4"]["top_token"]["accuracy"] == local["results"]["medqa4"]["top_token"]["accuracy"]
