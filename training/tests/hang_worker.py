"""A two-rank job whose rank 1 hangs before a collective: rank 0 must fail with CollectiveTimeout."""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sft.dist import CollectiveTimeout, barrier, init_distributed  # noqa: E402

ctx = init_distributed(float(sys.argv[1]))
if ctx.rank == 1:
    time.sleep(float(sys.argv[2]))
    sys.exit(0)
started = time.monotonic()
try:
    barrier(ctx, "the test's barrier")
except CollectiveTimeout as error:
    print(f"TIMEOUT after {time.monotonic() - started:.1f} s: {error}", flush=True)
    sys.exit(3)
print("barrier returned", flush=True)
sys.exit(0)
