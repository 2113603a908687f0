#!/usr/bin/env bash
# Runs the fake domain services and the three gateways in the foreground with
# prefixed logs ([fakes] ..., [mobile] ...). Ctrl-C (or SIGTERM to this
# script) stops them all gracefully; if one exits, the others are stopped too,
# so nothing is ever left running, and each one's exit status is reported
# ("[run] mobile exited with status 0"). Binaries come from `make build`
# (bin/). scripts/smoke.sh (make smoke) runs this script end to end.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../lib/procs.sh
source "$root/deploy/lib/procs.sh"
procs_label=run
procs_reset_signals "$@"
bin="${BIN:-$root/bin}"
trap 'procs_stop_all; exit 0' INT TERM
trap 'procs_stop_all' EXIT

for b in fakes bff-mobile bff-web bff-partner; do
	[[ -x "$bin/$b" ]] || { echo "[run] $bin/$b is missing; run make build" >&2; exit 1; }
done

start fakes "$bin/fakes"
# Wait for the fakes so the gateways' first JWKS fetch succeeds at once.
for _ in $(seq 100); do
	listening 9000 && break
	sleep 0.1
done

start mobile "$bin/bff-mobile"
# Local http: without this browsers would drop the Secure session cookie.
# The origin is the usual address of a single-page app's development
# server, so CORS can be tried locally (a preflight from it gets 204).
start web env BFF_COOKIE_INSECURE="${BFF_COOKIE_INSECURE:-true}" \
	BFF_CORS_ORIGINS="${BFF_CORS_ORIGINS:-http://localhost:5173}" "$bin/bff-web"
# The keys file is named explicitly so the run never depends on where the
# gateway happens to look for it; audit files go to audit/ at the root of
# the repository (ignored by git), where the gateway's own default "audit"
# puts them when it is started from there.
start partner env \
	BFF_PARTNER_KEYS_FILE="${BFF_PARTNER_KEYS_FILE:-$root/deploy/dev/partner-keys.yaml}" \
	BFF_AUDIT_DIR="${BFF_AUDIT_DIR:-$root/audit}" "$bin/bff-partner"

echo "[run] fakes http://127.0.0.1:9000  mobile :8081 (admin 127.0.0.1:18081)  web :8082 (18082, CORS origin ${BFF_CORS_ORIGINS:-http://localhost:5173})  partner :8083 (18083); Ctrl-C stops all"
procs_wait_any
