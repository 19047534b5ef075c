#!/usr/bin/env bash
# The dashboard in a real browser: a workspace with one pipeline run (tiny generated
# data), `wms serve` on a free loopback port, then dashboard.mjs in headless Chromium.
#   tests/browser/dashboard_test.sh WMS_BINARY ARTIFACT_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
wms=${1:?usage: dashboard_test.sh WMS_BINARY ARTIFACT_DIR}
artifacts=${2:?usage: dashboard_test.sh WMS_BINARY ARTIFACT_DIR}
if [ ! -d "$here/node_modules/playwright-core" ]; then
  echo "FAIL: $here/node_modules/playwright-core is missing: run scripts/setup.sh (it runs npm ci there)" >&2
  exit 1
fi
[ -x /usr/bin/chromium ] || { echo "FAIL: /usr/bin/chromium is missing: run scripts/setup.sh" >&2; exit 1; }
mkdir -p "$artifacts"
tmp=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
export WMS_PROGRESS=0

"$wms" init "$tmp/ws" >/dev/null
printf 'model: {input_size: 64}\ntraining: {epochs: 2, batch_size: 8}\npipeline: {attempts: 1}\ngate: {floor: 0.0}\n' \
  >> "$tmp/ws/wms.yaml"
"$wms" synth --out "$tmp/b1" --count 24 --size 160 --seed 1 >/dev/null
"$wms" synth --out "$tmp/b2" --count 12 --size 160 --first-id 100 --seed 2 >/dev/null
"$wms" pipeline run -w "$tmp/ws" "$tmp/b1" >/dev/null 2> "$tmp/p1.log" || { cat "$tmp/p1.log" >&2; exit 1; }
"$wms" pipeline run -w "$tmp/ws" "$tmp/b2" >/dev/null 2> "$tmp/p2.log" || true  # improved or not: both are listed

"$wms" serve -w "$tmp/ws" --port 0 2> "$tmp/serve.log" &
server=$!
url=""
for _ in $(seq 1 200); do
  url=$(grep -o 'http://127.0.0.1:[0-9]*' "$tmp/serve.log" | head -1 || true)
  [ -n "$url" ] && curl -fsS "$url/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
[ -n "$url" ] || { echo "FAIL: the server did not start:"; cat "$tmp/serve.log"; exit 1; } >&2
photo=$(ls "$tmp/b1/images/"* | head -1)
node "$here/dashboard.mjs" "$url" "$photo" "$artifacts/dashboard.png"
