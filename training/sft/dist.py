"""The process group as Azure ML's PyTorch distribution starts it, and collectives that time out.

Azure ML starts one process per GPU and sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and
MASTER_PORT (and LOCAL_WORLD_SIZE, NODE_RANK). Backend: nccl on GPU, gloo on CPU. Every collective
runs under the process group's timeout, so a rank that hangs or dies makes the others fail with a
clear error instead of holding every GPU of the job until the job's own timeout.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, TypeVar

import torch
import torch.distributed as dist

log = logging.getLogger("sft")
T = TypeVar("T")


class CollectiveTimeout(RuntimeError):
    """A collective that did not complete within the timeout: another rank is hung or gone."""


@dataclass(frozen=True)
class DistContext:
    rank: int
    world_size: int
    local_rank: int
    local_world_size: int
    backend: str
    device: torch.device
    timeout_s: float

    @property
    def nodes(self) -> int:
        return max(1, self.world_size // max(1, self.local_world_size))

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_int(env: dict[str, str], name: str, default: int | None = None) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        if default is None:
            raise ValueError(f"environment: {name} is not set (Azure ML's PyTorch distribution sets it)")
        return default
    try:
        value = int(raw)
    except ValueError as error:
        raise ValueError(f"environment: {name} must be an integer, got {raw!r}") from error
    if value < 0:
        raise ValueError(f"environment: {name} must be >= 0, got {value}")
    return value


def init_distributed(timeout_s: float, env: dict[str, str] | None = None) -> DistContext:
    e = dict(os.environ if env is None else env)
    world = _env_int(e, "WORLD_SIZE", 1)
    rank = _env_int(e, "RANK", 0)
    local_rank = _env_int(e, "LOCAL_RANK", 0)
    local_world = _env_int(e, "LOCAL_WORLD_SIZE", world)
    if rank >= world:
        raise ValueError(f"environment: RANK {rank} must be < WORLD_SIZE {world}")
    cuda = torch.cuda.is_available()
    backend = "nccl" if cuda else "gloo"
    if cuda:
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
        # Without async error handling a hung NCCL collective never returns (torch < 2.2 reads the
        # unprefixed name, later versions the TORCH_ one).
        os.environ.setdefault("NCCL_ASYNC_ERROR_HANDLING", "1")
        os.environ.setdefault("TORCH_NCCL_ASYNC_ERROR_HANDLING", "1")
    else:
        device = torch.device("cpu")
    if world > 1 or not dist.is_initialized():
        os.environ.setdefault("MASTER_ADDR", e.get("MASTER_ADDR", "127.0.0.1"))
        os.environ.setdefault("MASTER_PORT", e.get("MASTER_PORT", "29500"))
        dist.init_process_group(
            backend=backend,
            init_method="env://",
            rank=rank,
            world_size=world,
            timeout=timedelta(seconds=timeout_s),
        )
    return DistContext(rank, world, local_rank, local_world, backend, device, timeout_s)


def is_timeout(error: BaseException) -> bool:
    text = str(error).lower()
    return "timed out" in text or "timeout" in text or "connection closed by peer" in text


def guarded(ctx: DistContext, what: str, fn: Callable[[], T]) -> T:
    """Runs a collective (or a step holding one); a timeout becomes a CollectiveTimeout naming it."""
    try:
        return fn()
    except RuntimeError as error:
        if isinstance(error, CollectiveTimeout) or not is_timeout(error):
            raise
        raise CollectiveTimeout(
            f"rank {ctx.rank}/{ctx.world_size}: {what} did not complete within {ctx.timeout_s:g} s "
            f"(collective_timeout_s): another rank is hung or gone; stopping the job instead of "
            f"holding its GPUs ({error})"
        ) from error


def barrier(ctx: DistContext, what: str) -> None:
    if ctx.world_size > 1:
        # A barrier as an all-reduce: gloo's and nccl's barriers do not all honour the timeout.
        t = torch.zeros(1, device=ctx.device)
        guarded(ctx, what, lambda: dist.all_reduce(t))


def all_gather_object(ctx: DistContext, what: str, obj: Any) -> list[Any]:
    if ctx.world_size == 1:
        return [obj]
    out: list[Any] = [None] * ctx.world_size
    guarded(ctx, what, lambda: dist.all_gather_object(out, obj))
    return out


def broadcast_object(ctx: DistContext, what: str, obj: Any) -> Any:
    if ctx.world_size == 1:
        return obj
    box = [obj]
    guarded(ctx, what, lambda: dist.broadcast_object_list(box, src=0))
    return box[0]


def all_gather_floats(ctx: DistContext, what: str, value: float) -> list[float]:
    if ctx.world_size == 1:
        return [value]
    t = torch.tensor([value], dtype=torch.float64, device=ctx.device)
    parts = [torch.zeros_like(t) for _ in range(ctx.world_size)]
    guarded(ctx, what, lambda: dist.all_gather(parts, t))
    return [float(p.item()) for p in parts]


def mean_across(ctx: DistContext, what: str, value: float) -> float:
    if ctx.world_size == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=ctx.device)
    guarded(ctx, what, lambda: dist.all_reduce(t))
    return float(t.item()) / ctx.world_size


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
