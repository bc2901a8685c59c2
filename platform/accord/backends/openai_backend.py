"""Generation through any OpenAI-compatible HTTP server (OpenAI, ``vllm serve``, others).

Requests run concurrently on ``AsyncOpenAI`` under a semaphore (``max_concurrency``).
Rate limits (429), server errors (5xx, 408, 409), timeouts and refused connections are
retried with exponential backoff and jitter (``Retry-After`` honoured); any other HTTP error
is a client error and fails its request at once with the server's message. A failed request
yields a result whose ``error`` reads ``"<cause>: <message>"`` (cause: client, rate_limit,
server, timeout, connection, config); the rest of the batch is unaffected.

``choices`` requests are scored in one of two ways:

- With ``tokenizer=`` (a local folder, hub id or ``accord/NAME`` of the served model's
  tokenizer), accord renders the chat template with the assistant prefix itself, tokenizes
  each choice in context (``accord.backends.scoring``) and sends prompt + choice as token ids
  to the completions endpoint with ``echo`` and ``logprobs``: the server returns the log-prob
  of every prompt token, so each choice's log-prob is exact, multi-token choices included
  (vLLM's server does this). ``scored_text`` on the result is the rendered text. Requests
  with an ``assistant_prefix`` and no choices also go to the completions endpoint, so the
  answer really continues the prefix on any server.
- Without it, one answer token is asked for on the chat endpoint with ``top_logprobs`` and
  each choice's log-prob is read from it (``accord.backends.choices``). On vLLM's server the
  assistant prefix is continued (``continue_final_message``, ``add_generation_prompt:
  false``) and the answer is constrained to the choices with structured outputs, which makes
  the reading exact for choices that differ in their first token. Other servers may treat
  the prefix as a new turn. A choice missing from the top-k gets the least likely listed
  log-prob as its bound and the result is flagged ``truncated_choice``; when no listed
  token starts any choice the request fails with cause ``unparsable`` (never P = 0.5).

The API key comes from ``api_key=`` or ``OPENAI_API_KEY``; a local server without auth
needs neither (a placeholder key is sent when ``base_url`` is given).

>>> from accord.backends import make_backend
>>> backend = make_backend("openai", "Qwen/Qwen2.5-0.5B-Instruct",  # doctest: +SKIP
...                        base_url="http://127.0.0.1:8000/v1", max_concurrency=8)
>>> results = backend.generate(requests)                            # doctest: +SKIP
>>> results = await backend.agenerate(requests)                     # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import os
import random
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import openai
from openai import AsyncOpenAI

from accord.backends.base import BackendError, GenerationRequest, GenerationResult, TokenLogprob
from accord.backends.choices import UnreadableChoices, choice_logprobs_from_top
from accord.backends.decoding import usage as usage_of
from accord.backends.scoring import choice_tokens, encode

RETRYABLE_STATUS = {408, 409, 429}
CONSTRAINT_MODES = ("auto", "structured_outputs", "guided_choice", "none")


class OpenAIBackend:
    """Options: ``base_url`` (default: OpenAI, or ``OPENAI_BASE_URL``), ``api_key``,
    ``max_concurrency`` (requests in flight), ``max_retries``, ``timeout`` (seconds per
    attempt), ``backoff_base`` / ``backoff_max`` (seconds), ``max_top_logprobs`` (the
    server's cap, 20 for OpenAI and vLLM), ``choice_constraint`` (auto, structured_outputs,
    guided_choice or none), ``tokenizer`` (the served model's tokenizer: accord then renders
    the chat template and scores choices in context on the completions endpoint),
    ``chat_template`` (overrides the tokenizer's) and ``extra_body`` (sent with every
    request)."""

    name = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        max_concurrency: int = 16,
        max_retries: int = 5,
        timeout: float = 60.0,
        backoff_base: float = 0.5,
        backoff_max: float = 20.0,
        max_top_logprobs: int = 20,
        choice_constraint: str = "auto",
        tokenizer: str | None = None,
        chat_template: str | None = None,
        extra_body: dict[str, Any] | None = None,
    ):
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, got {max_retries}")
        if choice_constraint not in CONSTRAINT_MODES:
            raise ValueError(
                f"choice_constraint must be one of {', '.join(CONSTRAINT_MODES)}, "
                f"got {choice_constraint!r}"
            )
        self.model_id = model
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY")
        if not self.api_key:
            if self.base_url is None:
                raise BackendError(
                    "no API key for the OpenAI API: set OPENAI_API_KEY or pass api_key=...",
                    cause="config",
                )
            self.api_key = "EMPTY"  # local servers without auth still need a value to send
        self.max_concurrency = max_concurrency
        self.max_retries = max_retries
        self.timeout = timeout
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_top_logprobs = max_top_logprobs
        self.choice_constraint = choice_constraint
        self.tokenizer = None
        if tokenizer is not None:
            from accord.models.loading import load_tokenizer, resolve_model_path

            self.tokenizer = load_tokenizer(resolve_model_path(tokenizer))
            if chat_template is not None:
                self.tokenizer.chat_template = chat_template
            if not self.tokenizer.chat_template:
                raise BackendError(
                    f"tokenizer {tokenizer} has no chat template; pass chat_template=...",
                    cause="config",
                )
        elif chat_template is not None:
            raise ValueError("chat_template needs tokenizer= (accord renders it locally)")
        self.extra_body = dict(extra_body or {})
        self._server: dict[str, Any] | None = None  # detected once: {"vllm": bool, "version"}
        self._per_loop: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    # -- public API -------------------------------------------------------------------
    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        """Blocking wrapper; works with or without an event loop running in this thread."""

        async def run_and_close() -> list[GenerationResult]:
            try:
                return await self.agenerate(requests)
            finally:
                await self.aclose()

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(run_and_close())
        # Called from async code: run on a private loop in a worker thread.
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, run_and_close()).result()

    async def agenerate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        """Run all requests concurrently (bounded); one result per request, in order."""
        client, semaphore = self._loop_state()
        if any(r.choices for r in requests) or any(r.assistant_prefix for r in requests):
            await self._detect_server(client)

        async def one(request: GenerationRequest) -> GenerationResult:
            async with semaphore:
                try:
                    return await self.complete(request, client=client)
                except BackendError as err:
                    return GenerationResult(text="", error=f"{err.cause}: {err}")

        return list(await asyncio.gather(*(one(r) for r in requests)))

    async def complete(self, request: GenerationRequest, *, client: AsyncOpenAI | None = None):
        """One request; raises ``BackendError`` when it fails for good."""
        client = client or self._loop_state()[0]
        if request.choices is not None and not request.choices:
            raise BackendError("choices must list at least one option", cause="input")
        if self.tokenizer is not None and request.choices:
            return await self._score_in_context(request, client)
        if self.tokenizer is not None and request.assistant_prefix:
            return await self._continue_rendered(request, client)
        response = await self._with_retries(client, self._chat_kwargs(request))
        return self._result(request, response)

    # -- rendered locally: the completions endpoint --------------------------------------
    def render(self, request: GenerationRequest) -> str:
        """The exact prompt text (chat template + assistant prefix); needs ``tokenizer``."""
        text = self.tokenizer.apply_chat_template(
            request.messages, tokenize=False, add_generation_prompt=True
        )
        return text + (request.assistant_prefix or "")

    async def _score_in_context(self, request: GenerationRequest, client) -> GenerationResult:
        text = self.render(request)
        prompt_ids, plans = choice_tokens(self.tokenizer, text, request.choices)
        top_k = min(request.top_logprobs, self.max_top_logprobs)
        kwargs = {
            "model": self.model_id,
            "prompt": [plan.ids for plan in plans],
            "max_tokens": 1,
            "temperature": 0.0,
            "echo": True,
            "logprobs": max(1, top_k),
        }
        if self.extra_body:
            kwargs["extra_body"] = dict(self.extra_body)
        response = await self._with_retries(client, kwargs, endpoint="completions")
        outputs = sorted(response.choices, key=lambda c: c.index)
        if len(outputs) != len(plans):
            raise BackendError(
                f"{self.model_id} returned {len(outputs)} completions for {len(plans)} prompts",
                cause="server",
            )
        scored: dict[str, list[TokenLogprob]] = {}
        for plan, output in zip(plans, outputs):
            lp = output.logprobs
            values = list(lp.token_logprobs or []) if lp is not None else []
            end = len(plan.ids)
            if len(values) < end or any(v is None for v in values[plan.start : end]):
                raise BackendError(
                    f"{self.model_id} did not echo prompt log-probs (completions endpoint with "
                    "echo and logprobs); score without tokenizer= on this server",
                    cause="server",
                )
            tops = list(lp.top_logprobs or [])
            scored[plan.choice] = [
                TokenLogprob(
                    token=lp.tokens[k],
                    logprob=float(values[k]),
                    top=(dict(tops[k] or {}) if top_k and k < len(tops) else {}),
                )
                for k in range(plan.start, end)
            ]
        scores = {c: sum(r.logprob for r in records) for c, records in scored.items()}
        best = max(request.choices, key=scores.get)
        wants_tokens = request.logprobs or request.top_logprobs
        return GenerationResult(
            text=best,
            finish_reason="stop",
            usage=usage_of(len(prompt_ids), len(scored[best])),
            token_logprobs=scored[best] if wants_tokens else None,
            choice_logprobs=scores,
            raw={"id": response.id, "model": response.model, "endpoint": "completions"},
            scored_text=text,
        )

    async def _continue_rendered(self, request: GenerationRequest, client) -> GenerationResult:
        kwargs: dict[str, Any] = {
            "model": self.model_id,
            "prompt": encode(self.tokenizer, self.render(request)),
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
        }
        if request.seed is not None:
            kwargs["seed"] = request.seed
        if request.stop:
            kwargs["stop"] = list(request.stop)
        if request.logprobs or request.top_logprobs:
            kwargs["logprobs"] = max(1, min(request.top_logprobs, self.max_top_logprobs))
        if self.extra_body:
            kwargs["extra_body"] = dict(self.extra_body)
        response = await self._with_retries(client, kwargs, endpoint="completions")
        if not response.choices:
            raise BackendError(f"{self.model_id} returned no choices", cause="server")
        output = response.choices[0]
        records = None
        if (request.logprobs or request.top_logprobs) and output.logprobs is not None:
            lp = output.logprobs
            tops = list(lp.top_logprobs or [])
            records = [
                TokenLogprob(
                    token=tok,
                    logprob=float(value),
                    top=dict(tops[k] or {}) if request.top_logprobs and k < len(tops) else {},
                )
                for k, (tok, value) in enumerate(zip(lp.tokens or [], lp.token_logprobs or []))
            ]
        usage = {}
        if response.usage is not None:
            usage = response.usage.model_dump(
                include={"prompt_tokens", "completion_tokens", "total_tokens"}
            )
        return GenerationResult(
            text=output.text,
            finish_reason=output.finish_reason,
            usage=usage,
            token_logprobs=records,
            raw={"id": response.id, "model": response.model, "endpoint": "completions"},
        )

    async def aclose(self) -> None:
        state = self._per_loop.pop(asyncio.get_running_loop(), None)
        if state is not None:
            await state[0].close()

    def close(self) -> None:
        for loop, (client, _) in list(self._per_loop.items()):
            if not loop.is_closed() and not loop.is_running():
                loop.run_until_complete(client.close())
        self._per_loop.clear()

    # -- plumbing ---------------------------------------------------------------------
    def _loop_state(self) -> tuple[AsyncOpenAI, asyncio.Semaphore]:
        """Client and semaphore of the running loop (HTTP connections belong to one loop)."""
        loop = asyncio.get_running_loop()
        state = self._per_loop.get(loop)
        if state is None:
            client = AsyncOpenAI(
                api_key=self.api_key,
                base_url=self.base_url,
                timeout=self.timeout,
                max_retries=0,  # retries are ours: jitter, Retry-After, clear final error
                http_client=httpx.AsyncClient(
                    timeout=self.timeout,
                    limits=httpx.Limits(max_connections=self.max_concurrency),
                ),
            )
            state = (client, asyncio.Semaphore(self.max_concurrency))
            self._per_loop[loop] = state
        return state

    async def _detect_server(self, client: AsyncOpenAI) -> None:
        """Learn whether the server is vLLM (prefix continuation, constrained choices)."""
        if self._server is not None:
            return
        server: dict[str, Any] = {"vllm": False, "version": None}
        try:
            models = await client.models.list()
            server["vllm"] = any(getattr(m, "owned_by", None) == "vllm" for m in models.data)
            if server["vllm"]:
                root = str(client.base_url).rstrip("/").removesuffix("/v1")
                reply = await client._client.get(f"{root}/version", timeout=self.timeout)
                server["version"] = reply.json().get("version")
        except (openai.OpenAIError, httpx.HTTPError, ValueError):
            pass  # an unknown server gets the portable behaviour
        self._server = server

    def _constraint(self) -> str:
        if self.choice_constraint != "auto":
            return self.choice_constraint
        server = self._server or {}
        if not server.get("vllm"):
            return "none"
        # vLLM 0.10.2 introduced structured_outputs; older servers took guided_choice.
        if _version_tuple(server.get("version")) < (0, 10, 2):
            return "guided_choice"
        return "structured_outputs"

    def _chat_kwargs(self, request: GenerationRequest) -> dict[str, Any]:
        messages = list(request.messages)
        extra = dict(self.extra_body)
        if request.assistant_prefix:
            messages.append({"role": "assistant", "content": request.assistant_prefix})
            if (self._server or {}).get("vllm"):
                extra.update(continue_final_message=True, add_generation_prompt=False)
        kwargs: dict[str, Any] = {
            "model": self.model_id,
            "messages": messages,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "n": 1,
        }
        if request.seed is not None:
            kwargs["seed"] = request.seed
        if request.stop:
            kwargs["stop"] = list(request.stop)
        if request.logprobs or request.top_logprobs:
            kwargs["logprobs"] = True
            if request.top_logprobs:
                kwargs["top_logprobs"] = min(request.top_logprobs, self.max_top_logprobs)
        if request.choices:
            kwargs.update(logprobs=True, top_logprobs=self.max_top_logprobs)
            # Only the first answer token is read; a few more let a constrained answer finish.
            longest = max(len(c) for c in request.choices)
            kwargs["max_tokens"] = max(1, min(request.max_tokens, longest))
            constraint = self._constraint()
            if constraint == "structured_outputs":
                extra["structured_outputs"] = {"choice": list(request.choices)}
            elif constraint == "guided_choice":
                extra["guided_choice"] = list(request.choices)
        if extra:
            kwargs["extra_body"] = extra
        return kwargs

    async def _with_retries(
        self, client: AsyncOpenAI, kwargs: dict[str, Any], *, endpoint: str = "chat"
    ):
        where = f"{client.base_url} (model {self.model_id})"
        create = (
            client.completions.create
            if endpoint == "completions"
            else (client.chat.completions.create)
        )
        for attempt in range(self.max_retries + 1):
            try:
                return await create(**kwargs)
            except openai.APIStatusError as err:
                status = err.status_code
                retryable = status in RETRYABLE_STATUS or status >= 500
                cause = "rate_limit" if status == 429 else ("server" if retryable else "client")
                failure = BackendError(
                    f"HTTP {status} from {where}: {_server_message(err)}",
                    cause=cause,
                    retryable=retryable,
                )
                retry_after = _retry_after(err.response)
            except openai.APITimeoutError:
                failure = BackendError(
                    f"timed out after {self.timeout}s at {where}", cause="timeout", retryable=True
                )
                retry_after = None
            except openai.APIConnectionError as err:
                failure = BackendError(
                    f"cannot connect to {where}: {err.__cause__ or err}",
                    cause="connection",
                    retryable=True,
                )
                retry_after = None
            if not failure.retryable:
                raise failure
            if attempt == self.max_retries:
                raise BackendError(
                    f"{failure} (gave up after {attempt + 1} attempts)",
                    cause=failure.cause,
                    retryable=True,
                )
            delay = min(self.backoff_max, self.backoff_base * 2**attempt)
            delay = delay / 2 + random.uniform(0, delay / 2)  # jitter spreads retry storms
            await asyncio.sleep(max(delay, retry_after or 0.0))
        raise AssertionError("unreachable")

    def _result(self, request: GenerationRequest, response) -> GenerationResult:
        if not response.choices:
            raise BackendError(f"{self.model_id} returned no choices", cause="server")
        choice = response.choices[0]
        text = choice.message.content or ""
        records = None
        content = choice.logprobs.content if choice.logprobs is not None else None
        if content is not None:
            records = [
                TokenLogprob(
                    token=item.token,
                    logprob=float(item.logprob),
                    top={t.token: float(t.logprob) for t in (item.top_logprobs or [])},
                )
                for item in content
            ]
        usage = {}
        if response.usage is not None:
            usage = response.usage.model_dump(
                include={"prompt_tokens", "completion_tokens", "total_tokens"}
            )
        raw = {"id": response.id, "model": response.model}
        choice_scores = None
        truncated = False
        if request.choices:
            if not records:
                raise BackendError(
                    f"{self.model_id} returned no log-probs for a choices request", cause="server"
                )
            first = records[0]
            alternatives = list(first.top.items()) or [(first.token, first.logprob)]
            try:
                reading = choice_logprobs_from_top(list(request.choices), alternatives)
            except UnreadableChoices as err:
                raise BackendError(
                    f"{self.model_id} answered {text!r}: {err}", cause="unparsable"
                ) from None
            choice_scores, truncated = reading.scores, bool(reading.truncated)
            raw["generated_text"] = text
            raw["truncated"] = reading.truncated
            raw["constraint"] = self._constraint()
            text = max(request.choices, key=choice_scores.get)
        wants_tokens = request.logprobs or request.top_logprobs
        return GenerationResult(
            text=text,
            finish_reason=choice.finish_reason,
            usage=usage,
            token_logprobs=records if wants_tokens else None,
            choice_logprobs=choice_scores,
            raw=raw,
            truncated_choice=truncated,
        )


def _server_message(err: openai.APIStatusError) -> str:
    body = err.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if body.get("message"):
            return str(body["message"])
    return err.message


def _retry_after(response: httpx.Response | None) -> float | None:
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return min(float(value), 60.0) if value is not None else None
    except ValueError:
        return None


def _version_tuple(version: str | None) -> tuple[int, ...]:
    parts = []
    for piece in (version or "0").split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)
