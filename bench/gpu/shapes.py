"""Random-weights model shapes for the GPU figures, built from a config (no weights travel).

A shape is an architecture (Qwen2.5-0.5B's or 1.5B's) with accord's tiny byte-level BPE
tokenizer (about 2k tokens, trained from accord's own corpus in seconds). The model's
vocabulary stays at Qwen2.5's 151,936 rows so the embedding and the LM head cost what the real
ones do; prompt token ids never exceed the tokenizer's range, and a generated id beyond it
decodes to nothing (token counts, not text, are measured). The dry-run shapes are tiny
(seconds on a CPU) but take the same path, vocabulary padded past the tokenizer included.

>>> SHAPES["qwen2.5-0.5b"].hidden_size, SHAPES["qwen2.5-1.5b"].num_hidden_layers
(896, 28)
>>> sum(s.dry for s in SHAPES.values())
2
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

QWEN25_VOCAB = 151_936


@dataclass(frozen=True)
class Shape:
    """A Qwen2-family architecture; ``dry`` shapes are the CPU stand-ins of the dry run."""

    name: str
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    intermediate_size: int
    vocab_size: int = QWEN25_VOCAB
    dry: bool = False
    extra: dict = field(default_factory=lambda: {"rope_theta": 1_000_000.0, "rms_norm_eps": 1e-6})

    def __post_init__(self):
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(f"shape {self.name}: hidden_size must divide by num_attention_heads")
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(f"shape {self.name}: heads must divide by key/value heads")


SHAPES = {
    s.name: s
    for s in (
        Shape("qwen2.5-0.5b", 896, 24, 14, 2, 4864),
        Shape("qwen2.5-1.5b", 1536, 28, 12, 2, 8960),
        # head size 32 (vLLM's CPU kernels and sdpa are happy); vocabulary padded past the ~2k
        # tokens
        Shape("dry-a", 64, 2, 2, 1, 128, vocab_size=4096, dry=True),
        Shape("dry-b", 128, 2, 4, 2, 256, vocab_size=4096, dry=True),
    )
}


def tokenizer():
    """accord's tiny tokenizer (built once, cached under ACCORD_HOME)."""
    from transformers import AutoTokenizer

    from accord.models.tiny import ensure_tiny_model

    return AutoTokenizer.from_pretrained(ensure_tiny_model("causal"))


def config(shape: Shape, tok, dtype: str):
    from transformers import Qwen2Config

    dims = {k: v for k, v in asdict(shape).items() if k not in ("name", "dry", "extra")}
    return Qwen2Config(
        **dims,
        **shape.extra,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        bos_token_id=tok.bos_token_id,
        num_labels=1,
        dtype=dtype,
    )


def in_memory(shape: Shape, tok, *, device: str, dtype: str = "bfloat16"):
    """The causal LM, random weights initialised directly on ``device``."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(
            config(shape, tok, dtype), dtype=getattr(torch, dtype)
        )
    return model.to(device).eval()  # a no-op unless from_config ignored the device context


def save_pair(shape: Shape, folder: Path, *, dtype: str = "bfloat16") -> tuple[Path, Path]:
    """A policy (causal LM) and a reward/value model (sequence classification, one label) of
    ``shape`` saved with the tokenizer, for trainers that load from a folder."""
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    tok = tokenizer()
    folders = folder / f"{shape.name}-causal", folder / f"{shape.name}-reward"
    if all((f / "config.json").is_file() for f in folders):
        return folders
    device = "cuda" if torch.cuda.is_available() else "cpu"
    for out, cls in zip(folders, (AutoModelForCausalLM, AutoModelForSequenceClassification)):
        torch.manual_seed(0)
        with torch.device(device):
            model = cls.from_config(config(shape, tok, dtype), dtype=getattr(torch, dtype))
        model.save_pretrained(out)
        tok.save_pretrained(out)
        del model
    return folders
