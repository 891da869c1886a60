"""The job's configuration file (configs/<model>.yaml): read strictly, every error naming its field."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Union


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class CheckpointConfig:
    # An int, or "auto": the Young/Daly interval from the measured checkpoint cost (see interval.py).
    every_steps: Union[int, str]
    # With "auto": the interval used until the first checkpoint's cost has been measured.
    first_every_steps: int
    # Expected time between failures of the whole job (all its nodes), in hours.
    mtbf_hours: float
    # Complete checkpoints kept; older ones are deleted once a newer one is complete.
    keep: int


@dataclass(frozen=True)
class StragglerConfig:
    ratio: float
    windows: int
    window_steps: int


@dataclass(frozen=True)
class TinyModelConfig:
    vocab_size: int
    d_model: int
    layers: int
    heads: int


@dataclass(frozen=True)
class TrainConfig:
    model: str
    base_format: str
    seed: int
    max_seq_len: int
    micro_batch_size: int
    grad_accum_steps: int
    max_steps: int
    learning_rate: float
    weight_decay: float
    warmup_steps: int
    grad_clip: float
    precision: str
    activation_checkpointing: bool
    collective_timeout_s: float
    log_every_steps: int
    checkpoint: CheckpointConfig
    stragglers: StragglerConfig
    tiny: Union[TinyModelConfig, None]


_FORMATS = ("hf", "tiny")
_PRECISIONS = ("bf16", "fp32")


class _Reader:
    def __init__(self, source: str, data: Any, prefix: str) -> None:
        self.source = source
        self.prefix = prefix
        if not isinstance(data, Mapping):
            raise self.error("", "must be a mapping")
        self.data = dict(data)
        self.used: set[str] = set()

    def error(self, name: str, message: str) -> ConfigError:
        field = f"{self.prefix}{name}" if name else (self.prefix.rstrip(".") or "(top level)")
        return ConfigError(f"training config {self.source}: {field}: {message}")

    def raw(self, name: str, default: Any = ...) -> Any:
        self.used.add(name)
        if name not in self.data:
            if default is ...:
                raise self.error(name, "is required")
            return default
        return self.data[name]

    def integer(self, name: str, minimum: int, default: Any = ...) -> int:
        value = self.raw(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(name, f"must be an integer, got {value!r}")
        if value < minimum:
            raise self.error(name, f"must be >= {minimum}, got {value}")
        return value

    def number(self, name: str, minimum: float, default: Any = ..., exclusive: bool = False) -> float:
        value = self.raw(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(name, f"must be a number, got {value!r}")
        if value < minimum or (exclusive and value == minimum):
            raise self.error(name, f"must be {'>' if exclusive else '>='} {minimum}, got {value}")
        return float(value)

    def choice(self, name: str, options: tuple[str, ...], default: Any = ...) -> str:
        value = self.raw(name, default)
        if value not in options:
            raise self.error(name, f"must be one of {', '.join(options)}, got {value!r}")
        return value

    def boolean(self, name: str, default: Any = ...) -> bool:
        value = self.raw(name, default)
        if not isinstance(value, bool):
            raise self.error(name, f"must be true or false, got {value!r}")
        return value

    def text(self, name: str) -> str:
        value = self.raw(name)
        if not isinstance(value, str) or value.strip() == "":
            raise self.error(name, f"must be a non-empty string, got {value!r}")
        return value

    def child(self, name: str, default: Any = ...) -> "_Reader | None":
        value = self.raw(name, default)
        if value is None:
            return None
        return _Reader(self.source, value, f"{self.prefix}{name}.")

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.error(unknown[0], "is not a known field")


def parse_config(data: Any, source: str = "(inline)") -> TrainConfig:
    top = _Reader(source, data, "")
    model = top.text("model")
    base_format = top.choice("base_format", _FORMATS)
    ck = top.child("checkpoint")
    assert ck is not None
    every = ck.raw("every_steps")
    if every != "auto" and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
        raise ck.error("every_steps", f'must be an integer >= 1 or "auto", got {every!r}')
    checkpoint = CheckpointConfig(
        every_steps=every,
        first_every_steps=ck.integer("first_every_steps", 1, 50),
        mtbf_hours=ck.number("mtbf_hours", 0.0, 24.0, exclusive=True),
        keep=ck.integer("keep", 1, 2),
    )
    ck.done()
    st = top.child("stragglers", {})
    assert st is not None
    stragglers = StragglerConfig(
        ratio=st.number("ratio", 1.0, 1.5, exclusive=True),
        windows=st.integer("windows", 1, 3),
        window_steps=st.integer("window_steps", 1, 20),
    )
    st.done()
    tiny_reader = top.child("tiny", None)
    tiny = None
    if tiny_reader is not None:
        tiny = TinyModelConfig(
            vocab_size=tiny_reader.integer("vocab_size", 260),
            d_model=tiny_reader.integer("d_model", 1),
            layers=tiny_reader.integer("layers", 1),
            heads=tiny_reader.integer("heads", 1),
        )
        tiny_reader.done()
        if tiny.d_model % tiny.heads != 0:
            raise tiny_reader.error("heads", f"must divide d_model ({tiny.d_model}), got {tiny.heads}")
    if base_format == "tiny" and tiny is None:
        raise top.error("tiny", "is required when base_format is tiny")
    config = TrainConfig(
        model=model,
        base_format=base_format,
        seed=top.integer("seed", 0),
        max_seq_len=top.integer("max_seq_len", 8),
        micro_batch_size=top.integer("micro_batch_size", 1),
        grad_accum_steps=top.integer("grad_accum_steps", 1),
        max_steps=top.integer("max_steps", 1),
        learning_rate=top.number("learning_rate", 0.0, exclusive=True),
        weight_decay=top.number("weight_decay", 0.0, 0.0),
        warmup_steps=top.integer("warmup_steps", 0, 0),
        grad_clip=top.number("grad_clip", 0.0, 1.0),
        precision=top.choice("precision", _PRECISIONS, "bf16"),
        activation_checkpointing=top.boolean("activation_checkpointing", True),
        collective_timeout_s=top.number("collective_timeout_s", 0.0, 1800.0, exclusive=True),
        log_every_steps=top.integer("log_every_steps", 1, 10),
        checkpoint=checkpoint,
        stragglers=stragglers,
        tiny=tiny,
    )
    top.done()
    return config


def load_yaml_text(text: str, source: str) -> Any:
    """YAML through PyYAML when it is installed; without it, only JSON (which is YAML) is read."""
    try:
        import yaml  # type: ignore[import-not-found]
    except ImportError:
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(
                f"training config {source}: PyYAML is not installed and the file is not JSON: {error}"
            ) from error
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"training config {source}: not valid YAML: {error}") from error


def load_config(path: Union[str, Path]) -> TrainConfig:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"training config {p}: cannot be read: {error.strerror}") from error
    return parse_config(load_yaml_text(text, str(p)), str(p))
