#!/usr/bin/env bash
# One prepared device run, from a bare checkout on a GPU machine (CuPy preinstalled, no network):
#   1. the packages the device lacks (array-api-compat, array-api-strict) come from benchmarks/wheels;
#   2. pytest -m gpu (every test marked gpu, on CuPy);
#   3. python -m benchmarks.gpu_check: each heavy path timed on CuPy against NumPy in one run.
# The table goes to $OUT (default results/gpu_check). Must finish in under 8 minutes.
# On a CPU machine, `DEVICE_BACKEND=numpy SCALE=0.01 bash benchmarks/gpu_check.sh` runs the same path.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/gpu_check}
DEVICE_BACKEND=${DEVICE_BACKEND:-cupy}
SCALE=${SCALE:-1}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
site="$PWD/.gpu_site"
"$PY" -m pip install --quiet --no-index --no-deps --target "$site" benchmarks/wheels/*.whl || exit 3
export PYTHONPATH="$PWD:$site${PYTHONPATH:+:$PYTHONPATH}"
export MPLBACKEND=Agg
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>/dev/null || echo "no nvidia-smi"; \
  "$PY" -c "import sys, numpy, scipy; print(sys.version.split()[0], 'numpy', numpy.__version__, 'scipy', scipy.__version__)"; \
  "$PY" -c "import cupy; print('cupy', cupy.__version__)" 2>&1; } | tee "$OUT/machine.txt"
rc=0
if [ "$DEVICE_BACKEND" = cupy ]; then
  timeout 200 "$PY" -m pytest -q -p no:cacheprovider -m gpu -x --no-header 2>&1 | tail -40 | tee "$OUT/pytest_gpu.txt"
  [ "${PIPESTATUS[0]}" = 0 ] || rc=1
fi
timeout 260 "$PY" -m benchmarks.gpu_check --device-backend "$DEVICE_BACKEND" --scale "$SCALE" --out "$OUT" || rc=1
exit $rc
