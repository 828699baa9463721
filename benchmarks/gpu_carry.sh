#!/usr/bin/env bash
# What a lent GPU machine needs beside the working tree, made here before its first call:
#   bash benchmarks/gpu_carry.sh [DATA_DIR]     # DATA_DIR: irish-train.abc and irish-valid.abc (default ../shared/data)
# .whl/      wheels (Python 3.12, x86_64) of the packages musegen needs that the machine's image lacks
#            (the image has torch, jax for CUDA, numpy, h5py, rich, typer, pluggy...: the device tool's KINDS.md)
# .devdata/  the paper's corpus split, for benchmarks/gpu.sh's training stages
# Both are named in .git/info/exclude here and must be named in the run's carry. On the machine:
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
#   export PYTHONPATH=/tmp/site:$PWD/core:$PWD/plugins PYTHONUNBUFFERED=1
#   bash benchmarks/gpu.sh $OUT 330 .devdata/irish-train.abc .devdata/irish-valid.abc
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data}
# on the image already (KINDS.md, 2026-11-17): not carried, so that its builds for CUDA stay the ones used
image="absl-py certifi charset-normalizer click contourpy cycler filelock fonttools fsspec h5py hf-xet huggingface-hub
idna jinja2 joblib kiwisolver markdown-it-py markupsafe matplotlib mdurl ml-dtypes numpy packaging pillow pluggy
pygments pyparsing python-dateutil pyyaml requests rich shellingham six tokenizers tqdm typer urllib3 jax jaxlib
scipy msgpack cffi pycparser anyio h11 httpcore httpx"
rm -rf .whl && mkdir -p .whl
python3 -m pip download -q --only-binary=:all: --python-version 3.12 --implementation cp --abi cp312 \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any \
  -d .whl "keras==$(python3 -c 'from importlib.metadata import version; print(version("keras"))')" "pydantic>=2.7" "mido>=1.3" \
  "pretty_midi>=0.2.10" "miditok>=3.1,<4" "symusic==0.5.9" "soundfile>=0.12" "music21>=10.5,<11" 2>/dev/null
for w in .whl/*.whl; do
  name=$(basename "$w" | cut -d- -f1 | tr '_A-Z' '-a-z')
  [[ " ${image//$'\n'/ } " == *" $name "* ]] && rm "$w"
done
if [[ -f $data/irish-train.abc ]]; then
  mkdir -p .devdata && cp "$data"/irish-train.abc "$data"/irish-valid.abc .devdata/
else
  echo "no $data/irish-train.abc: .devdata not made (gpu.sh then skips its training stages)" >&2
fi
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
grep -qx '/.devdata/' .git/info/exclude 2>/dev/null || echo '/.devdata/' >> .git/info/exclude
echo "carry: .whl ($(du -sh .whl | cut -f1), $(ls .whl | wc -l) wheels) .devdata ($(du -sh .devdata 2>/dev/null | cut -f1))"
ls .whl
