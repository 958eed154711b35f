#!/usr/bin/env bash
# Reproduce the default model shipped in signllm/assets/models/default from the bundled data.
#   bash scripts/train_default_model.sh            # about 15-20 minutes on 2 CPU cores
# Steps: build the demo corpus, train the MLSF model (one group per language with real
# signing: gsg, ase, sgg), the shared Prompt2LangGloss pose model and its prompt -> gloss text
# model, then copy the best checkpoints (without trainer state) into the package.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${SIGNLLM_PYTHON:-.venv/bin/python}
DATA=${DATA:-data/demo}
RUNS=${RUNS:-runs/default}
STEPS=${STEPS:-1500}
LANGS=${LANGS:-gsg,ase,sgg}
DEST=signllm/assets/models/default

"$PY" -m signllm data demo -o "$DATA" --workers 2
common=(--data "$DATA" --languages "$LANGS" --tokenizer text --size tiny --steps "$STEPS"
        --batch-size 16 --lr 1e-3 --warmup-steps 200 --eval-every 500 --eval-clips 16
        --checkpoint-every 500 --seed 0)
# the three trainings are independent: run them side by side, one thread each
export OMP_NUM_THREADS=1
"$PY" -m signllm train --out "$RUNS/mlsf" --mode mlsf --no-progress "${common[@]}" &
p1=$!
"$PY" -m signllm train --out "$RUNS/prompt" --mode prompt --no-progress "${common[@]}" &
p2=$!
"$PY" -m signllm train-prompt --data "$DATA" --out "$RUNS/prompt_text" --languages "$LANGS" \
  --steps 1500 &
p3=$!
wait $p1 && wait $p2 && wait $p3

rm -rf "$DEST.new" && mkdir -p "$DEST.new"
for part in mlsf prompt; do
  mkdir "$DEST.new/$part"
  cp "$RUNS/$part/best/"{config.json,model.safetensors} "$RUNS/$part/best/"tokenizer*.json \
    "$DEST.new/$part/"
done
cp -r "$RUNS/prompt_text" "$DEST.new/prompt_text"
rm -rf "$DEST" && mv "$DEST.new" "$DEST"
du -sh "$DEST"
