"""Helpers: synthetic JSONL data, a tiny config, and a launcher that starts one process per rank
with the environment Azure ML's PyTorch distribution sets."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

TRAINING = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TRAINING))
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_data(folder: Path, n: int = 48) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    half = n // 2
    with (folder / "part-0000.jsonl").open("w") as f:
        for i in range(half):
            f.write(json.dumps({"prompt": f"echo {i % 7}: ", "completion": f"{i % 7}{i % 7}{i % 7}"}) + "\n")
    with (folder / "part-0001.jsonl").open("w") as f:
        for i in range(half, n):
            msg = [{"role": "user", "content": f"repeat {i % 5}"}, {"role": "assistant", "content": f"{i % 5} {i % 5}"}]
            f.write(json.dumps({"messages": msg}) + "\n")
    return folder


def tiny_config(path: Path, **overrides: Any) -> Path:
    cfg: dict[str, Any] = {
        "model": "tiny-test",
        "base_format": "tiny",
        "seed": 7,
        "max_seq_len": 32,
        "micro_batch_size": 4,
        "grad_accum_steps": 2,
        "max_steps": 12,
        "learning_rate": 0.003,
        "warmup_steps": 0,
        "grad_clip": 1.0,
        "precision": "fp32",
        "activation_checkpointing": False,
        "collective_timeout_s": 60,
        "log_every_steps": 1,
        "checkpoint": {"every_steps": 4, "keep": 3},
        "stragglers": {"ratio": 1.5, "windows": 2, "window_steps": 4},
        "tiny": {"vocab_size": 260, "d_model": 32, "layers": 2, "heads": 2},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    path.write_text(json.dumps(cfg))
    return path


def rank_env(rank: int, world: int, port: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_"))}
    env.update(
        {
            "RANK": str(rank),
            "WORLD_SIZE": str(world),
            "LOCAL_RANK": str(rank),
            "LOCAL_WORLD_SIZE": str(world),
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "OMP_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "CUDA_VISIBLE_DEVICES": "",
        }
    )
    env.update(extra or {})
    return env


class Job:
    def __init__(self, procs: list[subprocess.Popen[str]], logs: list[Path]) -> None:
        self.procs = procs
        self.logs = logs

    def wait(self, timeout: float = 120) -> list[int]:
        deadline = time.monotonic() + timeout
        codes = []
        for p in self.procs:
            try:
                codes.append(p.wait(timeout=max(0.1, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"job did not end within {timeout} s:\n{self.text()}")
        return codes

    def kill(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
        for p in self.procs:
            p.wait()

    def text(self) -> str:
        return "\n".join(f"--- rank {i}\n{log.read_text()}" for i, log in enumerate(self.logs))


def launch(args: list[str], world: int, logs_dir: Path, extra_env: dict[str, str] | None = None, script: Path | None = None) -> Job:
    port = free_port()
    logs_dir.mkdir(parents=True, exist_ok=True)
    procs, logs = [], []
    for rank in range(world):
        log = logs_dir / f"rank{rank}-{port}.log"
        out = log.open("w")
        procs.append(
            subprocess.Popen(
                [PYTHON, str(script or TRAINING / "train.py"), *args],
                env=rank_env(rank, world, port, extra_env),
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
        logs.append(log)
    return Job(procs, logs)


def tracking(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return write_data(tmp_path / "data")
