"""How a training example becomes tokens: the model's chat template for conversations, plain
text otherwise, and BOS exactly once.

A snapshot row is *conversational* when its prompt is a list of messages
(``[{"role": "user", "content": "..."}]``); its chosen / rejected answers are then either
strings or one-message lists (``[{"role": "assistant", "content": "..."}]``). Conversational rows
are rendered with the tokenizer's own chat template and the rendered text is tokenized WITHOUT
special tokens: templates such as Llama-2's write BOS themselves, and a tokenizer that adds BOS
too would give two. Plain rows are tokenized as text with the tokenizer's special tokens (its
BOS, when it has one). This is what trl's trainers do, and what accord's PPO rollouts and reward
reads do.

>>> from accord.train.chat import completion_messages, is_conversational
>>> is_conversational([{"role": "user", "content": "Hi"}]), is_conversational("Hi")
(True, False)
>>> completion_messages("Hello.")
[{'role': 'assistant', 'content': 'Hello.'}]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Messages = list[dict[str, Any]]


def is_conversational(value: Any) -> bool:
    """Whether a prompt or answer is a list of chat messages (rather than plain text)."""
    return isinstance(value, list) and all(isinstance(m, dict) and "role" in m for m in value)


def message_errors(value: Any) -> str | None:
    """Why ``value`` is not a list of ``{"role": str, "content": str}`` messages (None when it
    is)."""
    if not isinstance(value, list) or not value:
        return "expected a non-empty list of messages"
    for i, message in enumerate(value):
        if not isinstance(message, dict):
            return f"message {i} is not an object"
        if not isinstance(message.get("role"), str) or not isinstance(message.get("content"), str):
            return f"message {i} needs string 'role' and 'content'"
    return None


def completion_messages(completion: str | Messages) -> Messages:
    """An answer as assistant messages (a plain string becomes one assistant turn)."""
    if isinstance(completion, str):
        return [{"role": "assistant", "content": completion}]
    return list(completion)


def completion_text(completion: str | Messages) -> str:
    """An answer as text (the content of its messages, concatenated)."""
    if isinstance(completion, str):
        return completion
    return "".join(m["content"] for m in completion)


def prompt_text(prompt: str | Messages) -> str:
    """A prompt as one text (for judges that take text): a single user turn is its content,
    longer conversations become ``Role: content`` lines."""
    if isinstance(prompt, str):
        return prompt
    if len(prompt) == 1:
        return prompt[0]["content"]
    return "\n".join(f"{m['role'].capitalize()}: {m['content']}" for m in prompt)


def has_chat_template(tokenizer) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def _require_template(tokenizer) -> None:
    if not has_chat_template(tokenizer):
        name = getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__
        raise ValueError(
            f"the snapshot is conversational (prompts are messages) but the tokenizer of "
            f"{name} has no chat template; export plain-text prompts or use a chat model"
        )


def prompt_token_ids(tokenizer, prompt: str | Messages) -> list[int]:
    """A prompt's tokens for generation: the chat template with the generation prompt for
    messages (no special tokens added on top), the tokenizer's own encoding for text."""
    if is_conversational(prompt):
        _require_template(tokenizer)
        text = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
        return tokenizer(text, add_special_tokens=False)["input_ids"]
    return tokenizer(prompt)["input_ids"]


def reward_token_ids(
    tokenizer, prompt: str | Messages, completion: str | Messages, *, finished: bool = True
) -> list[int]:
    """The tokens a reward model was trained on for (prompt, completion), as trl's RewardTrainer
    builds them: the whole conversation through the chat template for messages; for text,
    ``prompt + completion`` with EOS appended (once) and the tokenizer's special tokens.

    An unfinished completion (cut at the length limit) is not passed off as finished: no EOS is
    appended, and a conversation's last turn is left open (``continue_final_message``).
    """
    if is_conversational(prompt):
        _require_template(tokenizer)
        text = tokenizer.apply_chat_template(
            [*prompt, *completion_messages(completion)],
            tokenize=False,
            continue_final_message=not finished,
        )
        return tokenizer(text, add_special_tokens=False)["input_ids"]
    text = prompt + completion_text(completion)
    eos = tokenizer.eos_token
    if finished and eos and not text.endswith(eos):
        text += eos
    return tokenizer(text)["input_ids"]


def bos_count(tokenizer, ids: Sequence[int]) -> int:
    """How many BOS tokens ``ids`` holds (0 for tokenizers without one)."""
    bos = tokenizer.bos_token_id
    return 0 if bos is None else sum(1 for t in ids if t == bos)
