"""The model factory: the base model's Hugging Face layout inside its MLflow folder, or a tiny test model."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .config import TinyModelConfig, TrainConfig
from .data import ByteTokenizer, HfTokenizer

# Where a Hugging Face model sits inside an MLflow model folder: the transformers flavor of
# MLflow 2.x writes model/ (and components/tokenizer/); older Azure ML catalog models use data/model/.
_MODEL_DIRS = ("model", "data/model", ".")
_TOKENIZER_DIRS = ("components/tokenizer", "data/tokenizer", "tokenizer", "model", "data/model", ".")


class ModelError(ValueError):
    """A base model that cannot be loaded; the message names the folder and what is missing."""


class TinyBlock(nn.Module):
    def __init__(self, d_model: int, heads: int) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = nn.MultiheadAttention(d_model, heads, batch_first=True)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[1]
        mask = torch.triu(torch.ones(n, n, dtype=torch.bool, device=x.device), diagonal=1)
        h = self.ln1(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.mlp(self.ln2(x))


class TinyCausalLM(nn.Module):
    """A small decoder-only transformer, for the tests: no download, seconds on a CPU."""

    def __init__(self, cfg: TinyModelConfig, max_seq_len: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos = nn.Parameter(torch.zeros(max_seq_len, cfg.d_model))
        self.blocks = nn.ModuleList(TinyBlock(cfg.d_model, cfg.heads) for _ in range(cfg.layers))
        self.ln = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.activation_checkpointing = False
        nn.init.normal_(self.pos, std=1 / math.sqrt(cfg.d_model))

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(input_ids) + self.pos[: input_ids.shape[1]]
        for block in self.blocks:
            if self.activation_checkpointing and self.training:
                x = torch.utils.checkpoint.checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        return self.head(self.ln(x))


def block_classes(model: nn.Module) -> set[type]:
    """The transformer layer classes: FSDP wraps each, and activation checkpointing recomputes each."""
    if isinstance(model, TinyCausalLM):
        return {TinyBlock}
    names = set(getattr(model, "_no_split_modules", None) or [])
    return {type(m) for m in model.modules() if type(m).__name__ in names}


def logits_of(model: nn.Module, input_ids: torch.Tensor) -> torch.Tensor:
    out = model(input_ids)
    return out if isinstance(out, torch.Tensor) else out.logits


def find_dir(root: Path, candidates: tuple[str, ...], marker: str) -> Path | None:
    for rel in candidates:
        if (root / rel / marker).exists():
            return root / rel
    return None


def build(cfg: TrainConfig, base_model: str | None) -> tuple[nn.Module, Any, dict[str, Any]]:
    """(model, tokenizer, description) on CPU in fp32; the strategy moves and wraps it."""
    if cfg.base_format == "tiny":
        assert cfg.tiny is not None
        torch.manual_seed(cfg.seed)
        return TinyCausalLM(cfg.tiny, cfg.max_seq_len), ByteTokenizer(), {"kind": "tiny", **asdict(cfg.tiny)}
    if base_model is None:
        raise ModelError("--base-model is required when base_format is hf")
    root = Path(base_model)
    model_dir = find_dir(root, _MODEL_DIRS, "config.json")
    if model_dir is None:
        raise ModelError(
            f"base model {root}: no Hugging Face config.json in {', '.join(_MODEL_DIRS)} of the MLflow folder"
        )
    tok_dir = find_dir(root, _TOKENIZER_DIRS, "tokenizer_config.json") or model_dir
    try:
        import transformers  # type: ignore[import-not-found]
    except ImportError as error:
        raise ModelError("base_format hf needs the transformers package, which is not installed") from error
    # fp32 master weights: DDP computes in bf16 under autocast, FSDP through its MixedPrecision.
    model = transformers.AutoModelForCausalLM.from_pretrained(str(model_dir), torch_dtype=torch.float32)
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(tok_dir))
    model.config.use_cache = False
    return model, HfTokenizer(tokenizer), {"kind": "hf", "model_dir": str(model_dir), "tokenizer_dir": str(tok_dir), "precision": cfg.precision}


def tiny_config_json(model: TinyCausalLM) -> str:
    return json.dumps({"architecture": "TinyCausalLM", **asdict(model.cfg), "max_seq_len": model.pos.shape[0]})
