"""The training data: JSONL shards of chat messages or prompt/completion pairs, in an order fixed by step.

Every line is one example, either
  {"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...]}
or
  {"prompt": "...", "completion": "..."}.
The loss counts only what the model should learn to write: the assistant turns, or the completion.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Protocol, Sequence

import torch

IGNORE = -100
ROLES = ("system", "user", "assistant", "tool")


class DataError(ValueError):
    """Training data that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Example:
    # (text, trainable) in order; trainable text is what the loss counts.
    segments: tuple[tuple[str, bool], ...]
    # Chat examples keep their messages, for a tokenizer with its own chat template.
    messages: tuple[tuple[str, str], ...] | None


class Tokenizer(Protocol):
    pad_id: int
    eos_id: int

    def encode_example(self, example: Example) -> tuple[list[int], list[int]]: ...


def shard_files(data: str | Path) -> list[Path]:
    """The JSONL shards of a data asset: a folder (searched recursively, sorted) or one file."""
    root = Path(data)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise DataError(f"training data {root}: no such file or folder")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".jsonl", ".json"))
    if not files:
        raise DataError(f"training data {root}: no .jsonl shards in the folder")
    return files


def parse_line(record: Any, where: str) -> Example:
    if not isinstance(record, dict):
        raise DataError(f"{where}: an example must be a JSON object")
    if "messages" in record:
        messages = record["messages"]
        if not isinstance(messages, list) or not messages:
            raise DataError(f"{where}: messages must be a non-empty list")
        pairs: list[tuple[str, str]] = []
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
                raise DataError(
                    f"{where}: messages[{i}] must have a role ({', '.join(ROLES)}) and a string content"
                )
            pairs.append((m["role"], m["content"]))
        if not any(role == "assistant" for role, _ in pairs):
            raise DataError(f"{where}: messages has no assistant turn to learn from")
        segments: list[tuple[str, bool]] = []
        for role, content in pairs:
            segments.append((f"<|{role}|>\n", False))
            segments.append((content, role == "assistant"))
        return Example(tuple(segments), tuple(pairs))
    prompt, completion = record.get("prompt"), record.get("completion")
    if not isinstance(prompt, str) or not isinstance(completion, str):
        raise DataError(f"{where}: needs messages, or a string prompt and a string completion")
    if completion == "":
        raise DataError(f"{where}: completion is empty")
    return Example(((prompt, False), (completion, True)), None)


def read_examples(data: str | Path) -> list[Example]:
    examples: list[Example] = []
    for path in shard_files(data):
        with path.open(encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if line.strip() == "":
                    continue
                where = f"{path}:{number}"
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    raise DataError(f"{where}: not JSON: {error.msg}") from error
                examples.append(parse_line(record, where))
    if not examples:
        raise DataError(f"training data {data}: the shards hold no examples")
    return examples


class ByteTokenizer:
    """UTF-8 bytes as tokens (the tiny model's tokenizer): ids 0-255, then pad, bos and eos."""

    pad_id = 256
    bos_id = 257
    eos_id = 258
    vocab_size = 260

    def encode_example(self, example: Example) -> tuple[list[int], list[int]]:
        ids, labels = [self.bos_id], [IGNORE]
        for text, trainable in example.segments:
            piece = list(text.encode("utf-8"))
            if trainable:
                piece.append(self.eos_id)
            ids.extend(piece)
            labels.extend(piece if trainable else [IGNORE] * len(piece))
        return ids, labels


class HfTokenizer:
    """A Hugging Face tokenizer: its chat template when it has one, the plain segments otherwise."""

    def __init__(self, tokenizer: Any) -> None:
        self.tok = tokenizer
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.pad_id = int(tokenizer.pad_token_id)
        self.eos_id = int(tokenizer.eos_token_id)

    def encode_example(self, example: Example) -> tuple[list[int], list[int]]:
        if example.messages is not None and getattr(self.tok, "chat_template", None):
            messages = [{"role": r, "content": c} for r, c in example.messages]
            ids: list[int] = []
            labels: list[int] = []
            for i, (role, _) in enumerate(example.messages):
                upto = self.tok.apply_chat_template(messages[: i + 1], tokenize=True)
                piece = list(upto[len(ids) :])
                ids.extend(piece)
                labels.extend(piece if role == "assistant" else [IGNORE] * len(piece))
            return ids, labels
        ids, labels = [], []
        for text, trainable in example.segments:
            piece = self.tok.encode(text, add_special_tokens=False)
            if trainable:
                piece = piece + [self.eos_id]
            ids.extend(piece)
            labels.extend(piece if trainable else [IGNORE] * len(piece))
        return ids, labels


class StepData:
    """Micro-batches as a pure function of (step, rank): a restarted job sees exactly the same data.

    Examples are drawn from a permutation per epoch, seeded by (seed, epoch). Optimizer step s uses
    positions [s*G, (s+1)*G) of the endless sequence of permutations, G = world x micro x accum;
    rank r takes its contiguous part of them.
    """

    def __init__(
        self,
        encoded: Sequence[tuple[list[int], list[int]]],
        *,
        seed: int,
        world_size: int,
        micro_batch_size: int,
        grad_accum_steps: int,
        max_seq_len: int,
        pad_id: int,
    ) -> None:
        usable = [(i, l) for i, l in encoded if any(x != IGNORE for x in l[1 : max_seq_len])]
        if not usable:
            raise DataError(f"no example has a trainable token within max_seq_len={max_seq_len}")
        self.encoded = usable
        self.seed = seed
        self.world = world_size
        self.micro = micro_batch_size
        self.accum = grad_accum_steps
        self.max_len = max_seq_len
        self.pad_id = pad_id
        self._perms: dict[int, list[int]] = {}

    def _index(self, position: int) -> int:
        n = len(self.encoded)
        epoch, offset = divmod(position, n)
        perm = self._perms.get(epoch)
        if perm is None:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            perm = torch.randperm(n, generator=g).tolist()
            self._perms = {epoch: perm}
        return perm[offset]

    def indices(self, step: int, rank: int) -> list[int]:
        per_rank = self.micro * self.accum
        start = step * self.world * per_rank + rank * per_rank
        return [self._index(p) for p in range(start, start + per_rank)]

    def micro_batches(self, step: int, rank: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        idx = self.indices(step, rank)
        for k in range(self.accum):
            yield self.collate([self.encoded[i] for i in idx[k * self.micro : (k + 1) * self.micro]])

    def collate(self, batch: Sequence[tuple[list[int], list[int]]]) -> tuple[torch.Tensor, torch.Tensor]:
        length = min(self.max_len, max(len(ids) for ids, _ in batch))
        input_ids = torch.full((len(batch), length), self.pad_id, dtype=torch.long)
        labels = torch.full((len(batch), length), IGNORE, dtype=torch.long)
        for row, (ids, lab) in enumerate(batch):
            ids, lab = ids[:length], lab[:length]
            input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            labels[row, : len(lab)] = torch.tensor(lab, dtype=torch.long)
        return input_ids, labels
