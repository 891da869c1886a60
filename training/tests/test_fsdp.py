"""FSDP on CPU, where the installed PyTorch can run it; otherwise skipped, with the reason.

Debian 12's python3-torch 1.13 cannot import torch.distributed.fsdp under Python 3.11 (a dataclass
in torch.distributed._shard has a mutable default), and FSDP in 1.13 needs CUDA in any case: this
test then reports itself skipped, never passed.
"""

from pathlib import Path

import pytest

from conftest import launch, tiny_config, tracking


def fsdp_unavailable() -> str | None:
    try:
        from torch.distributed.fsdp import FullyShardedDataParallel  # noqa: F401
    except Exception as error:  # noqa: BLE001 - any import failure is the reason
        return f"torch.distributed.fsdp cannot be imported with this PyTorch: {type(error).__name__}: {error}"
    return None


REASON = fsdp_unavailable()


def test_fsdp_import_failure_is_a_clear_error_when_unavailable(tmp_path: Path, data_dir: Path) -> None:
    if REASON is None:
        pytest.skip("FSDP imports here; the training test below covers it")
    cfg = tiny_config(tmp_path / "cfg.json")
    job = launch(["--config", str(cfg), "--data", str(data_dir), "--output", str(tmp_path / "out")], 1, tmp_path / "logs", {"TRAINING_STRATEGY": "FSDP"})
    assert job.wait() == [1]
    assert "TRAINING_STRATEGY=FSDP: torch.distributed.fsdp cannot be imported here" in job.text()


@pytest.mark.skipif(REASON is not None, reason=f"FSDP not run: {REASON}")
def test_two_ranks_train_with_fsdp_and_resume(tmp_path: Path, data_dir: Path) -> None:
    cfg = tiny_config(tmp_path / "cfg.json", max_steps=8, activation_checkpointing=True, checkpoint={"every_steps": 4, "keep": 3})
    args = ["--config", str(cfg), "--data", str(data_dir), "--output", str(tmp_path / "out"), "--checkpoints", str(tmp_path / "ck")]
    track = tmp_path / "track.jsonl"
    job = launch(args, 2, tmp_path / "logs", {"TRAINING_STRATEGY": "FSDP", "TRAINING_TRACKING_FILE": str(track)})
    assert job.wait() == [0, 0], job.text()
    params = next(r["values"] for r in tracking(track) if r["type"] == "params")
    assert params["strategy"] == "FSDP" and params["wrapper"] == "FullyShardedDataParallel"
    losses = [r["values"]["loss"] for r in tracking(track) if r["type"] == "metrics" and "loss" in r["values"]]
    assert losses[-1] < losses[0]
    assert (tmp_path / "out" / "MLmodel").exists()
    again = launch(args + ["--max-steps", "10"], 2, tmp_path / "logs", {"TRAINING_STRATEGY": "FSDP"})
    assert again.wait() == [0, 0], again.text()
    assert "step-00000008: 8 of 10 steps done" in again.text()
