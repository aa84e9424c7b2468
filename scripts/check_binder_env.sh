#!/usr/bin/env bash
# Build an environment the way mybinder.org does (pip install -r binder/requirements.txt, then
# binder/postBuild) and run lesson 00 in it. Binder's CPU wheel index is swapped for whatever this
# machine reaches: BINDER_INDEX_URL if set, else the default index (CPU-only wheels there or not).
#
#   bash scripts/check_binder_env.sh [VENV_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-${TMPDIR:-/tmp}/gan-lessons-binder-venv}"
req="$(mktemp)"
trap 'rm -f "$req"' EXIT
if [[ -n "${BINDER_INDEX_URL:-}" ]]; then
    sed "s|^--extra-index-url .*|--extra-index-url $BINDER_INDEX_URL|" binder/requirements.txt > "$req"
else
    grep -v '^--extra-index-url' binder/requirements.txt > "$req"
fi
start=$SECONDS
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q -r "$req"
PATH="$venv/bin:$PATH" bash binder/postBuild
echo "== installed in $((SECONDS - start)) s"
"$venv/bin/python" -c "
import gan_lessons as gl, torch, torchvision, ipywidgets, matplotlib, tqdm, jupyterlab
for m in ('data', 'toy', 'models', 'losses', 'train', 'history', 'checkpoints', 'plots', 'widgets',
          'metrics', 'pretrained', 'checks', 'speed', 'experiments'):
    getattr(gl, m)
print('imports ok: torch', torch.__version__, 'torchvision', torchvision.__version__)
"
# Binder's image holds what a learner needs; papermill (the course extra) only drives this check.
"$venv/bin/python" -m pip install -q papermill ipykernel
out="$(mktemp -d)"
GAN_LESSONS_HEADLESS=1 "$venv/bin/papermill" --cwd notebooks notebooks/00_setup.ipynb "$out/00_setup.ipynb" -p FAST True
echo "== lesson 00 ran in the Binder-style environment ($((SECONDS - start)) s in all)"
