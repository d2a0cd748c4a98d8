#!/usr/bin/env bash
# The scale bench (bench/evaluator_scale.py) with all-MiniLM-L6-v2 on CUDA: texts/s of encoding and peak GPU
# memory, per task and overall, from what the evaluator records (the store's evaluation_costs). Without a GPU
# it runs on the CPU with a note (peak memory is then resident memory). At scale 0.1 it is meant to run twice
# within 10 minutes on one GPU.
#
#   bash bench/gpu_check.sh [SCALE]      SCALE defaults to 0.1; PYTHON picks the interpreter (.venv/bin/python),
#                                        TIMEOUT bounds the evaluator run in seconds (default 480)
# Last line: one JSON object (device, device_name, texts_per_s, peak_memory_gib, wall_s, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3
SCALE=${1:-0.1}
DEVICE=$("$PYTHON" -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")')
THREADS=0
if [ "$DEVICE" = cpu ]; then
    echo "note: torch sees no GPU here: running on the CPU with one thread; peak memory is resident memory, not GPU memory"
    THREADS=1
fi
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
PATENTEB_DEVICE=$DEVICE "$PYTHON" bench/evaluator_scale.py --skip-tiny --minilm-scale "$SCALE" --threads "$THREADS" \
    --timeout "${TIMEOUT:-480}" --keep | tee "$LOG" || echo "note: the scale bench did not finish every task; the figures below cover the finished ones"
KEPT=$(sed -n 's/^kept: //p' "$LOG")
trap 'rm -f "$LOG"; rm -rf "$KEPT"' EXIT
"$PYTHON" - "$KEPT/run-minilm-$SCALE/store.duckdb" "$LOG" "$SCALE" <<'PYTHON'
import json
import sys
from datetime import date

sys.path.insert(0, ".")
from results.store import Store

store_path, log_path, scale = sys.argv[1], sys.argv[2], float(sys.argv[3])
costs = Store(store_path).evaluation_costs()
bench = json.loads(open(log_path).read().strip().splitlines()[-1])
for row in costs.itertuples():
    speed = f"{row.texts_per_s:,.0f} texts/s" if row.texts_per_s == row.texts_per_s and row.texts_per_s else "cached"
    print(f"{row.task:<26} {row.texts_encoded:>7} texts in {row.encode_s:7.2f} s ({speed}), "
          f"peak {row.peak_memory_gib:.2f} GiB, {row.wall_s:.1f} s in all")
encoded, encode_s = int(costs["texts_encoded"].sum()), float(costs["encode_s"].sum())
run = bench["runs"][0] if bench.get("runs") else {}
print(json.dumps({
    "date": date.today().isoformat(),
    "scale": scale,
    "device": ", ".join(sorted(set(costs["device"]))),
    "device_name": ", ".join(sorted(set(costs["device_name"]))),
    "memory_kind": ", ".join(sorted(set(costs["memory_kind"]))),
    "tasks": len(costs),
    "texts_encoded": encoded,
    "encode_s": round(encode_s, 1),
    "texts_per_s": round(encoded / encode_s, 1) if encode_s else None,
    "peak_memory_gib": round(float(costs["peak_memory_gib"].max()), 3),
    "wall_s": run.get("wall_s"),
    "outside_encode_share": run.get("outside_encode_share"),
    "exit_code": run.get("exit_code"),
}))
PYTHON
