"""Lineage and metrics: MLflow when it is importable (on Azure ML, azureml-mlflow points it at the
workspace and the job is the run), a JSON-lines file when TRAINING_TRACKING_FILE names one, else
log lines only. Only rank 0 tracks."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger("sft")


class Tracker(Protocol):
    kind: str

    def params(self, values: dict[str, Any]) -> None: ...
    def tags(self, values: dict[str, str]) -> None: ...
    def metrics(self, values: dict[str, float], step: int) -> None: ...
    def end(self, status: str) -> None: ...


class MlflowTracker:
    kind = "mlflow"

    def __init__(self, mlflow: Any) -> None:
        self.mlflow = mlflow
        if mlflow.active_run() is None:
            mlflow.start_run()

    def params(self, values: dict[str, Any]) -> None:
        self.mlflow.log_params({k: str(v)[:500] for k, v in values.items()})

    def tags(self, values: dict[str, str]) -> None:
        self.mlflow.set_tags(values)

    def metrics(self, values: dict[str, float], step: int) -> None:
        self.mlflow.log_metrics(values, step=step)

    def end(self, status: str) -> None:
        self.mlflow.end_run(status="FINISHED" if status == "completed" else "FAILED")


class FileTracker:
    kind = "file"

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def _write(self, record: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"time": time.time(), **record}) + "\n")

    def params(self, values: dict[str, Any]) -> None:
        self._write({"type": "params", "values": {k: str(v) for k, v in values.items()}})

    def tags(self, values: dict[str, str]) -> None:
        self._write({"type": "tags", "values": values})

    def metrics(self, values: dict[str, float], step: int) -> None:
        self._write({"type": "metrics", "step": step, "values": values})

    def end(self, status: str) -> None:
        self._write({"type": "end", "status": status})


class LogTracker:
    kind = "log"

    def params(self, values: dict[str, Any]) -> None:
        log.info("params %s", json.dumps({k: str(v) for k, v in values.items()}))

    def tags(self, values: dict[str, str]) -> None:
        log.info("tags %s", json.dumps(values))

    def metrics(self, values: dict[str, float], step: int) -> None:
        pass  # the step log lines carry them

    def end(self, status: str) -> None:
        log.info("run %s", status)


class NullTracker:
    kind = "none"

    def params(self, values: dict[str, Any]) -> None: ...
    def tags(self, values: dict[str, str]) -> None: ...
    def metrics(self, values: dict[str, float], step: int) -> None: ...
    def end(self, status: str) -> None: ...


def make_tracker(is_main: bool, env: dict[str, str] | None = None) -> Tracker:
    e = os.environ if env is None else env
    if not is_main:
        return NullTracker()
    file = e.get("TRAINING_TRACKING_FILE")
    if file:
        return FileTracker(Path(file))
    try:
        import mlflow  # type: ignore[import-not-found]
    except ImportError:
        log.warning("mlflow is not installed: parameters, metrics and lineage go to the log only")
        return LogTracker()
    return MlflowTracker(mlflow)


def lineage_tags(env: dict[str, str], *, strategy: str, nodes: int, world: int, device: str, data_fingerprint: str) -> dict[str, str]:
    """The lineage of the model this job makes: code, data, base model, compute, the evaluation.

    On Azure ML the job is the MLflow run, so the tags the job was submitted with (codeCommit,
    evaluation, trainingDataName, ...) are already on it; a value the environment does not carry is
    left out here rather than written over with a blank.
    """
    from_env = {
        "model": "MODEL_NAME",
        "modelVersion": "MODEL_VERSION",
        "baseModel": "BASE_MODEL",
        "codeCommit": "CODE_COMMIT",
        "evaluation": "EVALUATION_ID",
        "trainingDataName": "TRAINING_DATA_NAME",
        "trainingDataVersion": "TRAINING_DATA_VERSION",
        "computeSku": "COMPUTE_SKU",
        "azuremlRunId": "AZUREML_RUN_ID",
    }
    tags = {tag: env[name] for tag, name in from_env.items() if env.get(name)}
    return {
        **tags,
        "trainingDataFingerprint": data_fingerprint,
        "strategy": strategy,
        "nodeCount": str(nodes),
        "worldSize": str(world),
        "device": device,
    }
