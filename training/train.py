"""Entry point of the retraining job: `python train.py --config configs/<model>.yaml --data ...
--base-model ... --output ...`, one process per GPU as Azure ML's PyTorch distribution starts them."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sft.trainer import run  # noqa: E402

if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
