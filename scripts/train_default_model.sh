#!/usr/bin/env bash
# Reproduce the default model shipped in signllm/assets/models/default from the bundled data.
#   bash scripts/train_default_model.sh                  # ~1 h on 2 CPU cores, minutes on a GPU
#   STEPS=30 bash scripts/train_default_model.sh         # a toy run: every knob is honoured
# Knobs (environment): STEPS (pose models), SHARED_START=1 (MLSF groups start from the shared
# pose model, then train GROUP_STEPS, default STEPS; off for the shipped model: see its card), SIZE (pose model preset, default small), SETS (model overrides), TEXT_STEPS (prompt -> gloss text model, default
# STEPS), LANGS (MLSF groups), PROMPT_LANGS (the shared Prompt2LangGloss model: all 20 languages
# by default, one small model), DEVICE, DATA, RUNS, READER (a `signllm train-reader` checkpoint:
# the card then reports fingerspelling read back), SKIP_DATA=1 (DATA is already built),
# TEXT_FROM=DIR (reuse a trained prompt -> gloss text model instead of training one).
# Steps: build the demo corpus, train MLSF, the shared Prompt2LangGloss pose model and its text
# model side by side (SHARED_START=1: MLSF after the shared model, starting from it), copy
# the best checkpoints (no trainer state) next to the current model,
# evaluate them on the held-out test split, write the card, then swap the folder in: the shipped
# model and its card are replaced only by a complete new one.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${SIGNLLM_PYTHON:-.venv/bin/python}
DATA=${DATA:-data/demo}
RUNS=${RUNS:-runs/default}
STEPS=${STEPS:-3000}
SIZE=${SIZE:-small}
TEXT_STEPS=${TEXT_STEPS:-$STEPS}
GROUP_STEPS=${GROUP_STEPS:-$STEPS}
LANGS=${LANGS:-gsg,ase,sgg}
PROMPT_LANGS=${PROMPT_LANGS:-all}
DEVICE=${DEVICE:-auto}
DEST=${DEST:-signllm/assets/models/default}

[ -n "${SKIP_DATA:-}" ] || "$PY" -m signllm data demo -o "$DATA" --workers 2
# SETS: extra `--set KEY=VALUE` overrides, space-separated (none by default; the shipped card names its own)
SETS=${SETS:-}
common=(--data "$DATA" --size "$SIZE" --steps "$STEPS" --batch-size 16 --lr 1e-3
        --checkpoint-every 500 --seed 0 --device "$DEVICE" --no-progress)
for kv in $SETS; do common+=(--set "$kv"); done
# the trainings are independent: side by side, one thread each. With SHARED_START=1 the MLSF
# groups instead start from the shared pose model once it is trained (`--group-init`) and train
# GROUP_STEPS more
export OMP_NUM_THREADS=1
if [ -z "${SHARED_START:-}" ]; then
  "$PY" -m signllm train --out "$RUNS/mlsf" --mode mlsf --languages "$LANGS" "${common[@]}" &
  p1=$!
fi
"$PY" -m signllm train --out "$RUNS/prompt" --mode prompt --languages "$PROMPT_LANGS" \
  "${common[@]}" &
p2=$!
if [ -n "${TEXT_FROM:-}" ]; then  # keep a trained prompt -> gloss text model (it does not
  rm -rf "$RUNS/prompt_text" && mkdir -p "$RUNS" && cp -r "$TEXT_FROM" "$RUNS/prompt_text" &
else                              # depend on the pose models' space or inputs)
  "$PY" -m signllm train-prompt --data "$DATA" --out "$RUNS/prompt_text" --languages "$LANGS" \
    --steps "$TEXT_STEPS" --no-progress &
fi
p3=$!
if [ -n "${SHARED_START:-}" ]; then
  wait "$p2"  # any failure stops here (set -e)
  start="$RUNS/prompt/best"
  [ -f "$start/config.json" ] || start="$RUNS/prompt/last"
  "$PY" -m signllm train --out "$RUNS/mlsf" --mode mlsf --languages "$LANGS" "${common[@]}" \
    --steps "$GROUP_STEPS" --group-init "$start" &
  p1=$!
fi
for p in $p1 $p2 $p3; do wait "$p"; done  # any failure stops here (set -e)

NEW="$DEST.new"
rm -rf "$NEW" && mkdir -p "$NEW"
for part in mlsf prompt; do
  src="$RUNS/$part/best"
  [ -f "$src/config.json" ] || src="$RUNS/$part/last"
  mkdir "$NEW/$part"
  cp "$src/"{config.json,model.safetensors,MODEL_CARD.md} "$src/"tokenizer*.json "$NEW/$part/"
done
cp -r "$RUNS/prompt_text" "$NEW/prompt_text"
rm -f "$NEW/prompt_text/trainer_state.pt"
"$PY" scripts/default_model_card.py "$NEW" --data "$DATA" --languages "$LANGS" \
  ${READER:+--reader "$READER"} --device "$DEVICE" \
  --command "${READER:+READER=$READER }${SHARED_START:+SHARED_START=1 GROUP_STEPS=$GROUP_STEPS }STEPS=$STEPS SIZE=$SIZE TEXT_STEPS=$TEXT_STEPS LANGS=$LANGS PROMPT_LANGS=$PROMPT_LANGS SETS='$SETS' bash scripts/train_default_model.sh"
rm -rf "$DEST.old"
[ -d "$DEST" ] && mv "$DEST" "$DEST.old"
mv "$NEW" "$DEST" && rm -rf "$DEST.old"
du -sh "$DEST"
