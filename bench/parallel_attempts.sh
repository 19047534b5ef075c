#!/usr/bin/env bash
# What parallel attempts buy (infra.machines): the same pipeline run with its attempts
# one after another on one leased machine, and at once on two, in one run.
#   bench/parallel_attempts.sh [BUILD_DIR]
# The machines are jobs of a single-node Slurm cluster on 127.0.0.1 with one CPU each
# (tests/servers/slurm.sh: task/affinity binds a job to its CPU, so two jobs on this
# 2-core machine are two 1-core machines that do not slow each other); the data goes
# through an S3 server (Swift, tests/servers/swift_s3.sh), as on real machines.
# Two cases, two attempts each, from an empty workspace:
#   none improves   gate.floor 1.0: every attempt trains and is gated (the worst case)
#   first improves  gate.floor 0.0: the first attempt to finish wins
# Prints time to decision (the pipeline's wall time), the train job's time, machine-
# seconds held and cost (at infra.cost_per_hour 1.0), and writes
# bench/results/parallel_attempts.json. Needs root (slurmd) and Debian's slurm and swift.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
wms=$build/wms
out_dir=$here/results
mkdir -p "$out_dir"
tmp=$(mktemp -d)
cleanup() {
  "$here/../tests/servers/slurm.sh" stop "$tmp/slurm" >/dev/null 2>&1 || true
  "$here/../tests/servers/swift_s3.sh" stop "$tmp/swift" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
export WMS_PROGRESS=0

eval "$("$here/../tests/servers/swift_s3.sh" start "$tmp/swift")"
eval "$("$here/../tests/servers/slurm.sh" start "$tmp/slurm")"
"$wms" synth --out "$tmp/batch" --count 48 --size 128 --seed 1 >/dev/null

results=()
for case in none first; do
  floor=$([ "$case" = none ] && echo 1.0 || echo 0.0)
  for machines in 1 2; do
    ws=$tmp/ws-$case-$machines
    bucket=wms-bench-$case-$machines
    aws --endpoint-url "$S3_ENDPOINT" s3 mb "s3://$bucket" >/dev/null
    "$wms" init "$ws" >/dev/null
    "$wms" remote add storage "s3://$bucket/p" --default --endpointurl "$S3_ENDPOINT" -w "$ws" >/dev/null
    cat >>"$ws/wms.yaml" <<EOF
model: {input_size: 64}
training: {epochs: 6, batch_size: 8, seed: 1}
pipeline: {attempts: 2}
gate: {floor: $floor}
infra:
  provider: slurm
  cost_per_hour: 1.0
  machines: $machines
  slurm:
    workdir: $tmp/node-$case-$machines
    wms: $wms
    queue_timeout: 120
    sbatch_args: [--cpus-per-task=1]
EOF
    start=$(date +%s.%N)
    rc=0
    "$wms" pipeline run --json -w "$ws" "$tmp/batch" >"$tmp/run.json" 2>"$tmp/run.err" || rc=$?
    end=$(date +%s.%N)
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 10 ]; then
      tail -n 20 "$tmp/run.err"
      echo "pipeline run failed ($case, $machines machines): exit $rc" >&2
      exit 1
    fi
    results+=("$(/usr/bin/python3 - "$tmp/run.json" "$case" "$machines" "$start" "$end" <<'PY'
import json, sys
st = json.load(open(sys.argv[1]))
jobs = {j["name"]: j for j in st["jobs"]}
train, stop = jobs["train"], jobs["stop-infra"]["outputs"]
print(json.dumps({"case": sys.argv[2], "machines": int(sys.argv[3]), "outcome": st["outcome"],
                  "attempts": train["outputs"]["attempts"], "decision_seconds": float(sys.argv[5]) - float(sys.argv[4]),
                  "train_seconds": train["ended"] - train["started"], "machine_seconds": stop["seconds"],
                  "cost": stop["cost"]}))
PY
)")
  done
done

/usr/bin/python3 - "$out_dir/parallel_attempts.json" "${results[@]}" <<'PY'
import json, sys
rows = [json.loads(r) for r in sys.argv[2:]]
print(f"{'case':<16} {'machines':>8} {'outcome':>13} {'attempts':>8} {'decision s':>10} {'train s':>8} "
      f"{'machine-s':>9} {'cost':>7}")
for r in rows:
    name = "none improves" if r["case"] == "none" else "first improves"
    print(f"{name:<16} {r['machines']:>8} {r['outcome']:>13} {r['attempts']:>8} {r['decision_seconds']:>10.1f} "
          f"{r['train_seconds']:>8.1f} {r['machine_seconds']:>9.1f} {r['cost']:>7.4f}")
json.dump(rows, open(sys.argv[1], "w"), indent=2)
PY
