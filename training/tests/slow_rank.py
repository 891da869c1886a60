"""train.py with one rank's forward passes slowed (SLOW_RANK, SLOW_SECONDS): a straggler to detect."""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sft import trainer  # noqa: E402

if os.environ["RANK"] == os.environ["SLOW_RANK"]:
    fast = trainer.logits_of
    delay = float(os.environ["SLOW_SECONDS"])

    def slow(model, ids):  # type: ignore[no-untyped-def]
        time.sleep(delay)
        return fast(model, ids)

    trainer.logits_of = slow

sys.exit(trainer.run(sys.argv[1:]))
