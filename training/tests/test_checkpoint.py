"""Checkpoints in one process: written whole or not at all, and a damaged one skipped for the one before."""

import json
import logging
from pathlib import Path

import torch

from sft.checkpoint import MANIFEST, CheckpointStore, verify
from sft.dist import DistContext

CTX = DistContext(rank=0, world_size=1, local_rank=0, local_world_size=1, backend="gloo", device=torch.device("cpu"), timeout_s=5)


def save(store: CheckpointStore, step: int) -> None:
    store.save(step, {"weights": torch.full((1000,), float(step))}, {"strategy": "DDP", "model": "m"})


def test_write_then_find_the_newest(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path, CTX, keep=2)
    for step in (4, 8, 12):
        save(store, step)
    assert [p.name for p in store.candidates()] == ["step-00000012", "step-00000008"]  # keep=2
    assert not list(tmp_path.glob(".tmp-*"))
    folder, manifest = store.newest_complete("DDP", need_same_world=False)
    assert folder.name == "step-00000012" and manifest["step"] == 12
    shard = next(store.shards(folder, manifest, own_only=False)())
    assert torch.equal(shard["weights"], torch.full((1000,), 12.0))
    assert len(manifest["shards"][0]["sha256"]) == 64


def test_corrupted_checkpoint_is_skipped_with_a_log_line(tmp_path: Path, caplog) -> None:
    store = CheckpointStore(tmp_path, CTX, keep=3)
    save(store, 4)
    save(store, 8)
    shard = tmp_path / "step-00000008" / "shard-00000-of-00001.pt"
    raw = bytearray(shard.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # same size, one byte flipped
    shard.write_bytes(bytes(raw))
    with caplog.at_level(logging.WARNING, logger="sft"):
        folder, _ = store.newest_complete("DDP", need_same_world=False)
    assert folder.name == "step-00000004"
    assert "step-00000008 skipped: shard-00000-of-00001.pt does not match its SHA-256 (corrupted)" in caplog.text


def test_truncated_and_unfinished_checkpoints_are_skipped(tmp_path: Path, caplog) -> None:
    store = CheckpointStore(tmp_path, CTX, keep=5)
    save(store, 4)
    save(store, 8)
    save(store, 12)
    shard = tmp_path / "step-00000012" / "shard-00000-of-00001.pt"
    shard.write_bytes(shard.read_bytes()[:100])
    (tmp_path / "step-00000008" / MANIFEST).unlink()  # as if the writer died before the marker
    (tmp_path / ".tmp-step-00000016").mkdir()  # a write in progress is never a candidate
    with caplog.at_level(logging.WARNING, logger="sft"):
        folder, _ = store.newest_complete("DDP", need_same_world=False)
    assert folder.name == "step-00000004"
    assert "has 100 bytes, the manifest says" in caplog.text
    assert "step-00000008 skipped: no manifest (the write did not finish)" in caplog.text


def test_a_checkpoint_of_another_strategy_or_world_is_not_resumed(tmp_path: Path, caplog) -> None:
    store = CheckpointStore(tmp_path, CTX, keep=5)
    save(store, 4)
    with caplog.at_level(logging.WARNING, logger="sft"):
        assert store.newest_complete("FSDP", need_same_world=True) is None
    assert "written by DDP, this job runs FSDP" in caplog.text
    manifest_path = tmp_path / "step-00000004" / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "strategy": "FSDP", "world_size": 8}))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sft"):
        assert store.newest_complete("FSDP", need_same_world=True) is None
    assert "written by 8 ranks, this job has 1" in caplog.text
    manifest_ok, why = verify(tmp_path / "step-00000004")
    assert manifest_ok is not None and why == ""
