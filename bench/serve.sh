#!/usr/bin/env bash
# HTTP prediction, wms vs the peer server (../shared/bench/peer_serve.py: the original
# API on FastAPI + PyTorch, tuned allocator), same machine, same run: one real photo,
# latency p50/p99 and throughput with 1 and 8 concurrent clients (wrk). Both serve the
# same 512 model (random weights made by PyTorch, imported into wms). With a third
# argument, a wms bundle (e.g. one trained with --config water-meters: two scales and
# mirror images), wms also serves that one (the peer has no such model: wms alone).
# wrk's timeout is 2 s: a request slower than that counts as an error. wms sheds what it
# cannot start within --queue-timeout (503 + Retry-After, counted apart; wrk retries at
# once where a real client would wait); the p50/p99 are over every answer, masks/s over
# the masks.
#   bench/serve.sh DATA_DIR [SECONDS] [BUNDLE]   needs scripts/setup.sh --bench (wrk, the peer's packages)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
data=${1:?usage: bench/serve.sh DATA_DIR [SECONDS]}
secs=${2:-20}
bundle=${3:-}
wms=${WMS_BIN:-$here/../build/wms}
peer=${WMS_PEER_DIR:-$here/../../shared/bench}
out=$here/results
mkdir -p "$out"
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; chmod -R u+w "$tmp"; rm -rf "$tmp"; }
trap cleanup EXIT
export WMS_PROGRESS=0
command -v wrk >/dev/null && /usr/bin/python3 -c "import torch, fastapi, uvicorn, multipart, prometheus_client, cv2" 2>/dev/null ||
  { echo "bench/serve.sh: wrk or the PyTorch peer's packages are missing: run scripts/setup.sh --bench" >&2; exit 2; }
photos=("$data"/images/*.jpg); photo=${photos[0]}

/usr/bin/python3 -c "
import sys, torch; sys.path.insert(0, '$peer'); from peer_unet import WaterMetersUNet
torch.manual_seed(0); torch.save(WaterMetersUNet().state_dict(), '$tmp/w.pth')"
"$wms" init "$tmp/ws" >/dev/null
"$wms" model import "$tmp/w.pth" --out "$tmp/m.wms" >/dev/null
v=$("$wms" models register -w "$tmp/ws" "$tmp/m.wms" --json | /usr/bin/python3 -c "import json,sys;print(json.load(sys.stdin)['version'])")
"$wms" models promote -w "$tmp/ws" "$v" --reason benchmark >/dev/null

"$wms" serve -w "$tmp/ws" --port 18080 2>"$tmp/wms.log" & pids+=($!)
if [ -n "$bundle" ]; then
  "$wms" init "$tmp/ws2" >/dev/null
  v2=$("$wms" models register -w "$tmp/ws2" "$bundle" --json | /usr/bin/python3 -c "import json,sys;print(json.load(sys.stdin)['version'])")
  "$wms" models promote -w "$tmp/ws2" "$v2" --reason benchmark >/dev/null
  "$wms" serve -w "$tmp/ws2" --port 18082 2>"$tmp/wms2.log" & pids+=($!)
  for _ in $(seq 120); do curl -sf http://127.0.0.1:18082/readyz >/dev/null && break; sleep 0.5; done
fi
env MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=-1 /usr/bin/python3 "$peer/peer_serve.py" --port 18081 --weights "$tmp/w.pth" \
  2>"$tmp/peer.log" & pids+=($!)
for url in http://127.0.0.1:18080/readyz http://127.0.0.1:18081/health; do
  for _ in $(seq 120); do curl -sf "$url" >/dev/null && break; sleep 0.5; done
done

# wrk scripts: wms takes the raw photo, the peer a multipart form (field "image").
cat > "$tmp/wms.lua" <<LUA
wrk.method = "POST"
local f = io.open("$photo", "rb"); wrk.body = f:read("*a"); f:close()
wrk.headers["Content-Type"] = "image/jpeg"
LUA
cat > "$tmp/peer.lua" <<LUA
wrk.method = "POST"
local f = io.open("$photo", "rb"); local img = f:read("*a"); f:close()
local b = "wmsbenchboundary"
wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. b
wrk.body = "--" .. b .. "\r\nContent-Disposition: form-data; name=\"image\"; filename=\"p.jpg\"\r\n" ..
  "Content-Type: image/jpeg\r\n\r\n" .. img .. "\r\n--" .. b .. "--\r\n"
LUA
cat > "$tmp/report.lua" <<'LUA'
-- Answers by status, per wrk thread, summed in done(): 200s are masks, 503s requests the
-- server shed (overload, Retry-After); timeouts and socket errors are failures.
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) ok = 0; shed = 0 end
function response(status, headers, body)
  if status == 200 then ok = ok + 1 elseif status == 503 then shed = shed + 1 end
end
done = function(summary, latency, requests)
  local n200, n503 = 0, 0
  for _, t in ipairs(threads) do n200 = n200 + t:get("ok"); n503 = n503 + t:get("shed") end
  local e = summary.errors
  io.write(string.format("REPORT %d %d %d %d %.2f %.2f %.2f\n", summary.requests, n200, n503,
    e.connect + e.read + e.write + e.timeout + (e.status - n503),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, n200 / (summary.duration / 1e6)))
end
LUA
cat "$tmp/report.lua" >> "$tmp/wms.lua"
cat "$tmp/report.lua" >> "$tmp/peer.lua"

# Waits until every server is idle (under 5% of a core over half a second, at most
# 120 s): a server that queues without bound still computes answers wrk gave up on, and
# would take the cores from the next one measured.
settle() {
  for _ in $(seq 240); do
    local busy=0 p a b
    for p in "${pids[@]}"; do
      a=$(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null || echo 0); sleep 0.5
      b=$(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null || echo 0)
      [ $(( b - a )) -gt 2 ] && busy=1
    done
    [ $busy = 0 ] && return
  done
}

printf '\n| server | clients | requests | masks (200) | shed (503) | timeouts, errors | p50 ms | p99 ms | masks/s |\n|---|---|---|---|---|---|---|---|---|\n' | tee "$out/serve.txt"
sides="peer wms"
[ -n "$bundle" ] && sides="$sides bundle"
for c in 1 8 32; do
  for side in $sides; do
    case $side in
      peer) port=18081 path=/predict script=peer ;;
      wms) port=18080 path=/v1/predict script=wms ;;
      bundle) port=18082 path=/v1/predict script=wms ;;
    esac
    settle
    line=$(wrk -t "$(( c < 8 ? c : 8 ))" -c "$c" -d "${secs}s" --latency -s "$tmp/$script.lua" "http://127.0.0.1:$port$path" | grep REPORT)
    read -r _ n ok shed err p50 p99 rps <<<"$line"
    name=$([ $side = bundle ] && echo "wms, $(basename "$bundle")" || echo $side)
    printf '| %s | %d | %d | %d | %d | %d | %s | %s | %s |\n' "$name" "$c" "$n" "$ok" "$shed" "$err" "$p50" "$p99" "$rps" \
      | tee -a "$out/serve.txt"
  done
done
