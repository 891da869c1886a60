"""Two ranks on gloo, as Azure ML starts them: training, kill and resume, damaged checkpoints, timeouts."""

import json
import math
import time
from pathlib import Path

import torch

from conftest import TRAINING, launch, tiny_config, tracking

DDP = {"TRAINING_STRATEGY": "DDP"}


def train_args(cfg: Path, data: Path, out: Path, ckpts: Path) -> list[str]:
    return ["--config", str(cfg), "--data", str(data), "--output", str(out), "--checkpoints", str(ckpts)]


def weights(out: Path) -> dict[str, torch.Tensor]:
    return torch.load(out / "model" / "pytorch_model.bin")


def test_two_ranks_train_with_the_named_strategy_and_write_an_mlflow_model(tmp_path: Path, data_dir: Path) -> None:
    cfg = tiny_config(tmp_path / "cfg.json", max_steps=16)
    out = tmp_path / "out"
    track = tmp_path / "track.jsonl"
    lineage = {"MODEL_NAME": "tiny-test", "MODEL_VERSION": "3", "CODE_COMMIT": "abc123", "COMPUTE_SKU": "cpu-test"}
    job = launch(["--config", str(cfg), "--data", str(data_dir), "--output", str(out)], 2, tmp_path / "logs", {**DDP, **lineage, "TRAINING_TRACKING_FILE": str(track)})
    assert job.wait() == [0, 0], job.text()
    records = tracking(track)
    params = next(r["values"] for r in records if r["type"] == "params")
    assert params["strategy"] == "DDP" and params["wrapper"] == "DistributedDataParallel"
    assert params["world_size"] == "2" and params["backend"] == "gloo"
    tags = next(r["values"] for r in records if r["type"] == "tags")
    assert tags["codeCommit"] == "abc123" and tags["modelVersion"] == "3" and tags["computeSku"] == "cpu-test"
    assert "evaluation" not in tags and tags["nodeCount"] == "1" and len(tags["trainingDataFingerprint"]) == 16
    losses = [r["values"]["loss"] for r in records if r["type"] == "metrics" and "loss" in r["values"]]
    assert len(losses) == 16
    assert sum(losses[-3:]) / 3 < 0.8 * sum(losses[:3]) / 3, losses
    assert records[-1] == {**records[-1], "type": "end", "status": "completed"}
    assert "strategy DDP: DistributedDataParallel on cpu, 2 ranks" in job.text()
    mlmodel = (out / "MLmodel").read_text()
    assert "artifact_path: model" in mlmodel and "model_binary: model" in mlmodel
    assert set(weights(out)) >= {"embed.weight", "head.weight"}
    assert not (out / "checkpoints").exists()  # checkpoints inside the output are removed once the model is written


def test_killed_mid_run_resumes_to_the_same_weights(tmp_path: Path, data_dir: Path) -> None:
    cfg = tiny_config(tmp_path / "cfg.json", max_steps=60, checkpoint={"every_steps": 10, "keep": 2})
    whole = launch(train_args(cfg, data_dir, tmp_path / "whole", tmp_path / "ck-whole"), 2, tmp_path / "logs", DDP)
    killed = launch(train_args(cfg, data_dir, tmp_path / "resumed", tmp_path / "ck"), 2, tmp_path / "logs", DDP)
    marker = tmp_path / "ck" / "step-00000020" / "manifest.json"
    deadline = time.monotonic() + 90
    while not marker.exists() and time.monotonic() < deadline and killed.procs[0].poll() is None:
        time.sleep(0.005)
    killed.kill()
    assert marker.exists(), killed.text()
    assert [p.returncode for p in killed.procs] == [-9, -9], "the run ended before it could be killed"
    assert not (tmp_path / "resumed" / "MLmodel").exists()
    assert whole.wait() == [0, 0], whole.text()
    again = launch(train_args(cfg, data_dir, tmp_path / "resumed", tmp_path / "ck"), 2, tmp_path / "logs", DDP)
    assert again.wait() == [0, 0], again.text()
    text = again.text()
    assert "resumed from" in text and "of 60 steps done" in text
    resumed_at = int(text.split("resumed from ")[1].split("step-")[1][:8])
    assert 20 <= resumed_at < 60
    a, b = weights(tmp_path / "whole"), weights(tmp_path / "resumed")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed run ended with different weights"


def test_a_corrupted_newest_checkpoint_is_skipped_for_the_one_before(tmp_path: Path, data_dir: Path) -> None:
    cfg = tiny_config(tmp_path / "cfg.json", max_steps=8, checkpoint={"every_steps": 4, "keep": 3})
    first = launch(train_args(cfg, data_dir, tmp_path / "out", tmp_path / "ck"), 2, tmp_path / "logs", DDP)
    assert first.wait() == [0, 0], first.text()
    shard = tmp_path / "ck" / "step-00000008" / "shard-00001-of-00002.pt"
    raw = bytearray(shard.read_bytes())
    raw[-10] ^= 0x55
    shard.write_bytes(bytes(raw))
    # The same job restarted (with more steps to go): step 8's shard fails its hash, step 4 is used.
    again = launch(train_args(cfg, data_dir, tmp_path / "out", tmp_path / "ck") + ["--max-steps", "10"], 2, tmp_path / "logs", DDP)
    assert again.wait() == [0, 0], again.text()
    text = again.text()
    assert "step-00000008 skipped: shard-00001-of-00002.pt does not match its SHA-256 (corrupted)" in text
    assert "step-00000004: 4 of 10 steps done" in text


def test_an_unknown_strategy_is_refused(tmp_path: Path, data_dir: Path) -> None:
    cfg = tiny_config(tmp_path / "cfg.json")
    job = launch(train_args(cfg, data_dir, tmp_path / "out", tmp_path / "ck"), 1, tmp_path / "logs", {"TRAINING_STRATEGY": "ZeRO"})
    assert job.wait() == [1]
    assert "TRAINING_STRATEGY must be DDP or FSDP, got 'ZeRO'" in job.text()


def test_a_hung_rank_times_out_with_a_clear_error(tmp_path: Path) -> None:
    job = launch(["2", "20"], 2, tmp_path / "logs", script=TRAINING / "tests" / "hang_worker.py")
    started = time.monotonic()
    code0 = job.procs[0].wait(timeout=60)
    elapsed = time.monotonic() - started
    job.kill()
    text = job.text()
    assert code0 == 3, text
    assert "the test's barrier did not complete within 2 s (collective_timeout_s): another rank is hung or gone" in text
    assert elapsed < 15, f"rank 0 waited {elapsed:.0f} s"


def test_auto_interval_follows_the_measured_checkpoint_cost(tmp_path: Path, data_dir: Path) -> None:
    mtbf_hours = 0.001
    cfg = tiny_config(tmp_path / "cfg.json", max_steps=40, checkpoint={"every_steps": "auto", "first_every_steps": 5, "mtbf_hours": mtbf_hours, "keep": 50})
    track = tmp_path / "track.jsonl"
    job = launch(train_args(cfg, data_dir, tmp_path / "out", tmp_path / "ck"), 1, tmp_path / "logs", {**DDP, "TRAINING_TRACKING_FILE": str(track)})
    assert job.wait() == [0], job.text()
    assert "MTBF 0.0 h" in job.text() and "checkpoint cost" in job.text()
    decisions = [(r["step"], r["values"]) for r in tracking(track) if r["type"] == "metrics" and "checkpoint_interval_steps" in r["values"]]
    assert decisions
    expected_steps = [5]
    for step, v in decisions:
        # Young/Daly on what the job measured: round(sqrt(2 C M) / step time), at least 1.
        tau = math.sqrt(2 * v["checkpoint_interval_cost_seconds"] * mtbf_hours * 3600)
        assert v["checkpoint_interval_steps"] == max(1, round(tau / v["checkpoint_interval_step_seconds"]))
        assert step == expected_steps[-1]
        nxt = step + int(v["checkpoint_interval_steps"])
        expected_steps.append(min(nxt, 40))
    steps = sorted(int(p.name[5:]) for p in (tmp_path / "ck").iterdir() if p.name.startswith("step-"))
    assert steps == sorted(set(expected_steps))


def test_a_persistently_slow_rank_is_reported_as_a_straggler(tmp_path: Path, data_dir: Path) -> None:
    cfg = tiny_config(tmp_path / "cfg.json", max_steps=8, stragglers={"ratio": 1.5, "windows": 2, "window_steps": 2})
    track = tmp_path / "track.jsonl"
    env = {**DDP, "TRAINING_TRACKING_FILE": str(track), "SLOW_RANK": "1", "SLOW_SECONDS": "0.05"}
    job = launch(train_args(cfg, data_dir, tmp_path / "out", tmp_path / "ck"), 2, tmp_path / "logs", env, script=TRAINING / "tests" / "slow_rank.py")
    assert job.wait() == [0, 0], job.text()
    text = job.text()
    assert "straggler: rank 1 compute" in text
    assert "straggler: rank 0" not in text
    metrics = [r for r in tracking(track) if r["type"] == "metrics"]
    counts = [r["values"]["stragglers"] for r in metrics if "stragglers" in r["values"]]
    # Four windows of two steps: one slow window is not yet persistent; by the last it is.
    assert len(counts) == 4 and counts[0] == 0.0 and counts[-1] == 1.0 and max(counts) == 1.0
    assert any("straggler_rank_1" in r["values"] for r in metrics)
