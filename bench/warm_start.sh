#!/usr/bin/env bash
# Warm start against training from scratch when a batch arrives (issue 7), in one run:
#   bench/warm_start.sh DATA_DIR [BATCH_SHARE_PERCENT] [PRESET]
# The data is cut in two by name: a base (100 - share %) that trains the production
# model, and a batch (share %, default 15) that arrives next. On the grown dataset the
# preset trains once from scratch and once from production (training.warm_start.*:
# a shorter, gentler schedule); each candidate is gated against production on the
# grown test split. Prints epochs, time to decision (train + gate) and test Dice/IoU.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
data=${1:?usage: bench/warm_start.sh DATA_DIR [BATCH_SHARE_PERCENT] [PRESET]}
share=${2:-15}
preset=${3:-water-meters}
wms=${WMS_BIN:-$here/../build/wms}
out=$here/results
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' EXIT
export WMS_PROGRESS=0

# Cut the folder in two with symbolic links (the pictures are not copied).
mkdir -p "$tmp/base/images" "$tmp/base/masks" "$tmp/batch/images" "$tmp/batch/masks"
mapfile -t images < <(ls "$data/images" | sort)
cut=$(( ${#images[@]} * (100 - share) / 100 ))
for i in "${!images[@]}"; do
  f=${images[$i]}; stem=${f%.*}
  part=base; [ "$i" -ge "$cut" ] && part=batch
  ln -s "$data/images/$f" "$tmp/$part/images/$f"
  for m in "$data/masks/$stem".*; do [ -e "$m" ] && ln -s "$m" "$tmp/$part/masks/$(basename "$m")"; done
done

ws=$tmp/ws
"$wms" init "$ws" >/dev/null
"$wms" data add -w "$ws" "$tmp/base" >/dev/null
"$wms" data status -w "$ws" | head -1
"$wms" train -w "$ws" --config "$preset" --json > "$tmp/base.json" 2> "$tmp/base.log"
"$wms" models promote -w "$ws" 1 --reason "warm-start benchmark base" >/dev/null
"$wms" data add -w "$ws" "$tmp/batch" >/dev/null
"$wms" data status -w "$ws" | head -1

now() { date +%s.%N; }
candidate() {  # name [train args...]
  local name=$1; shift
  local s; s=$(now)
  "$wms" train -w "$ws" --config "$preset" --json "$@" > "$tmp/$name.json" 2> "$tmp/$name.log"
  local t; t=$(now)
  local v; v=$(/usr/bin/python3 -c "import json;print(json.load(open('$tmp/$name.json'))['model_version'])")
  "$wms" gate -w "$ws" --candidate "$v" --no-record --json > "$tmp/$name.gate.json" || true
  awk "BEGIN{print $t - $s, $(now) - $t}" > "$tmp/$name.secs"
  "$wms" eval -w "$ws" --model "$v" --split test --json > "$tmp/$name.eval.json"
}
candidate scratch
candidate warm --init production
"$wms" eval -w "$ws" --model production --split test --json > "$tmp/production.eval.json"

/usr/bin/python3 - "$tmp" "$share" "$preset" <<'PY' | tee "$out/warm_start.txt"
import json, sys
tmp, share, preset = sys.argv[1:4]
prod = json.load(open(f"{tmp}/production.eval.json"))
print(f"preset {preset}; batch = last {share}% of the photos by name; grown test split: {prod['images']} photos")
print("| model | epochs | train s | gate s | time to decision s | test dice@512 | test iou@512 | dice full | gate verdict |")
print("|---|---|---|---|---|---|---|---|---|")
print(f"| production (base data) | - | - | - | - | {prod['at_score_size']['dice']:.4f} | {prod['at_score_size']['iou']:.4f} "
      f"| {prod['at_full_resolution']['dice']:.4f} | - |")
for name, label in (("scratch", "from scratch"), ("warm", "warm start from production")):
    j = json.load(open(f"{tmp}/{name}.json"))
    ev = json.load(open(f"{tmp}/{name}.eval.json"))
    tr, gt = map(float, open(f"{tmp}/{name}.secs").read().split())
    try:
        verdict = json.load(open(f"{tmp}/{name}.gate.json"))["verdict"]
    except Exception:
        verdict = "?"
    print(f"| {label} | {j['epochs_run']} | {tr:.0f} | {gt:.0f} | {tr + gt:.0f} | {ev['at_score_size']['dice']:.4f} "
          f"| {ev['at_score_size']['iou']:.4f} | {ev['at_full_resolution']['dice']:.4f} | {verdict} |")
PY
