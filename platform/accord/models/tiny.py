"""accord's tiny offline models: built from code in seconds, cached on disk, loaded like any model.

No model hub is needed to run accord's tests or quickstart. ``ensure_tiny_model`` trains a
byte-level BPE tokenizer (about 2k tokens, ChatML-style chat template) on accord's own small
corpus plus its shipped constitutions, initialises a 2-layer Qwen2-shaped causal LM (or a
reward model with a scalar head) from a fixed seed, and saves both with ``save_pretrained``
into a folder named after a hash of the whole recipe. Later calls return the folder at once;
every consumer then loads it through the ordinary ``from_pretrained(path)`` code path.

The weights are random: the model produces gibberish, which is what tests of mechanics need.
The head size is 32 because vLLM's CPU attention kernels reject 16.

>>> from accord.models.tiny import ensure_tiny_model
>>> path = ensure_tiny_model("causal")          # doctest: +SKIP
>>> sorted(p.name for p in path.iterdir())[:2]  # doctest: +SKIP
['chat_template.jinja', 'config.json']
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Literal

from accord.hashing import content_hash, sha256_hex
from accord.models.corpus import tiny_corpus

TinyKind = Literal["causal", "reward"]
KINDS: tuple[str, ...] = ("causal", "reward")

# Bump when anything about how the models are built changes (new folder, old one left alone).
RECIPE_VERSION = 1
VOCAB_SIZE = 2048
SEED = 1234
BOS_TOKEN = "<|bos|>"
EOS_TOKEN = "<|im_end|>"
PAD_TOKEN = "<|pad|>"
TURN_START_TOKEN = "<|im_start|>"
# Loading through AutoTokenizer picks the Qwen2 tokenizer class (from the model config), which
# adds "<|endoftext|>" as unknown token unless the vocabulary already has it.
UNK_TOKEN = "<|endoftext|>"
SPECIAL_TOKENS = [PAD_TOKEN, BOS_TOKEN, EOS_TOKEN, TURN_START_TOKEN, UNK_TOKEN]

# ChatML layout; the generation prompt opens an assistant turn so the answer follows directly.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

QWEN2_PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

MODEL_SHAPE: dict[str, Any] = {
    "hidden_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,  # head size 128 / 4 = 32, the smallest vLLM's CPU kernels accept
    "num_key_value_heads": 2,
    "intermediate_size": 256,
    "max_position_embeddings": 1024,
    "tie_word_embeddings": True,
}

MARKER_FILE = "accord_tiny.json"


def _constitution_texts() -> list[tuple[str, str]]:
    """The shipped constitutions (repository checkout or installed wheel), sorted by name."""
    package_dir = Path(__file__).resolve().parents[1]
    for folder in (
        package_dir.parent.parent / "constitutions",
        package_dir / "_data" / "constitutions",
    ):
        if folder.is_dir():
            files = sorted(p for p in folder.iterdir() if p.suffix in {".yaml", ".yml"})
            return [(p.name, p.read_text(encoding="utf-8")) for p in files]
    return []


def training_texts() -> list[str]:
    """Everything the tokenizer is trained on, in a fixed order."""
    return tiny_corpus() + [text for _, text in _constitution_texts()]


def recipe(kind: str) -> dict[str, Any]:
    """Everything that determines the built folder; its hash names the folder."""
    if kind not in KINDS:
        raise ValueError(f"unknown tiny model kind {kind!r}; expected one of {', '.join(KINDS)}")
    return {
        "recipe_version": RECIPE_VERSION,
        "kind": kind,
        "vocab_size": VOCAB_SIZE,
        "seed": SEED,
        "special_tokens": SPECIAL_TOKENS,
        "chat_template": CHAT_TEMPLATE,
        "pretokenize_regex": QWEN2_PRETOKENIZE_REGEX,
        "model_shape": MODEL_SHAPE,
        "corpus_sha256": sha256_hex("\n\x00".join(training_texts())),
    }


def build_tokenizer():
    """Train the byte-level BPE tokenizer and wrap it for ``transformers``."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    # The same normalizer and pre-tokenizer as transformers' Qwen2 tokenizer class, which
    # AutoTokenizer (and so vLLM, TRL, ...) instantiates for a qwen2 model folder: whichever
    # class loads the folder, the token ids are the same.
    bpe = Tokenizer(models.BPE())
    bpe.normalizer = normalizers.NFC()
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        min_frequency=1,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(training_texts(), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token=BOS_TOKEN,
        eos_token=EOS_TOKEN,
        pad_token=PAD_TOKEN,
        unk_token=UNK_TOKEN,
        additional_special_tokens=[TURN_START_TOKEN],
        model_max_length=MODEL_SHAPE["max_position_embeddings"],
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def _model_config(tokenizer):
    from transformers import Qwen2Config

    return Qwen2Config(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **MODEL_SHAPE,
    )


def _build_into(folder: Path, kind: str) -> None:
    import torch
    from transformers import (
        AutoModelForCausalLM,
        AutoModelForSequenceClassification,
        GenerationConfig,
    )

    tokenizer = build_tokenizer()
    config = _model_config(tokenizer)
    # Seed a private generator state so building never disturbs the caller's RNG stream.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        if kind == "causal":
            model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
            model.generation_config = GenerationConfig(
                bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
            )
        else:
            config.num_labels = 1
            model = AutoModelForSequenceClassification.from_config(config, dtype=torch.float32)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / MARKER_FILE).write_text(json.dumps(recipe(kind), indent=2, sort_keys=True))


def default_cache_dir() -> Path:
    """``ACCORD_TINY_MODELS_DIR`` if set (lets test sessions share one cache), else the
    ``models`` folder of ``ACCORD_HOME``."""
    shared = os.environ.get("ACCORD_TINY_MODELS_DIR")
    if shared:
        return Path(shared)
    from accord.settings import get_settings

    return get_settings().models_dir


def tiny_model_folder(kind: str, cache_dir: Path) -> Path:
    return Path(cache_dir) / f"tiny-{kind}-{content_hash(recipe(kind))[:16]}"


def ensure_tiny_model(
    kind: TinyKind | str = "causal", *, cache_dir: str | Path | None = None
) -> Path:
    """Path of the tiny model folder for ``kind`` ("causal" or "reward"), building it if needed.

    Safe when several processes call it at once: each builds in a private temporary folder
    and renames it into place atomically; a loser of the race discards its copy.
    """
    if cache_dir is None:
        cache_dir = default_cache_dir()
    cache_dir = Path(cache_dir).expanduser().resolve()
    final = tiny_model_folder(kind, cache_dir)
    return build_folder_once(final, MARKER_FILE, lambda staging: _build_into(staging, kind))


def build_folder_once(final: Path, marker: str, build) -> Path:
    """``final``, built by ``build(staging)`` unless ``final/marker`` exists already.

    Safe when several processes call it at once: each builds in a private temporary folder
    beside ``final`` (``build`` writes ``marker`` last) and renames it into place atomically;
    a loser of the race discards its copy.
    """
    if (final / marker).is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the cache is shared like any model folder
    try:
        build(staging)
        try:
            os.rename(staging, final)
        except OSError:
            # Another process finished first (the target exists and is not empty).
            if not (final / marker).is_file():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return final
