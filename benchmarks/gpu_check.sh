#!/usr/bin/env bash
# What a GPU machine should confirm, as one script that leaves every log under OUT:
#   1. the GPU tests (pytest -m gpu);
#   2. the paper preset on the GPU: 300 iterations, resumed to 400, then test.py,
#      in float32 and in mixed16;
#   3. the shipped Adv+GDL generator tested on the GPU and on the CPU, the same windows;
#   4. speed beside the PyTorch twin (benchmarks/compare_torch.py --gpu), Chainer's
#      own convolution beside this project's, and where the time goes
#      (benchmarks/profile_step.py);
#   5. with the time left, each generator named in TUNE fine-tuned on the GPU (side by
#      side on the one GPU), and each one's generator saved at the last iteration that
#      all of them reached, for a fair comparison.
# Each step is cut to fit BUDGET seconds and logs to OUT/logs/<step>.log; a
# failed step is recorded in OUT/summary.txt and the next one runs. At the end
# the logs are packed into OUT/gpu_check.tgz (for machines that return few files).
#
#   make gpu-check                                    # .venv's Python, GPU 0
#   G=-1 QUICK=1 benchmarks/gpu_check.sh /tmp/dry     # every step on the CPU, briefly
#
# Environment: PY (the Python), G (GPU id; -1 runs on the CPU), BUDGET (seconds,
# default 3600), QUICK=1 (a few iterations per step), ROUNDS (of the comparison),
# TORCH_PY (a Python with PyTorch; default PY), TORCH_REF (the twin; default
# ../shared/bench/torch_ref.py), TUNE ("NAME=MODEL:CLIPS:BATCH[:FLAGS] ...", FLAGS
# train.py's extra flags with commas for spaces), TUNE_ITERS (where fine-tuning ends),
# PRESET (step 2's, default paper).
set -u
cd "$(dirname "$0")/.."
OUT=${1:-result/gpu-check}
PY=${PY:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
G=${G:-0}
BUDGET=${BUDGET:-3600}
QUICK=${QUICK:-0}
TORCH_PY=${TORCH_PY:-$PY}
TORCH_REF=${TORCH_REF:-../shared/bench/torch_ref.py}
TUNE=${TUNE:-}
TUNE_ITERS=${TUNE_ITERS:-100000}
PRESET=${PRESET:-paper}
RESERVE=20  # seconds kept for packing the logs
END=$((SECONDS + BUDGET))
mkdir -p "$OUT/logs"
SUMMARY=$OUT/summary.txt
: > "$SUMMARY"
export PYTHONUNBUFFERED=1

if [ "$QUICK" = 1 ]; then
    ITERS=(6 8); BENCH_ITERS=2; CLIPS=400; WINDOWS=2; TUNE_EVERY=4
else
    ITERS=(300 400); BENCH_ITERS=20; CLIPS=3000; WINDOWS=8; TUNE_EVERY=200
fi
ROUNDS=${ROUNDS:-2}

left() { echo $((END - SECONDS - RESERVE)); }

# step NAME LIMIT COMMAND...: run COMMAND for at most LIMIT seconds (and what the
# budget allows), log it, and record its exit status and time.
step() {
    local name=$1 limit=$2 t0=$SECONDS rc
    shift 2
    [ "$(left)" -lt "$limit" ] && limit=$(left)
    if [ "$limit" -le 5 ]; then
        echo "$name: skipped (out of time)" | tee -a "$SUMMARY"
        return 1
    fi
    echo "== $name (limit ${limit}s): $*"
    timeout -s INT -k 15 "$limit" "$@" > "$OUT/logs/$name.log" 2>&1
    rc=$?
    echo "$name: rc=$rc $((SECONDS - t0))s" | tee -a "$SUMMARY"
    tail -n 3 "$OUT/logs/$name.log"
    return $rc
}

DATA=$OUT/data
{
    date -u
    nvidia-smi 2>&1 | head -15
    "$PY" - <<'EOF'
import platform
from utils import compat  # noqa: F401
import chainer, numpy
print('python', platform.python_version(), 'numpy', numpy.__version__, 'chainer',
      chainer.__version__, 'shims', compat.SHIMS)
try:
    import cupy
    print('cupy', cupy.__version__, 'cuda runtime', cupy.cuda.runtime.runtimeGetVersion(),
          'driver', cupy.cuda.runtime.driverGetVersion(),
          'devices', cupy.cuda.runtime.getDeviceCount())
    from chainer.backends import cuda
    print('chainer cuda available', cuda.available, 'cudnn', cuda.cudnn_enabled)
except Exception as e:
    print('cupy:', repr(e))
EOF
} > "$OUT/logs/environment.log" 2>&1
cat "$OUT/logs/environment.log"

# The built-in data, made while the GPU tests run (they make their own).
( "$PY" -m utils.data.pacman --out "$DATA" --seed 0 &&
  "$PY" process_data.py -n $CLIPS --train-dir "$DATA/train" --train-clips "$DATA/clips" \
      --no-progress ) > "$OUT/logs/data.log" 2>&1 &
DATA_PID=$!
if [ "$G" -ge 0 ]; then
    step gpu_tests 150 "$PY" -m pytest -q -p no:cacheprovider -m gpu tests
fi
wait $DATA_PID && echo "data: rc=0" >> "$SUMMARY" || echo "data: failed" | tee -a "$SUMMARY"

# Train, resume, test; the snapshots' counters show that the resume continued.
for dtype in float32 mixed16; do
    run=$OUT/runs/${PRESET}_$dtype
    common=(-g "$G" -d "$DATA/clips" -o "$run" --snapshot-interval 100 --sample-interval 0
            --eval-interval 100 --eval-dir "$DATA/test" --eval-windows 4 --no-progress)
    [ "$QUICK" = 1 ] && common+=(--snapshot-interval 2 --eval-interval 2)
    # On the H200 a paper-preset save point took 15 s in float32 and 50 s in mixed16
    # while snapshots were deflated (before 24ea755).
    step "train_$dtype" 240 "$PY" train.py --preset "$PRESET" --dtype "$dtype" -i "${ITERS[0]}" \
        "${common[@]}" --overwrite &&
    step "resume_$dtype" 90 "$PY" train.py -r -i "${ITERS[1]}" "${common[@]}" &&
    step "counters_$dtype" 30 "$PY" - "$run" "${ITERS[0]}" "${ITERS[1]}" "$dtype" <<'EOF' &&
import sys
import numpy
run, first, last, dtype = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
steps = {}
for n in (first, last):
    with numpy.load('{}/snapshot_iter_{}.npz'.format(run, n)) as z:
        assert int(z['updater/iteration']) == n
        steps[n] = {k: int(z[k]) for k in ('updater/optimizer:gen/t', 'updater/optimizer:dis/t')}
    print('iteration', n, 'optimizer steps', steps[n])
for k in steps[first]:
    # Loss scaling skips the updates whose gradients overflow, and counts no step.
    assert steps[first][k] == first if dtype == 'float32' else 0 < steps[first][k] <= first
    assert 0 < steps[last][k] - steps[first][k] <= last - first
print('resume continued from {} to {}'.format(first, last))
EOF
    step "test_$dtype" 90 "$PY" test.py -g "$G" -m "$run/TRAINED_ADVERSARIAL.model" \
        -t "$DATA/test" -s 4 --max-windows "$WINDOWS" --gifs 1 -o "$run/test" --no-progress
    cp "$run/log" "$OUT/logs/train_${dtype}_trainer_log.json" 2>/dev/null
    cp "$run/test/metrics.json" "$OUT/logs/test_${dtype}_metrics.json" 2>/dev/null
done

# The shipped generator on the GPU and on the CPU, the same windows: the scores agree
# up to the GPU's rounding (TF32), which may flip a pixel at the hard mask's 1/2.
for where in gpu cpu; do
    g=$G; [ $where = cpu ] && g=-1
    step "test_pretrained_$where" 120 "$PY" test.py -g "$g" -m pretrained/pacman_adv_gdl.model \
        -t "$DATA/test" -s 4 --max-windows "$WINDOWS" --gifs 1 \
        -o "$OUT/runs/pretrained_$where/test" --no-progress
done
step test_pretrained_agree 30 "$PY" - "$OUT/runs/pretrained_gpu/test/metrics.json" \
    "$OUT/runs/pretrained_cpu/test/metrics.json" <<'EOF'
import json
import sys


def leaves(tree, path=()):
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from leaves(v, path + (str(k),))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from leaves(v, path + (str(i),))
    elif isinstance(tree, (int, float)) and not isinstance(tree, bool):
        yield '/'.join(path), tree


gpu, cpu = (dict(leaves(json.load(open(p))['per_step'])) for p in sys.argv[1:])
assert gpu.keys() == cpu.keys(), 'different metrics'
worst = max(gpu, key=lambda k: abs(gpu[k] - cpu[k]) / max(1.0, abs(cpu[k])))
print(len(gpu), 'figures; the furthest apart:', worst, gpu[worst], 'on the GPU,', cpu[worst],
      'on the CPU')
assert all(abs(gpu[k] - cpu[k]) <= 0.02 * max(1.0, abs(cpu[k])) for k in gpu), 'GPU != CPU'
EOF
cp "$OUT/runs/pretrained_gpu/test/metrics.json" "$OUT/logs/test_pretrained_gpu_metrics.json" \
    2>/dev/null

# Speed: this project beside PyTorch, the same model, median of ROUNDS.
if [ -f "$TORCH_REF" ]; then
    step compare_torch 200 "$PY" benchmarks/compare_torch.py --torch-python "$TORCH_PY" \
        --torch-ref "$TORCH_REF" --gpu "$G" --presets paper small --rounds $ROUNDS \
        --iters $BENCH_ITERS
else
    echo "compare_torch: skipped ($TORCH_REF not found)" | tee -a "$SUMMARY"
fi
step train_step_paper_mixed16 60 "$PY" benchmarks/train_step.py --preset paper -g "$G" \
    --iters $BENCH_ITERS --dtype mixed16
step train_step_paper_stock_conv 60 "$PY" benchmarks/train_step.py --preset paper -g "$G" \
    --iters $BENCH_ITERS --stock-conv
step predict_paper_mixed16 60 "$PY" benchmarks/predict_frames.py --preset paper -g "$G" \
    --iters $BENCH_ITERS --dtype mixed16
step predict_paper_stock_conv 60 "$PY" benchmarks/predict_frames.py --preset paper -g "$G" \
    --iters $BENCH_ITERS --stock-conv
for what in train predict; do
    step "profile_${what}_paper" 60 "$PY" benchmarks/profile_step.py --preset paper -g "$G" \
        --what $what --iters $BENCH_ITERS
done

# Fine-tuning until the budget ends (SIGINT saves a snapshot and the model), every
# run on the same GPU at once; the slower ones reach fewer iterations, so each one's
# generator is also kept at the last snapshot that all of them reached.
if [ -n "$TUNE" ]; then
    pids=()
    tune_limit=$(($(left) - 40))  # what tune_common needs
    for spec in $TUNE; do
        name=${spec%%=*}
        IFS=: read -r model clips batch flags <<< "${spec#*=}"
        step "tune_$name" $tune_limit "$PY" train.py -g "$G" -l "$model" -d "$clips" -b "$batch" \
            --lr-g 1e-4 -i "$TUNE_ITERS" -o "$OUT/runs/tune_$name" \
            --snapshot-interval $TUNE_EVERY --snapshots-kept 1000 --eval-interval 0 \
            --sample-interval 0 --log-interval 50 --no-progress --overwrite ${flags//,/ } &
        pids+=($!)
    done
    wait "${pids[@]}"
    runs=()
    for spec in $TUNE; do
        name=${spec%%=*}
        runs+=("$OUT/runs/tune_$name")
        cp "$OUT/runs/tune_$name"/TRAINED_*.model "$OUT/tune_$name.model" 2>/dev/null
        cp "$OUT/runs/tune_$name/log" "$OUT/logs/tune_${name}_trainer_log.json" 2>/dev/null
    done
    step tune_common 60 "$PY" - "$OUT" "${runs[@]}" <<'EOF'
import os
import sys

from utils import compat  # noqa: F401
from models import checkpoint
from utils import run_folder

out, runs = sys.argv[1], sys.argv[2:]
reached = [{run_folder.snapshot_iteration(n) for n in os.listdir(r)
            if run_folder.SNAPSHOT_RE.match(n)} for r in runs]
common = max(set.intersection(*reached))
for r in runs:
    source = run_folder.generator_source(run_folder.snapshot_path(r, common))
    path = os.path.join(out, '{}_{}.model'.format(os.path.basename(r), common))
    checkpoint.save(path, source.arrays, source.saved)
    print('wrote', path, '(the last iterations reached:', max(reached[runs.index(r)]), ')')
EOF
fi

cp "$SUMMARY" "$OUT/logs/"
tar -czf "$OUT/gpu_check.tgz" -C "$OUT" logs $(cd "$OUT" && ls -d runs/*/test 2>/dev/null)
tuned=$( [ -n "$TUNE" ] && echo ", $OUT/tune_*.model")
echo "done: $OUT/summary.txt, $OUT/gpu_check.tgz (the logs)$tuned"
