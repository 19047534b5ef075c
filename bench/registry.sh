#!/usr/bin/env bash
# The registry on SQLite and on PostgreSQL, in one run, and the fleet's rollout time.
#   bench/registry.sh [BUILD_DIR]
# 1. bench_registry (bench/bench_registry.cpp) on a fresh SQLite file and on a fresh
#    database of a PostgreSQL 15 server on 127.0.0.1 (tests/servers/postgres.sh, with
#    fsync on, as a real server runs): median and p99 per operation.
# 2. The fleet test (tests/serve/fleet_test.cpp: two `wms serve` replicas on PostgreSQL
#    and Swift behind haproxy, 4 clients predicting): seconds from `wms models promote`
#    returning to both replicas answering with the new version, for two promotions.
# Prints a table and writes bench/results/registry.json.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
out_dir=$here/results
mkdir -p "$out_dir"
tmp=$(mktemp -d)
cleanup() { "$here/../tests/servers/postgres.sh" stop "$tmp/pg" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
export WMS_PROGRESS=0

chmod 755 "$tmp"  # the server runs as the user postgres when this runs as root
env_line=$(WMS_TEST_PG_FSYNC=on "$here/../tests/servers/postgres.sh" start "$tmp/pg")
eval "$env_line"
/usr/lib/postgresql/15/bin/createdb bench
sqlite=$("$build/bench_registry" --location "$tmp/registry.db")
postgres=$("$build/bench_registry" --location "$WMS_TEST_PG_URL/bench")

fleet_log=$tmp/fleet.log
"$build/tests/wms_fleet_tests" >"$fleet_log" 2>&1 || { tail -n 30 "$fleet_log"; echo "fleet test failed" >&2; exit 1; }
rollouts=$(sed -n 's/.*both replicas serve it \([0-9.]*\) s after the promotion.*/\1/p' "$fleet_log" | paste -sd, -)
requests=$(sed -n 's/^\([0-9]*\) predictions through haproxy, \([0-9]*\) failed.*/\1 \2/p' "$fleet_log")

/usr/bin/python3 - "$sqlite" "$postgres" "$rollouts" "$requests" "$out_dir/registry.json" <<'PY'
import json, sys
sqlite, postgres = json.loads(sys.argv[1]), json.loads(sys.argv[2])
rollouts = [float(x) for x in sys.argv[3].split(",") if x]
ok, failed = (int(x) for x in sys.argv[4].split())
print(f"{'operation':<12} {'SQLite median':>14} {'p99':>8} {'PostgreSQL median':>18} {'p99':>8}   (ms, one call)")
for op in ["open", "create_run", "log_metrics", "finish_run", "list_runs", "find_run", "alias", "move_alias"]:
    a, b = sqlite[op], postgres[op]
    print(f"{op:<12} {a['median_ms']:>14.3f} {a['p99_ms']:>8.3f} {b['median_ms']:>18.3f} {b['p99_ms']:>8.3f}")
print()
print("fleet (2 replicas, PostgreSQL + Swift S3, haproxy, 4 clients, --reload-seconds 0.5):")
for i, s in enumerate(rollouts, 1):
    print(f"  promotion {i}: both replicas serve the new version {s:.2f} s after `wms models promote` returned")
print(f"  predictions through haproxy meanwhile: {ok}, failed: {failed}")
json.dump({"sqlite": sqlite, "postgres": postgres, "fleet": {"rollout_seconds": rollouts, "requests": ok,
           "failed": failed}}, open(sys.argv[5], "w"), indent=2)
PY
