"""DDP and FSDP, as TRAINING_STRATEGY names them: how the model is wrapped and how its state is sharded.

DDP: every rank holds the whole model and optimizer state; a checkpoint still writes in parallel,
each rank a round-robin share of the tensors, and a resume reads all shares (any world size).
FSDP: full sharding (ZeRO-3), bf16 mixed precision, activation checkpointing of every transformer
layer; each rank writes its own flat-parameter shard and its optimizer state, so a resume needs the
same world size.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from typing import Any, Callable, ContextManager, Iterator

import torch
from torch import nn

from .config import TrainConfig
from .dist import DistContext
from .model import TinyCausalLM, block_classes

log = logging.getLogger("sft")
STRATEGIES = ("DDP", "FSDP")


class StrategyError(ValueError):
    pass


def strategy_name(env: dict[str, str]) -> str:
    raw = env.get("TRAINING_STRATEGY")
    if raw is None or raw.strip() == "":
        raise StrategyError("environment: TRAINING_STRATEGY is not set (DDP or FSDP; the job submitter sets it)")
    name = raw.strip().upper()
    if name not in STRATEGIES:
        raise StrategyError(f"environment: TRAINING_STRATEGY must be DDP or FSDP, got {raw!r}")
    return name


def _flatten(model_state: dict[str, torch.Tensor], optim_state: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {f"model/{k}": v for k, v in model_state.items()}
    for pid, state in optim_state["state"].items():
        for name, value in state.items():
            flat[f"optim/{pid}/{name}"] = value
    return flat


def _unflatten(flat: dict[str, Any], param_groups: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    model_state: dict[str, Any] = {}
    state: dict[int, dict[str, Any]] = {}
    for key, value in flat.items():
        kind, _, rest = key.partition("/")
        if kind == "model":
            model_state[rest] = value
        else:
            pid, _, name = rest.partition("/")
            state.setdefault(int(pid), {})[name] = value
    return model_state, {"state": state, "param_groups": param_groups}


class Ddp:
    name = "DDP"

    def wrap(self, model: nn.Module, cfg: TrainConfig, ctx: DistContext) -> nn.Module:
        from torch.nn.parallel import DistributedDataParallel

        model.to(ctx.device)
        if cfg.activation_checkpointing:
            _checkpoint_activations(model)
        ids = [ctx.local_rank] if ctx.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def autocast(self, cfg: TrainConfig, ctx: DistContext) -> ContextManager[Any]:
        if cfg.precision == "bf16" and ctx.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def no_sync(self, wrapped: nn.Module) -> ContextManager[Any]:
        return wrapped.no_sync()  # type: ignore[operator]

    def clip(self, wrapped: nn.Module, max_norm: float) -> None:
        if max_norm > 0:
            torch.nn.utils.clip_grad_norm_(wrapped.parameters(), max_norm)

    def shard(self, wrapped: nn.Module, optimizer: torch.optim.Optimizer, ctx: DistContext) -> dict[str, Any]:
        module = wrapped.module  # type: ignore[attr-defined]
        optim = optimizer.state_dict()
        flat = _flatten(module.state_dict(), optim)
        mine = {k: v for i, (k, v) in enumerate(sorted(flat.items())) if i % ctx.world_size == ctx.rank}
        return {"tensors": mine, "param_groups": optim["param_groups"] if ctx.rank == 0 else None}

    def load(
        self, wrapped: nn.Module, optimizer: torch.optim.Optimizer, shards: Callable[[], Iterator[dict[str, Any]]], ctx: DistContext
    ) -> None:
        flat: dict[str, Any] = {}
        groups = None
        for shard in shards():
            flat.update(shard["tensors"])
            if shard["param_groups"] is not None:
                groups = shard["param_groups"]
        model_state, optim_state = _unflatten(flat, groups)
        wrapped.module.load_state_dict(model_state)  # type: ignore[attr-defined]
        optimizer.load_state_dict(optim_state)

    def needs_same_world(self) -> bool:
        return False

    def full_state(self, wrapped: nn.Module, ctx: DistContext) -> dict[str, torch.Tensor] | None:
        if not ctx.is_main:
            return None
        return {k: v.detach().cpu() for k, v in wrapped.module.state_dict().items()}  # type: ignore[attr-defined]


class Fsdp:
    name = "FSDP"

    def __init__(self) -> None:
        try:
            from torch.distributed import fsdp  # noqa: F401
        except Exception as error:  # torch builds without it, or where it cannot import
            raise StrategyError(f"TRAINING_STRATEGY=FSDP: torch.distributed.fsdp cannot be imported here: {error}") from error

    def wrap(self, model: nn.Module, cfg: TrainConfig, ctx: DistContext) -> nn.Module:
        from torch.distributed.fsdp import FullyShardedDataParallel, MixedPrecision, ShardingStrategy
        from torch.distributed.fsdp.wrap import transformer_auto_wrap_policy

        layers = block_classes(model)
        if not layers:
            raise StrategyError("FSDP: the model names no transformer layer class to shard by")
        policy = functools.partial(transformer_auto_wrap_policy, transformer_layer_cls=layers)
        bf16 = cfg.precision == "bf16"
        mp = MixedPrecision(param_dtype=torch.bfloat16, reduce_dtype=torch.bfloat16, buffer_dtype=torch.bfloat16) if bf16 else None
        wrapped = FullyShardedDataParallel(
            model.float(),
            auto_wrap_policy=policy,
            sharding_strategy=ShardingStrategy.FULL_SHARD,
            mixed_precision=mp,
            device_id=ctx.device if ctx.device.type == "cuda" else None,
            limit_all_gathers=True,
        )
        if cfg.activation_checkpointing:
            from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import (
                CheckpointImpl,
                apply_activation_checkpointing,
                checkpoint_wrapper,
            )

            apply_activation_checkpointing(
                wrapped,
                checkpoint_wrapper_fn=functools.partial(checkpoint_wrapper, checkpoint_impl=CheckpointImpl.NO_REENTRANT),
                check_fn=lambda m: isinstance(m, tuple(layers)),
            )
        return wrapped

    def autocast(self, cfg: TrainConfig, ctx: DistContext) -> ContextManager[Any]:
        return contextlib.nullcontext()  # MixedPrecision casts inside FSDP

    def no_sync(self, wrapped: nn.Module) -> ContextManager[Any]:
        return wrapped.no_sync()  # type: ignore[operator]

    def clip(self, wrapped: nn.Module, max_norm: float) -> None:
        if max_norm > 0:
            wrapped.clip_grad_norm_(max_norm)  # type: ignore[operator]

    def shard(self, wrapped: nn.Module, optimizer: torch.optim.Optimizer, ctx: DistContext) -> dict[str, Any]:
        # Outside forward and backward, an FSDP module's parameters are this rank's flat shards.
        return {
            "flat_params": [p.detach().cpu().clone() for p in wrapped.parameters()],
            "optimizer": optimizer.state_dict(),
        }

    def load(
        self, wrapped: nn.Module, optimizer: torch.optim.Optimizer, shards: Callable[[], Iterator[dict[str, Any]]], ctx: DistContext
    ) -> None:
        mine = next(shards())
        with torch.no_grad():
            for p, saved in zip(wrapped.parameters(), mine["flat_params"], strict=True):
                p.copy_(saved.to(p.device))
        optimizer.load_state_dict(mine["optimizer"])

    def needs_same_world(self) -> bool:
        return True

    def full_state(self, wrapped: nn.Module, ctx: DistContext) -> dict[str, torch.Tensor] | None:
        from torch.distributed.fsdp import FullStateDictConfig, FullyShardedDataParallel, StateDictType

        config = FullStateDictConfig(offload_to_cpu=True, rank0_only=True)
        with FullyShardedDataParallel.state_dict_type(wrapped, StateDictType.FULL_STATE_DICT, config):
            state = wrapped.state_dict()
        return state if ctx.is_main else None


def _checkpoint_activations(model: nn.Module) -> None:
    if isinstance(model, TinyCausalLM):
        model.activation_checkpointing = True
    elif hasattr(model, "gradient_checkpointing_enable"):
        model.gradient_checkpointing_enable()


def make_strategy(name: str) -> Ddp | Fsdp:
    return Ddp() if name == "DDP" else Fsdp()
