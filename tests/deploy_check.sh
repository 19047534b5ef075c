#!/usr/bin/env bash
# The deployment examples in deploy/, checked as far as one machine allows:
#   tests/deploy_check.sh WMS_BINARY
# - systemd: `systemd-analyze verify` of deploy/systemd/wms-serve.service (its ExecStart
#   pointed at the built binary); skipped with a message when systemd-analyze is missing.
# - Kubernetes: every manifest parses; the Deployment's selector matches its pods'
#   labels, the Service selects them and targets a declared port, readiness is /readyz
#   and liveness /healthz, the secrets come from a Secret (none inline), and the
#   ConfigMap's wms.yaml is one wms reads: the container's start command is run on it
#   (copy, `wms init`, `wms remote list`). A cluster is not tried.
set -euo pipefail
wms=$(realpath "${1:?usage: tests/deploy_check.sh WMS_BINARY}")
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if command -v systemd-analyze >/dev/null; then
    sed "s#/usr/local/bin/wms#$wms#" "$here/deploy/systemd/wms-serve.service" >"$tmp/wms-serve.service"
    # verify checks the unit's syntax, its commands and its directives; a missing user or
    # EnvironmentFile is the target machine's business.
    out=$(systemd-analyze verify "$tmp/wms-serve.service" 2>&1 || true)
    if [ -n "$out" ]; then echo "systemd-analyze verify: $out" >&2; exit 1; fi
    echo "systemd unit: verified"
else
    echo "systemd unit: SKIPPED: systemd-analyze is not installed (Debian package systemd)"
fi

/usr/bin/python3 - "$here/deploy/kubernetes/wms-serve.yaml" "$tmp/wms.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
by_kind = {d["kind"]: d for d in docs}
for k in ("ConfigMap", "Deployment", "Service"):
    assert k in by_kind, f"no {k}"
dep, svc, cm = by_kind["Deployment"], by_kind["Service"], by_kind["ConfigMap"]
pod = dep["spec"]["template"]
labels = pod["metadata"]["labels"]
assert dep["spec"]["selector"]["matchLabels"].items() <= labels.items(), "Deployment selector does not match its pods"
assert svc["spec"]["selector"].items() <= labels.items(), "Service does not select the pods"
c = pod["spec"]["containers"][0]
ports = {p["name"] for p in c["ports"]}
for p in svc["spec"]["ports"]:
    assert p["targetPort"] in ports, f"Service targets an undeclared port {p['targetPort']}"
assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
assert any("secretRef" in e for e in c.get("envFrom", [])), "credentials must come from a Secret"
for e in c.get("env", []):
    assert "value" not in e or not any(s in e["name"] for s in ("PASSWORD", "SECRET", "KEY")), f"inline secret {e['name']}"
mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
assert mounts.get("config") == "/etc/wms" and mounts.get("workspace") == "/srv/wms"
open(sys.argv[2], "w").write(cm["data"]["wms.yaml"])
print("kubernetes manifests: consistent (" + ", ".join(sorted(by_kind)) + ")")
PY
# The container's start, on this machine: the ConfigMap's wms.yaml in a fresh workspace.
mkdir -p "$tmp/srv"
cp "$tmp/wms.yaml" "$tmp/srv/wms.yaml"
"$wms" init "$tmp/srv" >/dev/null
"$wms" remote list -w "$tmp/srv" | grep -q "storage" || { echo "the ConfigMap's wms.yaml has no remote wms reads" >&2; exit 1; }
echo "ConfigMap wms.yaml: read by wms (remote 'storage')"
