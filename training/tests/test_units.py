"""Pure parts: configuration, data, the checkpoint interval, the straggler rule, the strategy name."""

import json
from pathlib import Path

import pytest
import torch

from sft.config import ConfigError, load_config, parse_config
from sft.data import IGNORE, ByteTokenizer, DataError, StepData, read_examples
from sft.interval import expected_overhead, interval_steps, young_daly_seconds
from sft.strategies import StrategyError, strategy_name
from sft.stragglers import StragglerDetector

from conftest import TRAINING, tiny_config


def test_every_shipped_config_loads(tmp_path: Path) -> None:
    configs = sorted((TRAINING / "configs").glob("*.yaml"))
    assert configs, "no configs under training/configs"
    for path in configs:
        cfg = load_config(path)
        assert cfg.base_format == "hf"
        assert cfg.precision == "bf16"


def test_config_errors_name_the_field(tmp_path: Path) -> None:
    base = json.loads(tiny_config(tmp_path / "c.json").read_text())
    with pytest.raises(ConfigError, match=r"max_steps: must be >= 1, got 0"):
        parse_config({**base, "max_steps": 0})
    with pytest.raises(ConfigError, match=r"checkpoint\.every_steps: must be an integer >= 1 or \"auto\""):
        parse_config({**base, "checkpoint": {"every_steps": "often"}})
    with pytest.raises(ConfigError, match=r"learning_rat: is not a known field"):
        parse_config({**base, "learning_rat": 1})
    with pytest.raises(ConfigError, match=r"stragglers\.ratio: must be > 1"):
        parse_config({**base, "stragglers": {"ratio": 1}})
    with pytest.raises(ConfigError, match=r"tiny\.heads: must divide d_model \(32\)"):
        parse_config({**base, "tiny": {"vocab_size": 260, "d_model": 32, "layers": 1, "heads": 5}})
    missing = {k: v for k, v in base.items() if k != "model"}
    with pytest.raises(ConfigError, match=r": model: is required"):
        parse_config(missing)
    with pytest.raises(ConfigError, match=r"cannot be read"):
        load_config(tmp_path / "absent.yaml")


def test_data_reads_both_formats_and_masks_the_prompt(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(
        json.dumps({"prompt": "Q", "completion": "A"}) + "\n\n"
        + json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}) + "\n"
    )
    examples = read_examples(tmp_path)
    assert len(examples) == 2
    ids, labels = ByteTokenizer().encode_example(examples[0])
    assert ids == [257, ord("Q"), ord("A"), 258]
    assert labels == [IGNORE, IGNORE, ord("A"), 258]
    _, chat_labels = ByteTokenizer().encode_example(examples[1])
    learned = bytes(x for x in chat_labels if 0 <= x < 256)
    assert learned == b"yo"


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", r"b\.jsonl:1: not JSON"),
        (json.dumps({"messages": [{"role": "user", "content": "x"}]}), r"b\.jsonl:1: messages has no assistant turn"),
        (json.dumps({"messages": [{"role": "bot", "content": "x"}]}), r"messages\[0\] must have a role"),
        (json.dumps({"prompt": "x"}), r"needs messages, or a string prompt and a string completion"),
    ],
)
def test_bad_data_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    (tmp_path / "b.jsonl").write_text(line + "\n")
    with pytest.raises(DataError, match=message):
        read_examples(tmp_path)


def test_empty_data_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no .jsonl shards"):
        read_examples(tmp_path)


def test_data_order_is_a_function_of_step_and_rank() -> None:
    encoded = [([257, i % 200, 258], [IGNORE, i % 200, 258]) for i in range(10)]
    make = lambda: StepData(encoded, seed=3, world_size=2, micro_batch_size=2, grad_accum_steps=2, max_seq_len=8, pad_id=256)  # noqa: E731
    a, b = make(), make()
    steps = [a.indices(s, r) for s in range(6) for r in range(2)]
    # A fresh reader (a restarted job) asked for step 4 first sees the same examples.
    assert b.indices(4, 1) == a.indices(4, 1)
    assert steps == [b.indices(s, r) for s in range(6) for r in range(2)]
    # The two ranks of a step take different examples, and one epoch covers every example once.
    flat = [i for part in steps[:5] for i in part][:10]
    assert sorted(flat) == list(range(10))
    ids, labels = a.collate([encoded[0], ([257, 1, 2, 3, 4], [IGNORE, 1, 2, 3, 4])])
    assert ids.shape == (2, 5) and ids[0, 3].item() == 256 and labels[0, 3].item() == IGNORE


def test_young_daly_interval() -> None:
    # 60 s checkpoints, a failure a day: sqrt(2 x 60 x 86400) = 3220 s.
    assert young_daly_seconds(60, 86400) == pytest.approx(3219.94, rel=1e-4)
    assert interval_steps(60, 86400, 10) == 322
    assert interval_steps(0.001, 10, 100) == 1
    tau = young_daly_seconds(60, 86400)
    # The optimum: a shorter or longer interval costs more.
    assert expected_overhead(60, 86400, tau) < expected_overhead(60, 86400, tau / 2)
    assert expected_overhead(60, 86400, tau) < expected_overhead(60, 86400, tau * 2)
    with pytest.raises(ValueError, match="MTBF"):
        young_daly_seconds(1, 0)


def test_a_straggler_is_slow_for_consecutive_windows() -> None:
    d = StragglerDetector(4, ratio=1.5, windows=2)
    assert d.observe([1.0, 1.0, 1.1, 2.0]) == []
    assert d.observe([1.0, 1.0, 1.0, 1.0]) == []  # the streak is broken
    assert d.observe([1.0, 1.0, 1.0, 1.6]) == []
    assert d.observe([1.0, 1.1, 1.0, 1.7]) == [3]
    assert d.observe([1.0, 1.0, 1.0, 1.4]) == []
    with pytest.raises(ValueError, match="expected 4 rank times"):
        d.observe([1.0])


def test_strategy_name_from_the_environment() -> None:
    assert strategy_name({"TRAINING_STRATEGY": "DDP"}) == "DDP"
    assert strategy_name({"TRAINING_STRATEGY": "fsdp"}) == "FSDP"
    with pytest.raises(StrategyError, match="TRAINING_STRATEGY is not set"):
        strategy_name({})
    with pytest.raises(StrategyError, match="must be DDP or FSDP, got 'ZERO'"):
        strategy_name({"TRAINING_STRATEGY": "ZERO"})


def test_tiny_model_is_causal() -> None:
    from sft.config import TinyModelConfig
    from sft.model import TinyCausalLM

    torch.manual_seed(0)
    m = TinyCausalLM(TinyModelConfig(260, 16, 1, 2), 8).eval()
    x = torch.randint(0, 256, (1, 6))
    y = x.clone()
    y[0, 5] = (y[0, 5] + 1) % 256
    # Changing the last token changes no earlier position's logits.
    assert torch.allclose(m(x)[0, :5], m(y)[0, :5])
    assert not torch.allclose(m(x)[0, 5], m(y)[0, 5])


def test_the_base_model_folder_is_searched_in_mlflow_layouts(tmp_path: Path) -> None:
    from sft.model import ModelError, _MODEL_DIRS, build, find_dir

    (tmp_path / "data" / "model").mkdir(parents=True)
    (tmp_path / "data" / "model" / "config.json").write_text("{}")
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    assert find_dir(tmp_path, _MODEL_DIRS, "config.json") == tmp_path / "data" / "model"
    cfg = parse_config({**json.loads(tiny_config(tmp_path / "c.json").read_text()), "base_format": "hf", "tiny": None})
    with pytest.raises(ModelError, match="--base-model is required"):
        build(cfg, None)
    with pytest.raises(ModelError, match=r"no Hugging Face config\.json in model, data/model, \."):
        build(cfg, str(tmp_path / "empty"))
