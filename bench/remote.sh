#!/usr/bin/env bash
# Remote transfer speed: wms remote push/pull against `aws s3 sync` (Debian's awscli)
# on the same S3 server on 127.0.0.1, in one run, on the same objects.
#   bench/remote.sh DATA_DIR [WMS_BINARY]
# DATA_DIR holds images/ and masks/ (e.g. ../shared/datasets/water-meters: 970 pairs,
# about 1,940 objects). The server, OpenStack Swift with s3api (it checks every
# signature and body hash), is started by tests/servers/swift_s3.sh and stopped at the
# end. (moto 5.2.1 refuses its own signatures on ListObjectsV2, which `aws s3 sync`
# needs, so it cannot be the peer's server.)
# Prints a table and writes bench/results/remote.json.
set -euo pipefail
data=${1:?usage: bench/remote.sh DATA_DIR [WMS_BINARY]}
kind=swift
here=$(cd "$(dirname "$0")" && pwd)
wms=${2:-$here/../build/wms}
out_dir=$here/results
mkdir -p "$out_dir"
tmp=$(mktemp -d)
server="$tmp/server"
cleanup() { "$here/../tests/servers/${kind}_s3.sh" stop "$server" >/dev/null 2>&1 || true; chmod -R u+w "$tmp"; rm -rf "$tmp"; }
trap cleanup EXIT
export WMS_PROGRESS=0
eval "$("$here/../tests/servers/${kind}_s3.sh" start "$server")"
export AWS_SHARED_CREDENTIALS_FILE=$tmp/none AWS_CONFIG_FILE=$tmp/none
aws=(aws --endpoint-url "$S3_ENDPOINT")

# t CMD...: seconds CMD took; a failing CMD ends the benchmark (no number for what failed).
t() {
  local s e
  s=$(date +%s.%N)
  "$@" > "$tmp/last.out" || { echo "failed: $*" >&2; cat "$tmp/last.out" >&2; exit 1; }
  e=$(date +%s.%N)
  awk "BEGIN{print $e - $s}"
}

# The dataset as one version (wms validates it: only valid pairs are kept).
"$wms" init "$tmp/ws" >/dev/null
"$wms" data add -w "$tmp/ws" "$data" >/dev/null || true
"${aws[@]}" s3 mb s3://wms-bench >/dev/null
"${aws[@]}" s3 mb s3://aws-bench >/dev/null
"$wms" remote add -w "$tmp/ws" --default bench s3://wms-bench/data --endpointurl "$S3_ENDPOINT" >/dev/null
objects=$(find "$tmp/ws/.wms/cache/files" -type f | wc -l)

wms_push=$(t "$wms" remote push -w "$tmp/ws" --json)
pushed=$(/usr/bin/python3 -c "import json;print(json.load(open('$tmp/last.out'))['transferred'])")
wms_noop=$(t "$wms" remote push -w "$tmp/ws" --json)
noop_moved=$(/usr/bin/python3 -c "import json;print(json.load(open('$tmp/last.out'))['transferred'])")
mkdir -p "$tmp/clone/data"
cp "$tmp/ws/wms.yaml" "$tmp/clone/"
cp "$tmp/ws/data/images.dvc" "$tmp/ws/data/masks.dvc" "$tmp/clone/data/"
"$wms" init "$tmp/clone" >/dev/null
wms_pull=$(t "$wms" remote pull -w "$tmp/clone" --json)
pulled=$(/usr/bin/python3 -c "import json;print(json.load(open('$tmp/last.out'))['transferred'])")

aws_push=$(t "${aws[@]}" s3 sync --only-show-errors "$tmp/ws/.wms/cache/files" s3://aws-bench/data/files)
aws_noop=$(t "${aws[@]}" s3 sync --only-show-errors "$tmp/ws/.wms/cache/files" s3://aws-bench/data/files)
aws_pull=$(t "${aws[@]}" s3 sync --only-show-errors s3://aws-bench/data/files "$tmp/aws-pull")
aws_objects=$(find "$tmp/aws-pull" -type f | wc -l)
[ "$aws_objects" = "$objects" ] || { echo "aws s3 sync moved $aws_objects of $objects objects" >&2; exit 1; }

cores=$(nproc)
printf '\n%s server on 127.0.0.1, %s objects (%s), %s cores\n' "$kind" "$objects" "$(du -sh "$tmp/ws/.wms/cache" | cut -f1)" "$cores"
printf '%-36s %10s %12s\n' "operation" "seconds" "objects/s"
row() { printf '%-36s %10.2f %12.0f\n' "$1" "$2" "$(awk "BEGIN{print $3 / $2}")"; }
row "wms remote push ($pushed moved)" "$wms_push" "$objects"
row "aws s3 sync up" "$aws_push" "$objects"
row "wms remote push, no-op ($noop_moved moved)" "$wms_noop" "$objects"
row "aws s3 sync up, no-op" "$aws_noop" "$objects"
row "wms remote pull, fresh clone ($pulled)" "$wms_pull" "$objects"
row "aws s3 sync down" "$aws_pull" "$objects"
cat > "$out_dir/remote.json" <<JSON
{"server": "$kind", "objects": $objects, "cores": $cores,
 "wms_push_s": $wms_push, "aws_push_s": $aws_push, "wms_noop_push_s": $wms_noop, "aws_noop_push_s": $aws_noop,
 "wms_pull_s": $wms_pull, "aws_pull_s": $aws_pull}
JSON
