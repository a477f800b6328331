"""Loopback load test of ``meditron serve`` against ``transformers serve`` on the same model, in the same run.

32 concurrent clients each send ``--requests`` streamed chat completions (greedy, the same system + user messages to
both servers, ``--max-tokens`` new tokens). Per request we record the status (200 or 429 — anything else, or a request
without an answer, counts as lost), the time to the first content token and the total latency; per run requests/s
(answered requests over wall time), generated tokens/s, TTFT and latency percentiles, and whether ``/health`` answers
afterwards. Each server runs in its own process, started and stopped here.

    .venv/bin/python benchmarks/serve_load.py                 # builds a small random Llama (same as the tests' tiny one)
    .venv/bin/python benchmarks/serve_load.py --model runs/quickstart/hf --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
SYSTEM = "You are a medical AI assistant for healthcare professionals. Answer accurately and concisely."
QUESTIONS = [
    "What is the first-line treatment for anaphylaxis?",
    "Which organism most often causes community-acquired pneumonia in adults?",
    "How is acute kidney injury defined?",
    "What are the early steps of sepsis management?",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: list[str], port: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd[0]} exited with {proc.returncode}; see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    stop(proc)
    raise RuntimeError(f"{cmd} did not become healthy; see {log}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


async def one_request(c: httpx.AsyncClient, model: str, i: int, max_tokens: int) -> dict:
    body = {"model": model, "stream": True, "max_tokens": max_tokens, "temperature": 0,
            "messages": [{"role": "system", "content": SYSTEM},
                         {"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}]}
    t0 = time.perf_counter()
    ttft, pieces, status = None, 0, None
    try:
        async with c.stream("POST", "/v1/chat/completions", json=body) as r:
            status = r.status_code
            if status != 200:
                await r.aread()
                return {"status": status, "latency": time.perf_counter() - t0}
            buf = ""
            done = False
            async for text in r.aiter_text():
                buf += text
                while "\n\n" in buf:
                    event, buf = buf.split("\n\n", 1)
                    data = event.removeprefix("data: ").strip()
                    if data == "[DONE]":
                        done = True
                        continue
                    chunk = json.loads(data)
                    choices = chunk.get("choices") or []
                    if choices and choices[0].get("finish_reason"):
                        done = True  # transformers serve ends with a finish_reason chunk but sends no [DONE]
                    if choices and (choices[0].get("delta") or {}).get("content"):
                        pieces += 1
                        if ttft is None:
                            ttft = time.perf_counter() - t0
            if not done:
                return {"status": "lost (no finish_reason / [DONE])", "latency": time.perf_counter() - t0}
    except httpx.HTTPError as e:
        return {"status": f"lost ({type(e).__name__})", "latency": time.perf_counter() - t0}
    return {"status": status, "ttft": ttft, "latency": time.perf_counter() - t0, "pieces": pieces}


async def load(base: str, model: str, clients: int, per_client: int, max_tokens: int, timeout: float) -> dict:
    results: list[dict] = []

    async def client_loop(c: httpx.AsyncClient, k: int) -> None:
        for j in range(per_client):
            results.append(await one_request(c, model, k * per_client + j, max_tokens))

    limits = httpx.Limits(max_connections=clients * 2, max_keepalive_connections=clients * 2)
    async with httpx.AsyncClient(base_url=base, timeout=timeout, limits=limits) as c:
        t0 = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(client_loop(c, k) for k in range(clients))), timeout=timeout)
        wall = time.perf_counter() - t0
    ok = [r for r in results if r["status"] == 200]
    refused = [r for r in results if r["status"] == 429]
    lost = [r for r in results if r["status"] not in (200, 429)]
    ttfts = sorted(r["ttft"] for r in ok if r.get("ttft") is not None)
    lats = sorted(r["latency"] for r in ok)

    def pctl(xs: list[float], q: float) -> float | None:
        return round(xs[min(len(xs) - 1, int(q * len(xs)))], 3) if xs else None

    return {
        "requests": len(results), "answered": len(ok), "refused_429": len(refused), "lost": len(lost),
        "lost_detail": sorted({str(r["status"]) for r in lost}), "wall_s": round(wall, 2),
        "requests_per_s": round(len(ok) / wall, 2), "stream_pieces_per_s": round(sum(r["pieces"] for r in ok) / wall, 1),
        "ttft_p50_s": pctl(ttfts, 0.5), "ttft_p95_s": pctl(ttfts, 0.95),
        "latency_p50_s": pctl(lats, 0.5), "latency_p95_s": pctl(lats, 0.95),
        "latency_mean_s": round(statistics.mean(lats), 3) if lats else None,
    }


def bench_server(name: str, cmd: list[str], port: int, model_id: str, args, env: dict[str, str], logdir: Path) -> dict:
    proc = start(cmd, port, env, logdir / f"{name.replace(' ', '_')}.log")
    base = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(load(base, model_id, 1, 2, args.max_tokens, 300))  # warm-up, not measured
        res = asyncio.run(load(base, model_id, args.clients, args.requests, args.max_tokens, args.timeout))
        res["healthy_after"] = httpx.get(base + "/health", timeout=10).status_code == 200
    finally:
        stop(proc)
    res["server"] = name
    res["command"] = " ".join(cmd)
    return res


def build_model(size: str, out: Path) -> Path:
    sys.path.insert(0, str(REPO))
    from tests.serve.tiny_model import build_tiny_model

    if size == "tiny":
        return build_tiny_model(out)
    # 3.1M parameters: enough compute per token that the engine, not HTTP, dominates on 2 cores
    return build_tiny_model(out, hidden_size=256, num_layers=4, num_heads=8, num_kv_heads=4, intermediate_size=688,
                            max_positions=1024)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, help="HF model directory (default: build a random Llama)")
    ap.add_argument("--size", choices=["tiny", "small"], default="small")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--requests", type=int, default=2, help="Sequential requests per client")
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--max-concurrency", type=int, default=4)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--skip-peer", action="store_true")
    ap.add_argument("--threads", type=int, default=None,
                    help="OMP_NUM_THREADS for every server (same for all; default: inherit)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="serve-load-") as tmp_s:
        tmp = Path(tmp_s)
        model = args.model or build_model(args.size, tmp / "model")
        model_id = model.resolve().name
        runs = []
        queue = args.clients * args.requests
        for label, mq, batching in (
            (f"meditron serve --set serve.batching=true (batches of {args.max_concurrency}, queue {queue})", queue, True),
            (f"meditron serve (default: {args.max_concurrency} generate threads, queue {queue})", queue, False),
            (f"meditron serve --set serve.batching=true (batches of {args.max_concurrency}, queue 8: overload → 429)",
             8, True),
        ):
            port = free_port()
            cmd = [py, "-m", "meditron", "serve", "--model", str(model), "--port", str(port),
                   "--set", f"serve.max_concurrency={args.max_concurrency}", "--set", f"serve.max_queue={mq}",
                   "--set", f"serve.max_new_tokens={args.max_tokens}", "--set", f"serve.batching={str(batching).lower()}"]
            runs.append(bench_server(label, cmd, port, model_id, args, env, tmp))
        if not args.skip_peer:
            for label, extra in (("transformers serve", []),
                                 ("transformers serve --continuous-batching", ["--continuous-batching"])):
                port = free_port()
                cmd = [str(Path(py).parent / "transformers"), "serve", str(model), "--port", str(port), "--host",
                       "127.0.0.1", "--device", "cpu", "--dtype", "float32", *extra]
                runs.append(bench_server(label, cmd, port, str(model), args, env, tmp))
    report = {"machine": f"{platform.machine()} {os.cpu_count()} CPU", "omp_threads": env.get("OMP_NUM_THREADS"), "model": str(args.model or f"random {args.size} Llama"),
              "clients": args.clients, "requests_per_client": args.requests, "max_tokens": args.max_tokens, "runs": runs}
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print("\n| server | answered | 429 | lost | req/s | TTFT p50 / p95 (s) | latency p50 / p95 (s) | healthy after |")
    print("|---|---|---|---|---|---|---|---|")
    for r in runs:
        print(f"| {r['server']} | {r['answered']} | {r['refused_429']} | {r['lost']} | {r['requests_per_s']} | "
              f"{r['ttft_p50_s']} / {r['ttft_p95_s']} | {r['latency_p50_s']} / {r['latency_p95_s']} | "
              f"{r['healthy_after']} |")


if __name__ == "__main__":
    main()
