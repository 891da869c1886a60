"""The SFT loop: resume, steps, checkpoints on the Young/Daly interval, stragglers, lineage, export."""

from __future__ import annotations

import argparse
import hashlib
import logging
import math
import os
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from . import data as data_mod
from .checkpoint import CheckpointStore
from .config import TrainConfig, load_config
from .dist import CollectiveTimeout, DistContext, all_gather_floats, guarded, init_distributed, mean_across, shutdown
from .export import write_mlflow_model
from .interval import expected_overhead, interval_steps, young_daly_seconds
from .model import build, logits_of
from .strategies import make_strategy, strategy_name
from .stragglers import StragglerDetector
from .tracking import lineage_tags, make_tracker

log = logging.getLogger("sft")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="train.py", description="Supervised fine-tuning for a failed quality gate")
    p.add_argument("--config", required=True, help="configs/<model>.yaml")
    p.add_argument("--data", required=True, help="the training data asset: a folder of JSONL shards")
    p.add_argument("--base-model", default=None, help="the base model: an MLflow model folder (Hugging Face layout inside)")
    p.add_argument("--output", required=True, help="the output folder: the MLflow model is written here")
    p.add_argument("--checkpoints", default=None, help="checkpoint folder (default: <output>/checkpoints)")
    p.add_argument("--max-steps", type=int, default=None, help="override the config's max_steps")
    return p.parse_args(argv)


def lr_at(cfg: TrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to 10%: a pure function of the step, so a resume agrees."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return cfg.learning_rate * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.max_steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def fingerprint(files: list[Path], root: Path) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.relative_to(root) if f != root else f.name}\0{f.stat().st_size}\n".encode())
    return h.hexdigest()[:16]


def setup_logging(rank: int) -> None:
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s rank {rank} %(levelname)s %(message)s",
        stream=sys.stderr,
        force=True,
    )


def run(argv: list[str], env: dict[str, str] | None = None) -> int:
    e = dict(os.environ if env is None else env)
    args = parse_args(argv)
    setup_logging(int(e.get("RANK", "0") or 0))
    cfg = load_config(args.config)
    if args.max_steps is not None:
        cfg = TrainConfig(**{**cfg.__dict__, "max_steps": args.max_steps})
    strategy = make_strategy(strategy_name(e))
    ctx = init_distributed(cfg.collective_timeout_s, e)
    try:
        return _train(cfg, args, e, strategy, ctx)
    except CollectiveTimeout as error:
        log.error("%s", error)
        return 3
    finally:
        shutdown()


def _train(cfg: TrainConfig, args: argparse.Namespace, e: dict[str, str], strategy: Any, ctx: DistContext) -> int:
    torch.manual_seed(cfg.seed)
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    ck_root = Path(args.checkpoints) if args.checkpoints else output / "checkpoints"
    model, tokenizer, description = build(cfg, args.base_model)
    files = data_mod.shard_files(args.data)
    examples = data_mod.read_examples(args.data)
    step_data = data_mod.StepData(
        [tokenizer.encode_example(x) for x in examples],
        seed=cfg.seed,
        world_size=ctx.world_size,
        micro_batch_size=cfg.micro_batch_size,
        grad_accum_steps=cfg.grad_accum_steps,
        max_seq_len=cfg.max_seq_len,
        pad_id=tokenizer.pad_id,
    )
    wrapped = strategy.wrap(model, cfg, ctx)
    log.info("strategy %s: %s on %s, %d ranks on %d nodes, backend %s", strategy.name, type(wrapped).__name__, ctx.device, ctx.world_size, ctx.nodes, ctx.backend)
    optimizer = torch.optim.AdamW(wrapped.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    store = CheckpointStore(ck_root, ctx, cfg.checkpoint.keep)
    start = 0
    found = store.newest_complete(strategy.name, strategy.needs_same_world())
    if found is not None:
        folder, manifest = found
        strategy.load(wrapped, optimizer, store.shards(folder, manifest, strategy.needs_same_world()), ctx)
        start = int(manifest["step"])
        log.info("resumed from %s: %d of %d steps done", folder, start, cfg.max_steps)
    else:
        log.info("no complete checkpoint in %s: starting at step 0", ck_root)

    tracker = make_tracker(ctx.is_main, e)
    device_name = torch.cuda.get_device_name(ctx.device) if ctx.device.type == "cuda" else "cpu"
    tracker.params({**{k: v for k, v in asdict(cfg).items() if not isinstance(v, dict)}, "strategy": strategy.name, "wrapper": type(wrapped).__name__, "world_size": ctx.world_size, "nodes": ctx.nodes, "backend": ctx.backend, "resumed_from_step": start, "examples": len(examples), "shards": len(files)})
    tracker.tags(lineage_tags(e, strategy=strategy.name, nodes=ctx.nodes, world=ctx.world_size, device=device_name, data_fingerprint=fingerprint(files, Path(args.data))))

    detector = StragglerDetector(ctx.world_size, cfg.stragglers.ratio, cfg.stragglers.windows)
    every = cfg.checkpoint.every_steps
    interval = every if isinstance(every, int) else cfg.checkpoint.first_every_steps
    mtbf_s = cfg.checkpoint.mtbf_hours * 3600
    last_ckpt = start
    window_compute: list[float] = []
    window_wall: list[float] = []
    wrapped.train()
    status = "failed"
    try:
        for step in range(start, cfg.max_steps):
            wall0 = time.monotonic()
            for group in optimizer.param_groups:
                group["lr"] = lr_at(cfg, step)
            compute, loss_sum, tokens = _step(cfg, strategy, wrapped, step_data, step, ctx)
            guarded(ctx, f"step {step}: gradient clipping", lambda: strategy.clip(wrapped, cfg.grad_clip))
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            done = step + 1
            loss = mean_across(ctx, f"step {step}: mean loss", loss_sum / max(1, tokens))
            window_compute.append(compute)
            window_wall.append(time.monotonic() - wall0)
            if ctx.is_main and (done % cfg.log_every_steps == 0 or done == cfg.max_steps):
                log.info("step %d/%d loss %.5f lr %.3g step_s %.3f", done, cfg.max_steps, loss, lr_at(cfg, step), window_wall[-1])
                tracker.metrics({"loss": loss, "lr": lr_at(cfg, step), "step_seconds": window_wall[-1]}, done)
            if len(window_compute) == cfg.stragglers.window_steps:
                times = all_gather_floats(ctx, f"step {step}: straggler times", sum(window_compute) / len(window_compute))
                slow = detector.observe(times)
                if ctx.is_main:
                    tracker.metrics({"stragglers": float(len(slow)), "compute_seconds_max_over_median": max(times) / max(1e-12, statistics.median(times))}, done)
                    for r in slow:
                        others = times[:r] + times[r + 1 :] or [times[r]]
                        log.warning("straggler: rank %d compute %.3f s per step, the other ranks' median %.3f s, %d windows running", r, times[r], statistics.median(others), detector.streak[r])
                        tracker.metrics({f"straggler_rank_{r}": times[r]}, done)
                mean_wall = sum(window_wall) / len(window_wall)
                window_compute, window_wall = [], []
            else:
                mean_wall = None
            if done == cfg.max_steps or done - last_ckpt >= interval:
                cost = store.save(done, strategy.shard(wrapped, optimizer, ctx), {"strategy": strategy.name, "model": cfg.model})
                last_ckpt = done
                if ctx.is_main:
                    tracker.metrics({"checkpoint_seconds": cost}, done)
                if every == "auto" and done < cfg.max_steps:
                    step_s = mean_wall if mean_wall is not None else (time.monotonic() - wall0 - cost)
                    # Every rank must agree on the interval: the slowest measurement counts.
                    measured = max(all_gather_floats(ctx, "checkpoint interval", cost))
                    step_s = max(all_gather_floats(ctx, "checkpoint interval", max(step_s, 1e-6)))
                    interval = interval_steps(measured, mtbf_s, step_s)
                    tau = young_daly_seconds(measured, mtbf_s)
                    if ctx.is_main:
                        log.info("checkpoint cost %.2f s, MTBF %.1f h, step %.3f s: every %d steps (%.0f s, overhead %.2f%%)", measured, cfg.checkpoint.mtbf_hours, step_s, interval, tau, 100 * expected_overhead(measured, mtbf_s, max(tau, 1e-9)))
                        tracker.metrics({"checkpoint_interval_steps": float(interval), "checkpoint_interval_cost_seconds": measured, "checkpoint_interval_step_seconds": step_s}, done)
        state = guarded(ctx, "final model: gather the weights", lambda: strategy.full_state(wrapped, ctx))
        if ctx.is_main:
            assert state is not None
            mlmodel = write_mlflow_model(output, model, state, tokenizer, description)
            log.info("model written: %s", mlmodel)
            if ck_root.resolve().is_relative_to(output.resolve()):
                store.remove_all()  # the registered model holds no optimizer state
        status = "completed"
        return 0
    finally:
        tracker.end(status)


def _step(cfg: TrainConfig, strategy: Any, wrapped: torch.nn.Module, step_data: data_mod.StepData, step: int, ctx: DistContext) -> tuple[float, float, int]:
    """One optimizer step's forward and backward passes; returns (local compute seconds, loss sum, tokens)."""
    compute = 0.0
    loss_sum, tokens = 0.0, 0
    batches = list(step_data.micro_batches(step, ctx.rank))
    total = sum(int((labels[:, 1:] != data_mod.IGNORE).sum()) for _, labels in batches)
    for k, (ids, labels) in enumerate(batches):
        ids, labels = ids.to(ctx.device), labels.to(ctx.device)
        last = k == len(batches) - 1
        t0 = time.monotonic()
        with (strategy.no_sync(wrapped) if not last else _null()):
            with strategy.autocast(cfg, ctx):
                logits = logits_of(wrapped, ids)
            target = labels[:, 1:]
            loss = F.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=data_mod.IGNORE, reduction="sum")
            forward = time.monotonic() - t0
            scaled = loss / max(1, total)
            if last:
                compute += forward
                guarded(ctx, f"step {step}: backward (gradient all-reduce)", scaled.backward)
            else:
                scaled.backward()
                compute += time.monotonic() - t0
        loss_sum += float(loss.detach())
        tokens += int((target != data_mod.IGNORE).sum())
    return compute, loss_sum, tokens


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *a: object) -> None:
        return None
