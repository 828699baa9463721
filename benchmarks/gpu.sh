#!/usr/bin/env bash
# Every GPU measurement of issue 5 in one go, most important first, within a time budget:
#   bash benchmarks/gpu.sh OUT_DIR [SECONDS] [TRAIN.ABC VALID.ABC]
#   ONLY='torch|paper-full' bash benchmarks/gpu.sh ...   # only the stages whose names match
# Needs musegen importable (installed, or PYTHONPATH=core:plugins) with Keras, JAX and PyTorch built
# for CUDA. On a lent machine: `bash benchmarks/gpu_carry.sh` here first, then carry .whl and
# .devdata and install the wheels there as its header says. Appends every JSON result line to
# OUT_DIR/results.jsonl and the whole output to OUT_DIR/gpu.log; a stage that would start after the
# budget is skipped and says so.
out=${1:?usage: gpu.sh OUT_DIR [SECONDS] [TRAIN.ABC VALID.ABC]}; budget=${2:-480}; train=${3:-}; valid=${4:-}
mkdir -p "$out"; start=$SECONDS; py=${PYTHON:-python3}
exec > >(tee -a "$out/gpu.log") 2>&1
stage() {  # stage SECONDS_LIMIT NAME COMMAND...
  local limit=$1 name=$2; shift 2
  [[ -n ${ONLY:-} && ! $name =~ $ONLY ]] && return
  local left=$((budget - (SECONDS - start)))
  if (( left < 30 )); then echo "== $name: skipped, ${left}s of the budget left"; return; fi
  (( limit > left )) && limit=$left
  echo "== $name (limit ${limit}s, at ${SECONDS}s)"
  local t0=$SECONDS
  timeout "$limit" "$@" 2>&1 | grep -v -e '^WARNING: All log' -e '^I0000' -e 'cpu_feature_guard' -e '^To enable' \
    | tee "$out/.stage"; echo "== $name: exit ${PIPESTATUS[0]} in $((SECONDS - t0))s"
  grep '^{' "$out/.stage" | sed "s/^{/{\"stage\": \"$name\", /" >> "$out/results.jsonl"
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
KERAS_BACKEND=jax $py -c "import sys, jax, torch, keras; print(sys.version.split()[0], 'jax', jax.__version__, jax.devices(), 'torch', torch.__version__, torch.backends.cudnn.version(), 'keras', keras.__version__)"
# --sample-rounds 3: sampling raced as in earlier GPU runs (the default, 3x --rounds, adds 6 rounds a race)
stage 150 jax-fp32 $py benchmarks/throughput.py --device gpu --backend jax --skip-extras --sample-rounds 3
stage 150 torch-fp32 $py benchmarks/throughput.py --device gpu --backend torch --skip-extras --sample-rounds 3
stage 120 torch-bf16 $py benchmarks/throughput.py --device gpu --backend torch --precision mixed_bfloat16 --skip-extras --sample-rounds 3 --rounds 2
stage 120 torch-fp16 $py benchmarks/throughput.py --device gpu --backend torch --precision mixed_float16 --skip-extras --sample-rounds 3 --rounds 2  # with its loss scale
stage 120 jax-bf16 $py benchmarks/throughput.py --device gpu --backend jax --precision mixed_bfloat16 --skip-extras --sample-rounds 3 --rounds 2
stage 60 cudnn-types $py benchmarks/cudnn_lstm_types.py
stage 120 sampler-unroll $py benchmarks/sampler_unroll.py --unroll ${UNROLLS:-1,4,8,16,32} --rounds 2
if [[ -n $train ]]; then
  for backend in jax torch; do
    rm -rf "/tmp/paper-$backend"
    stage 100 "gen-train-paper-$backend" env MUSEGEN_BACKEND=$backend $py -m musegen train --corpus "$train" --valid "$valid" \
      --preset paper --steps 300 -o "/tmp/paper-$backend"
    [[ -f /tmp/paper-$backend/history.csv ]] && cat "/tmp/paper-$backend/history.csv"
  done
  for p in bfloat16 float16; do  # the float16 cuDNN LSTM, its gradients scaled (float16: the loss too), against float32
    rm -rf "/tmp/paper-torch-$p"
    stage 100 "gen-train-paper-torch-$p" env MUSEGEN_BACKEND=torch $py -m musegen train --corpus "$train" --valid "$valid" \
      --preset paper --steps 300 --set model.precision=mixed_$p -o "/tmp/paper-torch-$p"
    [[ -f /tmp/paper-torch-$p/history.csv ]] && cat "/tmp/paper-torch-$p/history.csv"
  done
  rm -rf /tmp/dp
  stage 90 gen-train-data-parallel env MUSEGEN_BACKEND=jax $py -m musegen train --corpus "$train" --valid "$valid" \
    --preset paper --steps 40 --distribute data-parallel --set train.eval_every=20 -o /tmp/dp
  [[ -f /tmp/dp/history.csv ]] && cat /tmp/dp/history.csv
  # the paper preset whole (2000 steps), then its quality measured on 100 tunes sampled on the GPU
  rm -rf /tmp/paper-full
  stage 150 gen-train-paper-full env MUSEGEN_BACKEND=jax $py -m musegen train --corpus "$train" --valid "$valid" \
    --preset paper -o /tmp/paper-full
  [[ -f /tmp/paper-full/history.csv ]] && cat /tmp/paper-full/history.csv
  stage 90 gen-eval-paper-full env MUSEGEN_BACKEND=jax $py -m musegen eval /tmp/paper-full --samples 100 --no-check-bars --json
fi
echo "== done in $((SECONDS - start))s"; cat "$out/results.jsonl"
