#!/usr/bin/env bash
# Starts the fake Compute API seeded with hack/demo-seed.yaml, shows it
# answering through its REST paths, and keeps it running until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bin
echo "building bin/fake-compute..." >&2
go build -o bin/fake-compute ./cmd/fake-compute
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
bin/fake-compute -seed hack/demo-seed.yaml -url-file "$dir/url" >"$dir/out" 2>"$dir/err" &
pid=$!
for _ in $(seq 100); do [ -s "$dir/url" ] && break; sleep 0.1; done
[ -s "$dir/url" ] || { cat "$dir/err" >&2; exit 1; }
url=$(cat "$dir/url")
api="$url/compute/v1/projects/fake-project"
echo "fake Compute API at $url"
echo
echo "== instances (aggregated list):"
curl -fsS "$api/aggregated/instances" | python3 -c '
import json,sys
for scope, v in sorted(json.load(sys.stdin)["items"].items()):
    for i in v.get("instances", []):
        print("  %-14s %-15s %-12s %s" % (i["name"], scope, i["networkInterfaces"][0]["networkIP"], i["status"]))'
echo "== insert a route (POST $api/global/routes):"
curl -fsS -X POST "$api/global/routes" -H 'Content-Type: application/json' \
  -d '{"name":"demo-route","network":"global/networks/default","destRange":"10.244.1.0/24","nextHopInstance":"zones/us-central1-a/instances/demo-node-a","description":"k8s-node-route"}' |
  python3 -c 'import json,sys; o=json.load(sys.stdin); print("  operation", o["name"], o["status"])'
echo "== routes:"
curl -fsS "$api/global/routes" | python3 -c '
import json,sys
for r in json.load(sys.stdin).get("items", []):
    print("  %-12s %-15s -> %s" % (r["name"], r["destRange"], r["nextHopInstance"].rsplit("/",1)[1]))'
echo "== an error, as GCE words it (a route to a VM that does not exist):"
curl -sS -X POST "$api/global/routes" -d '{"name":"bad","network":"global/networks/default","destRange":"10.244.2.0/24","nextHopInstance":"zones/us-central1-a/instances/nope"}'
echo
echo "== call counts ($url/_fake/calls):"
curl -fsS "$url/_fake/calls"
echo
echo "The fake keeps running at $url; press Ctrl-C to stop it."
wait "$pid"
