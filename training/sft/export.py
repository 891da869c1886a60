"""The job's output: an MLflow model folder (MLmodel file and model files) for the registration step."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .model import TinyCausalLM, tiny_config_json


def _mlmodel(flavors: dict[str, Any]) -> str:
    """The MLmodel file as YAML (JSON is YAML; PyYAML writes it when present)."""
    doc = {
        "artifact_path": "model",
        "flavors": flavors,
        "model_uuid": uuid.uuid4().hex,
        "utc_time_created": time.strftime("%Y-%m-%d %H:%M:%S.000000", time.gmtime()),
    }
    try:
        import yaml  # type: ignore[import-not-found]
    except ImportError:
        return json.dumps(doc, indent=2) + "\n"
    return yaml.safe_dump(doc, sort_keys=False)


def write_mlflow_model(output: Path, model: nn.Module, state: dict[str, torch.Tensor], tokenizer: Any, description: dict[str, Any]) -> Path:
    """Writes under output/.mlflow-model.tmp, then moves it into place, MLmodel last."""
    tmp = output / ".mlflow-model.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "model").mkdir(parents=True)
    if isinstance(model, TinyCausalLM):
        torch.save(state, tmp / "model" / "pytorch_model.bin")
        (tmp / "model" / "config.json").write_text(tiny_config_json(model), encoding="utf-8")
        flavors: dict[str, Any] = {
            "sft_tiny": {"model_binary": "model", "weights": "pytorch_model.bin", "torch_version": str(torch.__version__)}
        }
    else:
        # A Hugging Face model: its own layout, which MLflow's transformers flavor reads.
        import transformers  # type: ignore[import-not-found]

        if description.get("precision") == "bf16":
            # Served in bf16: half the bytes of the fp32 master weights trained.
            state = {k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in state.items()}
        model.save_pretrained(str(tmp / "model"), state_dict=state, safe_serialization=True)
        tokenizer.tok.save_pretrained(str(tmp / "components" / "tokenizer"))
        flavors = {
            "python_function": {"loader_module": "mlflow.transformers", "env": {"conda": "conda.yaml"}},
            "transformers": {
                "model_binary": "model",
                "components": ["tokenizer"],
                "framework": "pt",
                "task": "text-generation",
                "instance_type": "TextGenerationPipeline",
                "pipeline_model_type": type(model).__name__,
                "source_model_name": description.get("model_dir", ""),
                "torch_dtype": str(next(iter(state.values())).dtype) if state else "",
                "transformers_version": transformers.__version__,
            },
        }
    (tmp / "MLmodel").write_text(_mlmodel(flavors), encoding="utf-8")
    for entry in tmp.iterdir():
        target = output / entry.name
        if target.exists():
            shutil.rmtree(target) if target.is_dir() else target.unlink()
    for entry in sorted(tmp.iterdir(), key=lambda p: p.name == "MLmodel"):
        entry.rename(output / entry.name)
    tmp.rmdir()
    return output / "MLmodel"
