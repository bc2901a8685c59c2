"""What a running step sees: the store, its job, its inputs, backends, constitutions, progress.

Steps exchange row ids: each step returns a ``StepOutput`` and later steps read the ids of the
kind they need (prompts, responses, pairs) from the steps named in their ``input`` (default:
the nearest earlier step that produced that kind).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from ..backends.base import Backend
from ..constitutions import Constitution, load_constitution, store_constitution
from ..store.db import session_scope
from ..store.models import Job
from .model_refs import from_step_of, produced_model

ROW_KINDS = ("prompts", "responses", "pairs", "judgments")


class JobCancelled(RuntimeError):
    """The job was asked to stop (``cancel_requested``) or interrupted."""


@dataclass
class StepOutput:
    """Ids a step produced or passed on, by kind, plus counters shown in the job result."""

    prompts: list[int] = field(default_factory=list)
    responses: list[int] = field(default_factory=list)
    pairs: list[int] = field(default_factory=list)
    judgments: list[int] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    # The model folder the step produced (training, the loop), for ``{from_step: NAME}``.
    model: str | None = None
    no_model_reason: str = ""

    def ids(self, kind: str) -> list[int]:
        return getattr(self, kind)

    def summary(self) -> dict[str, Any]:
        return {**{k: len(self.ids(k)) for k in ROW_KINDS if self.ids(k)}, **self.counts}


@dataclass
class ModelRef:
    backend: str
    model: str
    options: dict[str, Any] = field(default_factory=dict)


class LazyBackend:
    """A backend built on its first ``generate``: a rerun whose every request is cached
    never loads the model. ``name`` / ``model_id`` come from the recipe's model entry."""

    def __init__(self, ref: ModelRef, build: Callable[[ModelRef], Backend]):
        self.ref = ref
        self.name = ref.backend
        self.model_id = ref.model
        self._build = build
        self._backend: Backend | None = None

    @property
    def loaded(self) -> Backend:
        if self._backend is None:
            self._backend = self._build(self.ref)
        return self._backend

    def generate(self, requests):
        return self.loaded.generate(requests)

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None


def _make_backend(ref: ModelRef) -> Backend:
    from ..backends import make_backend

    return make_backend(ref.backend, ref.model, **ref.options)


class StepContext:
    """Shared by the steps of one recipe run; created by the runner."""

    def __init__(
        self,
        *,
        engine: Engine,
        job_id: int,
        seed: int,
        base_dir: Path,
        retry_errors: bool,
        progress: Any,
        models: dict[str, ModelRef],
        backends: dict[str, Backend] | None = None,
        backend_factory: Callable[[ModelRef], Backend] | None = None,
    ):
        self.engine = engine
        self.job_id = job_id
        self.seed = seed
        self.base_dir = base_dir
        self.retry_errors = retry_errors
        self.progress = progress
        self.models = models
        self.outputs: dict[str, StepOutput] = {}
        self.step_name = ""
        self.errors_recorded = 0
        self.skipped_known_errors = 0
        self._given_backends = dict(backends or {})
        self._backends: dict[tuple, Backend] = {}
        self._owned: list[Backend] = []
        self._backend_factory = backend_factory
        self._constitutions: dict[str, tuple[Constitution, int]] = {}

    # -- inputs ---------------------------------------------------------------------------
    def input_ids(self, kind: str, input_names: str | list[str] | None) -> list[int]:
        """Ids of ``kind`` from the named steps, or from the nearest earlier step with any."""
        if input_names is None:
            for name in reversed(list(self.outputs)):
                ids = self.outputs[name].ids(kind)
                if ids:
                    return list(ids)
            return []
        names = [input_names] if isinstance(input_names, str) else list(input_names)
        out: list[int] = []
        for name in names:
            if name not in self.outputs:
                raise ValueError(f"step {self.step_name!r}: input step {name!r} has not run")
            out.extend(self.outputs[name].ids(kind))
        return list(dict.fromkeys(out))

    # -- backends -------------------------------------------------------------------------
    def model_ref(self, ref: str | dict[str, Any] | ModelRef, field: str = "model") -> ModelRef:
        """A model alias, an inline {backend, model, options}, or ``{from_step: NAME}``: the
        model an earlier step produced (``accord.jobs.model_refs``)."""
        if isinstance(ref, ModelRef):
            return ref
        name = from_step_of(ref)
        if name is not None:
            path = produced_model(self, field=field, name=name)
            return ModelRef(
                ref.get("backend", "transformers"), path, dict(ref.get("options") or {})
            )
        if isinstance(ref, str):
            if ref not in self.models:
                raise KeyError(f"step {self.step_name!r}: unknown model alias {ref!r}")
            return self.models[ref]
        return ModelRef(**ref)

    def backend(self, ref: str | dict[str, Any] | ModelRef) -> Backend:
        """The backend for a model alias, built once per run (or supplied by the caller)."""
        if isinstance(ref, str) and ref in self._given_backends:
            return self._given_backends[ref]
        mref = self.model_ref(ref)
        key = (
            mref.backend,
            mref.model,
            tuple(sorted((k, repr(v)) for k, v in mref.options.items())),
        )
        if key not in self._backends:
            backend = LazyBackend(mref, self._backend_factory or _make_backend)
            self._backends[key] = backend
            self._owned.append(backend)
        return self._backends[key]

    def close(self) -> None:
        for backend in self._owned:
            backend.close()
        self._owned.clear()
        self._backends.clear()

    # -- constitutions --------------------------------------------------------------------
    def constitution(self, name_or_path: str) -> tuple[Constitution, int]:
        """The constitution and its stored row id (stored once per version)."""
        if name_or_path not in self._constitutions:
            constitution = load_constitution(name_or_path, base_dir=self.base_dir)
            with session_scope(self.engine) as session:
                row = store_constitution(session, constitution)
            self._constitutions[name_or_path] = (constitution, row.id)
        return self._constitutions[name_or_path]

    # -- control --------------------------------------------------------------------------
    def check_cancel(self) -> None:
        with session_scope(self.engine) as session:
            job = session.get(Job, self.job_id)
            if job is not None and job.cancel_requested:
                raise JobCancelled(f"job {self.job_id} was cancelled")
