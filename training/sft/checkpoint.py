"""Sharded checkpoints, written atomically, and the resume from the newest complete one.

Layout under the checkpoint folder (on the job's output, which outlives any node):

  step-00000040/                    the state after 40 optimizer steps
    shard-00000-of-00002.pt         one file per rank, written by that rank
    shard-00001-of-00002.pt
    manifest.json                   step, strategy, world size, every shard's size and SHA-256

A checkpoint is written under `.tmp-step-...`; each rank writes and fsyncs its shard and hashes
the bytes it reads back; rank 0 gathers the hashes, writes the manifest (itself under a temporary
name, then renamed), and renames the folder. The manifest is the completion marker: a folder
without one, with a shard missing, of the wrong size or with the wrong hash is not a checkpoint,
and the resume says so and takes the one before it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from .dist import DistContext, all_gather_object, barrier, broadcast_object

log = logging.getLogger("sft")
MANIFEST = "manifest.json"
FORMAT = 1


def step_dir_name(step: int) -> str:
    return f"step-{step:08d}"


def shard_name(rank: int, world: int) -> str:
    return f"shard-{rank:05d}-of-{world:05d}.pt"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(8 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some mounts (blobfuse) do not fsync folders; the manifest still marks completion
    finally:
        os.close(fd)


def verify(folder: Path, rank_subset: Callable[[int], bool] = lambda i: True) -> tuple[dict[str, Any] | None, str]:
    """(manifest, "") when the folder is a complete checkpoint, else (None, why not).

    rank_subset picks the shards this caller hashes (ranks share the work); sizes are checked for all.
    """
    path = folder / MANIFEST
    if not path.exists():
        return None, "no manifest (the write did not finish)"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        shards = manifest["shards"]
        if manifest.get("format") != FORMAT or not isinstance(shards, list):
            return None, "manifest of an unknown format"
    except (OSError, ValueError, KeyError, TypeError) as error:
        return None, f"unreadable manifest ({error})"
    for i, shard in enumerate(shards):
        file = folder / shard["file"]
        if not file.exists():
            return None, f"{shard['file']} is missing"
        size = file.stat().st_size
        if size != shard["bytes"]:
            return None, f"{shard['file']} has {size} bytes, the manifest says {shard['bytes']} (truncated?)"
        if rank_subset(i) and sha256_file(file) != shard["sha256"]:
            return None, f"{shard['file']} does not match its SHA-256 (corrupted)"
    return manifest, ""


class CheckpointStore:
    def __init__(self, root: Path, ctx: DistContext, keep: int) -> None:
        self.root = root
        self.ctx = ctx
        self.keep = keep

    def candidates(self) -> list[Path]:
        if not self.root.exists():
            return []
        found = [p for p in self.root.iterdir() if p.is_dir() and p.name.startswith("step-")]
        return sorted(found, key=lambda p: p.name, reverse=True)

    def save(self, step: int, state: dict[str, Any], meta: dict[str, Any]) -> float:
        """Writes the checkpoint of `step` completed steps; returns the seconds it took (the cost)."""
        started = time.monotonic()
        ctx = self.ctx
        final = self.root / step_dir_name(step)
        tmp = self.root / f".tmp-{step_dir_name(step)}"
        if ctx.is_main:
            self.root.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
        barrier(ctx, f"checkpoint {step}: create folder")
        file = tmp / shard_name(ctx.rank, ctx.world_size)
        with file.open("wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        entry = {"file": file.name, "rank": ctx.rank, "bytes": file.stat().st_size, "sha256": sha256_file(file)}
        entries = all_gather_object(ctx, f"checkpoint {step}: gather shard hashes", entry)
        if ctx.is_main:
            manifest = {
                "format": FORMAT,
                "step": step,
                "world_size": ctx.world_size,
                "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                **meta,
                "shards": sorted(entries, key=lambda e: e["rank"]),
            }
            part = tmp / f"{MANIFEST}.part"
            with part.open("w", encoding="utf-8") as f:
                json.dump(manifest, f, indent=1)
                f.flush()
                os.fsync(f.fileno())
            part.rename(tmp / MANIFEST)
            _fsync_dir(tmp)
            if final.exists():
                shutil.rmtree(final)
            tmp.rename(final)
            _fsync_dir(self.root)
            self._prune()
        barrier(ctx, f"checkpoint {step}: complete")
        return time.monotonic() - started

    def _prune(self) -> None:
        complete = [p for p in self.candidates() if (p / MANIFEST).exists()]
        for old in complete[self.keep :]:
            shutil.rmtree(old, ignore_errors=True)

    def newest_complete(self, strategy: str, need_same_world: bool) -> tuple[Path, dict[str, Any]] | None:
        """The newest checkpoint every rank verified, its hashing shared among the ranks."""
        ctx = self.ctx
        names = broadcast_object(ctx, "resume: list checkpoints", [p.name for p in self.candidates()])
        for name in names:
            folder = self.root / name
            mine = lambda i: i % ctx.world_size == ctx.rank  # noqa: E731
            manifest, why = verify(folder, mine)
            if manifest is not None and manifest.get("strategy") != strategy:
                manifest, why = None, f"written by {manifest.get('strategy')}, this job runs {strategy}"
            if manifest is not None and need_same_world and manifest["world_size"] != ctx.world_size:
                manifest, why = None, f"written by {manifest['world_size']} ranks, this job has {ctx.world_size} ({strategy} shards by rank)"
            verdicts = all_gather_object(ctx, "resume: verify checkpoint", why)
            problem = next((v for v in verdicts if v), "")
            if not problem and manifest is not None:
                return folder, manifest
            if ctx.is_main:
                log.warning("checkpoint %s skipped: %s; trying the one before it", folder, problem)
        return None

    def shards(self, folder: Path, manifest: dict[str, Any], own_only: bool) -> Callable[[], Iterator[dict[str, Any]]]:
        def read() -> Iterator[dict[str, Any]]:
            for shard in manifest["shards"]:
                if own_only and shard["rank"] != self.ctx.rank:
                    continue
                with (folder / shard["file"]).open("rb") as f:
                    yield torch.load(f, map_location="cpu")

        return read

    def remove_all(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
