"""PPO under accelerate: one process, DDP, or DeepSpeed (ZeRO-3 included).

What each setup needs, as the libraries' APIs require it:

- the trained modules (policy + value, one ``PolicyAndValue``) and the optimizer go through
  ``accelerator.prepare``: a DDP wrapper, or one DeepSpeed engine. DeepSpeed is told the
  micro-batch (PPO's minibatch) and the gradient clipping, as no dataloader is prepared;
- the frozen reference and reward models: moved to the device, or, under DeepSpeed, each made a
  DeepSpeed inference engine (``deepspeed.initialize`` with the run's ZeRO config and no
  optimizer, stage 3 kept so they are sharded too; trl's ``prepare_deepspeed``);
- generation needs whole weights: under ZeRO-3 the parameters are gathered for the duration
  (``deepspeed.zero.GatheredParameters``) with the engine's ZeRO hooks removed meanwhile, as
  trl does for its own generating trainers;
- saving gathers the 16-bit weights (``accelerator.get_state_dict``, which needs
  ``zero3_save_16bit_model: true`` in the accelerate config, as shipped).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


def deepspeed_plugin(accelerator):
    return getattr(accelerator.state, "deepspeed_plugin", None)


def is_zero3(accelerator) -> bool:
    plugin = deepspeed_plugin(accelerator)
    return plugin is not None and plugin.zero_stage == 3


def configure_deepspeed(accelerator, *, micro_batch_size: int, max_grad_norm: float) -> None:
    """Fill in what DeepSpeed would otherwise read from a prepared dataloader."""
    plugin = deepspeed_plugin(accelerator)
    if plugin is None:
        return
    ds = plugin.deepspeed_config
    ds["train_micro_batch_size_per_gpu"] = micro_batch_size
    ds["gradient_accumulation_steps"] = 1
    if max_grad_norm:
        ds["gradient_clipping"] = max_grad_norm


def prepare_frozen(accelerator, model):
    """The reference or reward model ready for gradient-free forwards on this process."""
    if deepspeed_plugin(accelerator) is None:
        return model.to(accelerator.device)
    from trl.models.utils import prepare_deepspeed

    return prepare_deepspeed(model, accelerator)


def setup_name(accelerator) -> str:
    """single, ddp, or deepspeed-zero<stage>: recorded on the run."""
    plugin = deepspeed_plugin(accelerator)
    if plugin is not None:
        return f"deepspeed-zero{plugin.zero_stage}"
    return "ddp" if accelerator.num_processes > 1 else "single"


def wrappers(**models) -> str:
    """What each model is at run time (e.g. ``trained: DeepSpeedEngine``): evidence of the setup."""
    return "; ".join(f"{name}: {type(model).__name__}" for name, model in models.items())


def grad_free(accelerator):
    """``inference_mode`` where it is safe; ``no_grad`` under ZeRO-3, whose parameter gathering
    writes into parameters that must stay ordinary tensors."""
    return torch.no_grad() if is_zero3(accelerator) else torch.inference_mode()


def _module(model):
    return getattr(model, "module", model)


@contextlib.contextmanager
def generation_policy(trained, accelerator) -> Iterator[torch.nn.Module]:
    """The trained policy with whole weights, for ``generate`` or a weight sync."""
    unwrapped = accelerator.unwrap_model(trained)
    if not is_zero3(accelerator):
        yield unwrapped.policy
        return
    import deepspeed
    from trl.models.utils import add_hooks, remove_hooks

    with deepspeed.zero.GatheredParameters(list(trained.parameters())):
        remove_hooks(trained)
        try:
            yield unwrapped.policy
        finally:
            add_hooks(trained)


@contextlib.contextmanager
def generation_reference(ref, accelerator) -> Iterator[torch.nn.Module]:
    """The frozen reference with whole weights (it is a DeepSpeed inference engine under ZeRO-3)."""
    if not is_zero3(accelerator):
        yield _module(ref)
        return
    import deepspeed

    with deepspeed.zero.GatheredParameters(list(ref.parameters())):
        yield _module(ref)


def save_trained(accelerator, trained, tokenizer, output_dir) -> None:
    """Policy (with tokenizer) into ``output_dir``, value model into ``output_dir/value_model``."""
    state = accelerator.get_state_dict(
        trained
    )  # gathers ZeRO-3 shards; collective, all ranks call it
    if not accelerator.is_main_process:
        return
    unwrapped = accelerator.unwrap_model(trained)
    for name, target in (("policy", output_dir), ("value", output_dir / "value_model")):
        prefix = f"{name}."
        part = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        getattr(unwrapped, name).save_pretrained(str(target), state_dict=part)
    tokenizer.save_pretrained(str(output_dir))
