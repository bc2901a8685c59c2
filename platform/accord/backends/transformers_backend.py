"""Local generation with ``transformers``: any causal LM (hub id, folder or ``accord/tiny``).

Requests are rendered with the tokenizer's chat template, sorted by length and run in
left-padded batches through a KV-cached decoding loop. All rows of a step choose their
tokens together, each from its own seeded draws (greedy at temperature 0); a row stops at
its own eos / stop strings / ``max_tokens`` and records raw-model token log-probs when
asked. ``choices`` requests are scored, not generated: every choice is tokenized in context
after the rendered prompt (``accord.backends.scoring``) and its tokens' log-probs summed, all
choices of all such requests in one forward pass per batch.

>>> from accord.backends import make_backend
>>> from accord.backends.base import GenerationRequest
>>> backend = make_backend("transformers", "accord/tiny")            # doctest: +SKIP
>>> [r] = backend.generate([GenerationRequest(                      # doctest: +SKIP
...     messages=[{"role": "user", "content": "Which is better?"}], choices=["A", "B"])])
>>> sorted(r.choice_logprobs)                                        # doctest: +SKIP
['A', 'B']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from accord.backends.base import BackendError, GenerationRequest, GenerationResult
from accord.backends.decoding import (
    choose_tokens,
    cut_at_stop,
    row_random,
    run_isolated,
    token_record,
    usage,
)
from accord.backends.scoring import choice_tokens


@dataclass
class _Row:
    """One request being decoded (or one choice being scored)."""

    index: int
    request: GenerationRequest
    prompt_ids: list[int]
    budget: int = 0
    generator: Any = None
    tokens: list[int] = field(default_factory=list)
    logprobs: list = field(default_factory=list)
    finish_reason: str | None = None
    text: str = ""
    plans: list = field(default_factory=list)  # ChoiceTokens of a choices request
    prompt_text: str = ""


class TransformersBackend:
    """Options: ``device`` (cpu, cuda, cuda:1; default cuda when available), ``device_map``
    (e.g. "auto" to spread a large model over GPUs; overrides ``device``), ``dtype`` (auto,
    float32, bfloat16, float16; default float32 on CPU and auto on GPU), ``batch_size``
    (rows per forward pass), ``trust_remote_code``, ``chat_template`` (overrides the
    tokenizer's) and ``cache_dir`` (where ``accord/tiny`` models are built)."""

    name = "transformers"

    def __init__(
        self,
        model: str,
        *,
        device: str | None = None,
        device_map: Any = None,
        dtype: Any = None,
        batch_size: int = 8,
        trust_remote_code: bool = False,
        chat_template: str | None = None,
        cache_dir: str | None = None,
    ):
        import torch

        from accord.models.loading import load_causal_lm, load_tokenizer, resolve_model_path

        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.model_id = str(model)
        self.batch_size = batch_size
        path = resolve_model_path(model, cache_dir=cache_dir)
        if device_map is None:
            device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if dtype is None:
            on_gpu = device_map is not None or str(device).startswith("cuda")
            dtype = "auto" if on_gpu else "float32"
        self.tokenizer = load_tokenizer(path, trust_remote_code=trust_remote_code)
        if chat_template is not None:
            self.tokenizer.chat_template = chat_template
        model = load_causal_lm(
            path, dtype=dtype, device_map=device_map, trust_remote_code=trust_remote_code
        )
        if device_map is None:
            model.to(device)
        self._attach(model, self.tokenizer)

    @classmethod
    def from_loaded(
        cls, model, tokenizer, *, model_id: str, batch_size: int = 8
    ) -> TransformersBackend:
        """A backend over a model already in memory (e.g. a policy being trained)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        backend = cls.__new__(cls)
        backend.model_id, backend.batch_size = model_id, batch_size
        backend._attach(model, tokenizer)
        return backend

    def _attach(self, model, tokenizer) -> None:
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.model, self.tokenizer = model.eval(), tokenizer
        self.device = model.device
        self.pad_id = tokenizer.pad_token_id
        self.eos_ids = self._eos_ids()
        self.context_length = getattr(model.config, "max_position_embeddings", None)
        self._keep_logits = _takes_logits_to_keep(model)

    def _eos_ids(self) -> set[int]:
        ids = {self.tokenizer.eos_token_id}
        configured = getattr(self.model.generation_config, "eos_token_id", None)
        ids.update(configured if isinstance(configured, list) else [configured])
        return {i for i in ids if i is not None}

    # -- public API -------------------------------------------------------------------
    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        import torch

        results: list[GenerationResult | None] = [None] * len(requests)
        decode_rows: list[_Row] = []
        score_rows: list[_Row] = []
        for index, request in enumerate(requests):
            try:
                row = self._prepare(index, request)
            except BackendError as err:
                results[index] = GenerationResult(text="", error=f"{err.cause}: {err}")
                continue
            (score_rows if request.choices else decode_rows).append(row)

        with torch.inference_mode():
            decode_rows.sort(key=lambda r: len(r.prompt_ids))
            for batch in _chunks(decode_rows, self.batch_size):
                for row, result in run_isolated(self._decode_batch, batch):
                    results[row.index] = result
            score_rows.sort(key=lambda r: max(len(p.ids) for p in r.plans))  # less padding
            for batch in _score_batches(score_rows, self.batch_size):
                for row, result in run_isolated(self._score_batch, batch):
                    results[row.index] = result
        return [r for r in results if r is not None]

    def close(self) -> None:
        self.model = None
        import gc

        gc.collect()

    # -- preparation ------------------------------------------------------------------
    def render(self, request: GenerationRequest) -> str:
        """The exact prompt text the model continues (chat template + assistant prefix)."""
        if not self.tokenizer.chat_template:
            raise BackendError(
                f"{self.model_id} has no chat template; pass chat_template=... to the backend",
                cause="input",
            )
        text = self.tokenizer.apply_chat_template(
            request.messages, tokenize=False, add_generation_prompt=True
        )
        return text + (request.assistant_prefix or "")

    def _prepare(self, index: int, request: GenerationRequest) -> _Row:
        text = self.render(request)
        if request.choices is not None:
            ids, plans = choice_tokens(self.tokenizer, text, request.choices)
            longest = max(len(p.ids) for p in plans)
        else:
            ids, plans = self.tokenizer(text, add_special_tokens=False)["input_ids"], []
            longest = len(ids)
        if self.context_length is not None and longest >= self.context_length:
            raise BackendError(
                f"prompt has {longest} tokens; {self.model_id} accepts {self.context_length}",
                cause="input",
            )
        room = (self.context_length - len(ids)) if self.context_length else request.max_tokens
        return _Row(
            index=index,
            request=request,
            prompt_ids=ids,
            budget=min(request.max_tokens, room),
            plans=plans,
            prompt_text=text,
        )

    def _left_padded(self, sequences: list[list[int]]):
        import torch

        width = max(len(s) for s in sequences)
        input_ids = torch.full((len(sequences), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(sequences), width), dtype=torch.long)
        for i, seq in enumerate(sequences):
            input_ids[i, width - len(seq) :] = torch.tensor(seq, dtype=torch.long)
            attention[i, width - len(seq) :] = 1
        positions = (attention.cumsum(-1) - 1).clamp(min=0)
        return input_ids.to(self.device), attention.to(self.device), positions.to(self.device)

    # -- free generation --------------------------------------------------------------
    def _decode_batch(self, rows: list[_Row]) -> list[GenerationResult]:
        import torch

        for row in rows:
            row.generator = row_random(row.request.seed)
            row.tokens, row.logprobs, row.finish_reason = [], [], None
        temperatures = [r.request.temperature for r in rows]
        top_ps = [r.request.top_p for r in rows]
        input_ids, attention, positions = self._left_padded([r.prompt_ids for r in rows])
        # Only the last position's logits are needed: the prompt's other rows of a real
        # vocabulary would cost more than the rest of the prefill.
        out = self.model(
            input_ids=input_ids,
            attention_mask=attention,
            position_ids=positions,
            use_cache=True,
            **({"logits_to_keep": 1} if self._keep_logits else {}),
        )
        past, logits = out.past_key_values, out.logits[:, -1, :]
        next_position = positions[:, -1:] + 1
        for _ in range(max(r.budget for r in rows)):
            active = [r.finish_reason is None for r in rows]
            # One draw per active row and step, so a row's draws follow its own tokens only.
            uniforms = [
                r.generator.random() if live and t > 0.0 else 0.0
                for r, live, t in zip(rows, active, temperatures)
            ]
            tokens = choose_tokens(
                logits, temperatures=temperatures, top_ps=top_ps, uniforms=uniforms
            )
            broken = [r.index for r, live, t in zip(rows, active, tokens) if live and t < 0]
            if broken:  # the batch fails, then its rows run one by one: this one fails alone
                raise BackendError(
                    f"the model's next-token distribution is not finite (NaN or infinite "
                    f"logits) for request {broken[0]}",
                    cause="backend",
                )
            for i, row in enumerate(rows):
                if active[i]:
                    self._advance(row, tokens[i], logits[i])
            if all(r.finish_reason is not None for r in rows):
                break
            next_ids = [r.tokens[-1] if r.tokens else self.pad_id for r in rows]
            step_ids = torch.tensor(next_ids, dtype=torch.long, device=self.device)[:, None]
            attention = torch.cat([attention, torch.ones_like(step_ids)], dim=-1)
            out = self.model(
                input_ids=step_ids,
                attention_mask=attention,
                position_ids=next_position,
                past_key_values=past,
                use_cache=True,
            )
            past, logits = out.past_key_values, out.logits[:, -1, :]
            next_position = next_position + 1
        return [self._finish(row) for row in rows]

    def _advance(self, row: _Row, token: int, logits_row) -> None:
        import torch

        request = row.request
        row.tokens.append(token)
        if request.logprobs or request.top_logprobs:
            logprobs_row = torch.log_softmax(logits_row.float(), dim=-1)
            row.logprobs.append(
                token_record(self.tokenizer, logprobs_row, token, request.top_logprobs)
            )
        if token in self.eos_ids:
            row.finish_reason = "stop"
            return
        if request.stop:
            # Only the tail can hold a new stop string; a character spans at most 4 byte tokens.
            window = 4 * max(len(s) for s in request.stop) + 4
            if cut_at_stop(self._decode(row.tokens[-window:]), request.stop)[1]:
                row.finish_reason = "stop"
                return
        if len(row.tokens) >= row.budget:
            row.finish_reason = "length"

    def _decode(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=True)

    def _finish(self, row: _Row) -> GenerationResult:
        if row.finish_reason is None:
            row.finish_reason = "length"
        row.text = cut_at_stop(self._decode(row.tokens), row.request.stop)[0]
        return GenerationResult(
            text=row.text,
            finish_reason=row.finish_reason,
            usage=usage(len(row.prompt_ids), len(row.tokens)),
            token_logprobs=row.logprobs
            if (row.request.logprobs or row.request.top_logprobs)
            else None,
        )

    # -- choice scoring ---------------------------------------------------------------
    def _score_batch(self, rows: list[_Row]) -> list[GenerationResult]:
        import torch

        # One sequence per row when every choice is one token after the same context (the
        # usual "(A" / "(B" judge): the context's last position predicts each choice, so the
        # prompt runs once instead of once per choice. Otherwise one sequence per choice.
        pieces = []  # (row, plans scored on this sequence, the sequence, ids of a plan past it)
        for row in rows:
            if _one_token_after_shared_context(row.plans):
                pieces.append((row, row.plans, row.plans[0].ids[:-1], 1))
            else:
                pieces.extend((row, [plan], plan.ids, 0) for plan in row.plans)
        input_ids, attention, positions = self._left_padded([seq for _, _, seq, _ in pieces])
        # Sequences are right-aligned, so every scored token sits in the last `keep` positions;
        # only those logits are materialised (a real vocabulary makes the rest costly).
        keep = max(len(plan.scored_ids) - past for _, plans, _, past in pieces for plan in plans)
        keep += 1
        out = self.model(
            input_ids=input_ids,
            attention_mask=attention,
            position_ids=positions,
            **({"logits_to_keep": keep} if self._keep_logits else {}),
        )
        logprobs = torch.log_softmax(out.logits[:, -keep:, :].float(), dim=-1)
        scores: dict[int, dict[str, tuple[float, list]]] = {}
        for i, (row, plans, _, past) in enumerate(pieces):
            for plan in plans:
                # Window position keep-1-n+past+j predicts the j-th of the n scored tokens.
                first = keep - 1 - len(plan.scored_ids) + past
                records = [
                    token_record(
                        self.tokenizer, logprobs[i, first + j], tok, row.request.top_logprobs
                    )
                    for j, tok in enumerate(plan.scored_ids)
                ]
                scores.setdefault(row.index, {})[plan.choice] = (
                    sum(r.logprob for r in records),
                    records,
                )
        results = []
        for row in rows:
            by_choice = scores[row.index]
            best = max(row.request.choices, key=lambda c: by_choice[c][0])
            wants_tokens = row.request.logprobs or row.request.top_logprobs
            results.append(
                GenerationResult(
                    text=best,
                    finish_reason="stop",
                    usage=usage(len(row.prompt_ids), len(by_choice[best][1])),
                    token_logprobs=by_choice[best][1] if wants_tokens else None,
                    choice_logprobs={c: v[0] for c, v in by_choice.items()},
                    scored_text=row.prompt_text,
                )
            )
        return results


def _takes_logits_to_keep(model) -> bool:
    """Whether ``model``'s forward accepts ``logits_to_keep`` (every causal LM transformers
    ships does; custom code from before it may not, and then gets full logits)."""
    import inspect

    try:
        parameters = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False
    return "logits_to_keep" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )


def _one_token_after_shared_context(plans: list) -> bool:
    """True when every choice is a single token after one and the same context."""
    context = plans[0].ids[:-1]
    return all(len(p.scored_ids) == 1 and p.ids[:-1] == context for p in plans)


def _score_batches(rows: list, size: int):
    """Rows in batches of at most ``size`` sequences (a row is one, or one per choice)."""
    batch, sequences = [], 0
    for row in rows:
        n = 1 if _one_token_after_shared_context(row.plans) else len(row.plans)
        if batch and sequences + n > size:
            yield batch
            batch, sequences = [], 0
        batch.append(row)
        sequences += n
    if batch:
        yield batch


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]
