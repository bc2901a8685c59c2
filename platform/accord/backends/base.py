"""One interface for every generation backend (transformers, OpenAI-compatible, vLLM).

Backends turn chat requests into completions with token log-probs; they never touch the
store (jobs do the writing). A request carries everything that determines its output, so
``GenerationRequest.cache_payload()`` is what the jobs' content-addressed cache hashes.

>>> req = GenerationRequest(messages=[{"role": "user", "content": "hi"}], max_tokens=8)
>>> {"messages", "max_tokens", "temperature", "seed"} <= set(req.cache_payload())
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

# Version of how choice log-probs are read; part of the cache key of every choices request.
CHOICE_SCORING = "in-context-1"


@dataclass(frozen=True)
class SamplingParams:
    """Sampling settings recorded on every row a backend produces."""

    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 128
    seed: int | None = 0
    stop: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["stop"] = list(self.stop)
        return d


@dataclass
class GenerationRequest:
    """One chat completion to make. ``top_logprobs`` > 0 asks for per-token alternatives;
    ``choices`` restricts the answer to one of a few strings and asks for the log-prob of
    each (the judge reads "A" vs "B" this way, never by trusting free text)."""

    messages: list[dict[str, str]]
    max_tokens: int = 128
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = 0
    stop: list[str] = field(default_factory=list)
    logprobs: bool = False
    top_logprobs: int = 0
    choices: list[str] | None = None
    # When set, the text the assistant turn starts with (e.g. a rationale already produced).
    assistant_prefix: str | None = None

    def sampling(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "stop": list(self.stop),
        }

    def cache_payload(self) -> dict[str, Any]:
        payload = {
            "messages": self.messages,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "seed": self.seed,
            "stop": list(self.stop),
            "logprobs": self.logprobs,
            "top_logprobs": self.top_logprobs,
            "choices": self.choices,
            "assistant_prefix": self.assistant_prefix,
        }
        if self.choices is not None:
            # Choices are scored in context (accord.backends.scoring); results cached under the
            # old reading (a choice tokenized alone) must not be served again.
            payload["choice_scoring"] = CHOICE_SCORING
        return payload


@dataclass
class TokenLogprob:
    token: str
    logprob: float
    top: dict[str, float] = field(default_factory=dict)


@dataclass
class GenerationResult:
    """What every backend returns for one request."""

    text: str
    finish_reason: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    token_logprobs: list[TokenLogprob] | None = None
    # For requests with ``choices``: log-prob of each choice as the answer.
    choice_logprobs: dict[str, float] | None = None
    raw: dict[str, Any] | None = None
    error: str | None = None
    # For requests with ``choices``: the exact text the choices were scored after (chat
    # template rendered with the assistant prefix), when the backend rendered it itself.
    scored_text: str | None = None
    # For requests with ``choices`` read from top-k alternatives: a choice was not listed, so
    # its log-prob is an upper bound (the least likely listed token's).
    truncated_choice: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def storable(self) -> GenerationResult:
        """This result with every NUL character a model wrote (a byte token decodes to one)
        replaced by U+FFFD: no store keeps NUL in text (PostgreSQL refuses it), and one odd
        token must not fail the job that stores the response.

        >>> GenerationResult(text="a\\x00b").storable().text == "a\\ufffdb"
        True
        """
        if "\x00" not in self.text and not any(
            "\x00" in t.token or any("\x00" in k for k in t.top) for t in self.token_logprobs or []
        ):
            return self
        tokens = [
            TokenLogprob(
                token=t.token.replace("\x00", "\ufffd"),
                logprob=t.logprob,
                top={k.replace("\x00", "\ufffd"): v for k, v in t.top.items()},
            )
            for t in self.token_logprobs or []
        ]
        return replace(
            self,
            text=self.text.replace("\x00", "\ufffd"),
            token_logprobs=tokens if self.token_logprobs is not None else None,
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GenerationResult:
        d = dict(d)
        if d.get("token_logprobs") is not None:
            d["token_logprobs"] = [TokenLogprob(**t) for t in d["token_logprobs"]]
        return cls(**d)


class BackendError(RuntimeError):
    """A request failed for a reason the caller should record (cause: timeout, client, ...)."""

    def __init__(self, message: str, *, cause: str = "backend", retryable: bool = False):
        super().__init__(message)
        self.cause = cause
        self.retryable = retryable


@runtime_checkable
class Backend(Protocol):
    """``name`` is transformers | openai | vllm; ``model_id`` what produced the text."""

    name: str
    model_id: str

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        """Run a batch; one result per request, in order. A request that fails yields a
        result with ``error`` set instead of raising, so one bad item never sinks a batch."""
        ...

    def close(self) -> None: ...
