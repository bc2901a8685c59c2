"""The openai backend against a real vLLM OpenAI-compatible server serving the tiny model."""

from __future__ import annotations

import asyncio
import http.server
import math
import threading
import time
import urllib.request

import pytest

from accord.backends import BackendError, GenerationRequest, make_backend
from tests.fixtures.ports import free_port

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

QUESTION = [{"role": "user", "content": "Which response is better? Answer with A or B."}]


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@pytest.fixture(scope="module")
def backend(vllm_openai_server, vllm_openai_model):
    return make_backend(
        "openai", vllm_openai_model, base_url=vllm_openai_server, max_concurrency=4, timeout=60
    )


@pytest.fixture(scope="module")
def local(tiny_model_dir):
    return make_backend("transformers", str(tiny_model_dir))


def test_chat_completion_with_usage_and_logprobs(backend):
    [result] = backend.generate(
        [GenerationRequest(messages=QUESTION, max_tokens=6, logprobs=True, top_logprobs=3)]
    )
    assert result.error is None
    assert result.finish_reason == "length"
    assert result.usage["completion_tokens"] == 6
    assert result.usage["total_tokens"] == result.usage["prompt_tokens"] + 6
    assert len(result.token_logprobs) == 6
    for record in result.token_logprobs:
        assert record.logprob <= 0 and 1 <= len(record.top) <= 3
    assert result.raw["model"] == backend.model_id


def test_constrained_choices_match_the_local_model(backend, local):
    requests = [
        GenerationRequest(messages=QUESTION, choices=["A", "B"]),
        GenerationRequest(messages=ask("Pick one: A or B?"), choices=["A", "B"]),
    ]
    remote = backend.generate(requests)
    exact = local.generate(requests)
    for got, want in zip(remote, exact):
        assert got.error is None and got.raw["constraint"] == "structured_outputs"
        assert got.text in {"A", "B"}
        # The constrained answer's log-probs are renormalised over the two choices.
        assert sum(math.exp(v) for v in got.choice_logprobs.values()) == pytest.approx(1, abs=1e-3)
        a, b = want.choice_logprobs["A"], want.choice_logprobs["B"]
        p_a = 1 / (1 + math.exp(b - a))
        assert math.exp(got.choice_logprobs["A"]) == pytest.approx(p_a, abs=1e-3)


def test_assistant_prefix_continues_the_answer(backend):
    [result] = backend.generate(
        [GenerationRequest(messages=QUESTION, max_tokens=4, assistant_prefix="The answer is")]
    )
    [fresh] = backend.generate([GenerationRequest(messages=QUESTION, max_tokens=4)])
    assert result.error is None
    assert result.usage["prompt_tokens"] > fresh.usage["prompt_tokens"]


def test_many_requests_run_concurrently_and_keep_their_order(backend):
    requests = [
        GenerationRequest(messages=ask("word " * (i + 1)), max_tokens=3, temperature=1.0, seed=i)
        for i in range(24)
    ]
    results = backend.generate(requests)
    prompt_sizes = [r.usage["prompt_tokens"] for r in results]
    assert all(r.error is None for r in results)
    assert prompt_sizes == sorted(prompt_sizes) and len(set(prompt_sizes)) == 24


def test_sync_generate_works_inside_a_running_loop(backend):
    async def caller():
        inside = backend.generate([GenerationRequest(messages=QUESTION, max_tokens=2)])
        awaited = await backend.agenerate([GenerationRequest(messages=QUESTION, max_tokens=2)])
        await backend.aclose()
        return inside, awaited

    inside, awaited = asyncio.run(caller())
    assert inside[0].error is None and awaited[0].error is None
    assert inside[0].text == awaited[0].text


def test_unknown_model_is_a_clear_client_error_without_retries(vllm_openai_server):
    wrong = make_backend("openai", "no-such-model", base_url=vllm_openai_server, max_retries=4)
    started = time.monotonic()
    [result] = wrong.generate([GenerationRequest(messages=QUESTION, max_tokens=2)])
    assert result.error.startswith("client: HTTP 404")
    assert "no-such-model" in result.error
    assert time.monotonic() - started < 5
    with pytest.raises(BackendError) as raised:
        asyncio.run(wrong.complete(GenerationRequest(messages=QUESTION)))
    assert raised.value.cause == "client" and not raised.value.retryable


def test_closed_port_is_retried_then_reported():
    dead = make_backend(
        "openai", "m", base_url=f"http://127.0.0.1:{free_port()}/v1", max_retries=2,
        backoff_base=0.05, timeout=2,
    )  # fmt: skip
    [result] = dead.generate([GenerationRequest(messages=QUESTION)])
    assert result.error.startswith("connection: cannot connect")
    assert "gave up after 3 attempts" in result.error


def test_timeouts_are_retried_then_reported(backend, vllm_openai_server):
    # A real server that answers slower than the client waits: the vLLM server behind a proxy
    # that holds each request for a second (a 1 ms timeout on the bare server is a race).
    proxy = _FlakyProxy(vllm_openai_server, failures=[], delay=1.0)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        hasty = make_backend(
            "openai", backend.model_id, base_url=f"http://127.0.0.1:{proxy.server_port}/v1",
            timeout=0.2, max_retries=1, backoff_base=0.01,
        )  # fmt: skip
        [result] = hasty.generate([GenerationRequest(messages=QUESTION, max_tokens=2)])
        assert result.error is not None
        assert result.error.startswith("timeout: timed out after 0.2s")
        assert "gave up after 2 attempts" in result.error
        assert len(proxy.seen) == 2
    finally:
        proxy.shutdown()
        proxy.server_close()


class _FlakyProxy(http.server.ThreadingHTTPServer):
    """Forwards to the real server, after answering the first requests with 503 and 429.

    ``delay`` holds every request that many seconds first: a server slower than a client's
    timeout.
    """

    def __init__(self, upstream: str, failures: list[int], delay: float = 0.0):
        self.upstream, self.failures, self.seen = upstream, list(failures), []
        self.delay = delay
        super().__init__(("127.0.0.1", 0), _ProxyHandler)


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output quiet
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.seen.append(self.path)
        if self.server.delay:
            time.sleep(self.server.delay)
        if self.server.failures:
            status = self.server.failures.pop(0)
            self.send_response(status)
            if status == 429:
                self.send_header("Retry-After", "0")
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error": {"message": "try again"}}')
            return
        forward = urllib.request.Request(
            self.server.upstream + self.path.removeprefix("/v1"),
            data=body,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(forward, timeout=60) as reply:
            payload = reply.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def test_server_errors_and_rate_limits_are_retried(backend, vllm_openai_server):
    proxy = _FlakyProxy(vllm_openai_server, failures=[503, 429, 500])
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        patient = make_backend(
            "openai", backend.model_id, base_url=f"http://127.0.0.1:{proxy.server_port}/v1",
            max_retries=3, backoff_base=0.01,
        )  # fmt: skip
        [result] = patient.generate([GenerationRequest(messages=QUESTION, max_tokens=2)])
        assert result.error is None and result.usage["completion_tokens"] == 2
        assert len(proxy.seen) == 4
        proxy.failures = [503, 503]
        impatient = make_backend(
            "openai", backend.model_id, base_url=f"http://127.0.0.1:{proxy.server_port}/v1",
            max_retries=1, backoff_base=0.01,
        )  # fmt: skip
        [failed] = impatient.generate([GenerationRequest(messages=QUESTION, max_tokens=2)])
        assert failed.error == (
            f"server: HTTP 503 from http://127.0.0.1:{proxy.server_port}/v1/ "
            f"(model {backend.model_id}): try again (gave up after 2 attempts)"
        )
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_a_missing_api_key_is_a_config_error(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(BackendError, match="set OPENAI_API_KEY") as raised:
        make_backend("openai", "gpt-4o-mini")
    assert raised.value.cause == "config"
