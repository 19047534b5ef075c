#!/usr/bin/env bash
# Validation and ingest speed on real photos.
#   bench/validate_real.sh DATA_DIR [WMS_BINARY]
# DATA_DIR holds images/ and masks/ (e.g. ../shared/datasets/water-meters).
# Prints a table and writes bench/results/validate_real.json. Uses every core.
set -euo pipefail
data=${1:?usage: bench/validate_real.sh DATA_DIR [WMS_BINARY]}
wms=${2:-$(dirname "$0")/../build/wms}
out_dir=$(dirname "$0")/results
mkdir -p "$out_dir"
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' EXIT
export WMS_PROGRESS=0

pairs=$(ls "$data/images" | wc -l)
t() { local s e; s=$(date +%s.%N); "$@" > "$tmp/last.json"; e=$(date +%s.%N); awk "BEGIN{print $e - $s}"; }

validate_s=$(t "$wms" validate --alone --json "$data" || true)
errors=$(/usr/bin/python3 -c "import json;print(json.load(open('$tmp/last.json'))['errors'])")
"$wms" init "$tmp/ws" >/dev/null
add_s=$(t "$wms" data add --json -w "$tmp/ws" "$data")
again_s=$(t "$wms" data add --json -w "$tmp/ws" "$data")
status_s=$(t "$wms" data status --json -w "$tmp/ws")
cores=$(nproc)

printf '\n%-34s %10s %12s\n' "step ($pairs pairs, $cores cores)" "seconds" "pairs/s"
for row in "validate --alone:$validate_s" "data add (new dataset):$add_s" "data add (same batch again):$again_s" "data status (hash working copy):$status_s"; do
  name=${row%%:*}; secs=${row##*:}
  printf '%-34s %10.2f %12.0f\n' "$name" "$secs" "$(awk "BEGIN{print $pairs / $secs}")"
done
echo "validation errors: $errors"
cat > "$out_dir/validate_real.json" <<JSON
{"pairs": $pairs, "cores": $cores, "errors": $errors, "validate_s": $validate_s, "add_s": $add_s, "add_again_s": $again_s, "status_s": $status_s}
JSON
