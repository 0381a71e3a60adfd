#!/usr/bin/env bash
# The GPU checks, in one call on a machine with a CUDA GPU (a lent device machine: one short,
# prepared run), from the repository root:
#
#     bash scripts/gpu_check.sh [OUT_DIR]      # about 6 minutes on one H100/H200
#
# 1. The CUDA tests (tests/training/test_cuda.py, skipped elsewhere) and the model, scan, variant,
#    probe and precision suites under this machine's torch.
# 2. The default run on the GPU, and with model=mingru and trainer.precision=16-mixed / bf16-mixed,
#    each timed, with its last train.log lines.
# 3. scripts/bench.py --device cuda: issue 7's measurements (engine, growth, backends, scan
#    space); the CPU growth measurement on this machine's own (unshared) cores; then the other
#    GPU measurements (loop, profile, precision, compile). Each is written as JSON.
#
# Without seqnet's dependencies installed there, put their wheels in .whl/ (hydra-core,
# omegaconf, antlr4-python3-runtime, mnist1d): they are installed into /tmp/site first.
# Every stage has its own time limit, so one that hangs leaves the others their time.
set -uo pipefail
OUT=${1:-${OUT:-gpu_check_out}}
mkdir -p "$OUT"
LOG="$OUT/gpu_check.log"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
stage() { echo; echo "===== $* ($(date +%T))"; }

{
    stage "machine"
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem --format=csv
    python3 -c "import torch, sys; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version(), torch.cuda.get_device_name(0), 'cpus', __import__('os').cpu_count())"

    stage "tests"
    workers=$(python3 -c "import xdist" 2>/dev/null && echo "-n 4")  # pytest-xdist, if there
    timeout 150 python3 -m pytest -q -p no:cacheprovider $workers -rfE tests/training/test_cuda.py \
        tests/models/test_engine.py tests/models/test_scan.py tests/models/test_variant_equations.py \
        tests/models/test_zoneout.py tests/models/test_init.py tests/gradients/test_probes.py \
        tests/gradients/test_probes_analytic.py tests/training/test_registered_runs.py \
        tests/training/test_precision.py

    k=0
    for run in "" "model=mingru" "trainer.precision=16-mixed" "trainer.precision=bf16-mixed"; do
        k=$((k + 1))
        stage "seqnet-train trainer.device=cuda $run"
        start=$(date +%s%N)
        timeout 75 python3 -m seqnet.train trainer.device=cuda trainer.progress_bar=false $run \
            hydra.run.dir="$OUT/runs/run$k" 2>&1 | tail -n 4
        echo "wall $(( ($(date +%s%N) - start) / 1000000 )) ms"
        tail -n 2 "$OUT/runs/run$k/train.log" 2>/dev/null
    done
    rm -rf "$OUT/runs"

    stage "bench: issue 7 (engine, growth, backends, scan)"
    timeout 180 python3 scripts/bench.py --device cuda --json "$OUT/bench_cuda_engine.json" \
        --only engine --only growth --only backends --only scan
    stage "bench: CPU growth with T on this machine's CPU (dedicated), 2 threads"
    timeout 100 python3 scripts/bench.py --device cpu --threads 2 --only growth \
        --json "$OUT/bench_cpu_growth.json"
    stage "bench: loop, profile, precision, compile"
    timeout 200 python3 scripts/bench.py --device cuda --json "$OUT/bench_cuda_other.json" \
        --only loop --only profile --only precision --only compile
    stage "done"
} 2>&1 | tee "$LOG"
