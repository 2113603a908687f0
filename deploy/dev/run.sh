#!/usr/bin/env bash
# Runs the fake domain services and the three gateways in the foreground with
# prefixed logs ([fakes] ..., [mobile] ...). Ctrl-C (or SIGTERM to this
# script) stops them all gracefully; if one exits, the others are stopped too,
# so nothing is ever left running, and each one's exit status is reported
# ("[run] mobile exited with status 0"). Binaries come from `make build`
# (bin/). scripts/smoke.sh (make smoke) runs this script end to end.
set -uo pipefail

# A script that starts this one in the background (without job control)
# hands it SIGINT ignored, and bash cannot trap a signal ignored on entry:
# SIGINT would then reach the children but not this script, which would
# take their exit for a failure. Start again with the default dispositions
# (env --default-signal, coreutils 8.31+), so SIGINT and SIGTERM stop
# everything cleanly however the script was started.
if [[ -z ${SHOPFRONT_RUN_SIGNALS_RESET:-} ]] && env --default-signal=INT true 2>/dev/null; then
	SHOPFRONT_RUN_SIGNALS_RESET=1 exec env --default-signal=INT,TERM "$BASH" "${BASH_SOURCE[0]}" "$@"
fi
unset SHOPFRONT_RUN_SIGNALS_RESET

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${BIN:-$root/bin}"
pids=()
names=()

# start NAME PROGRAM [ENV=VALUE...]: runs PROGRAM with its output prefixed.
# Process substitution keeps $! the program's own pid (not sed's), so the
# signal reaches the program and its drain runs. The prefixer ignores Ctrl-C
# and ends when the program closes its output: were it to die first, the
# program's shutdown logs would be lost and its next write would kill it
# with SIGPIPE in the middle of draining.
start() {
	local name="$1" prog="$2"
	shift 2
	env "$@" "$prog" > >(trap '' INT TERM; exec sed -u "s/^/[$name] /") 2>&1 &
	pids+=("$!")
	names+=("$name")
}

stopping=0
stop_all() {
	((stopping)) && return
	stopping=1
	echo "[run] stopping ${#pids[@]} processes"
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	# Gateways drain for up to 25 s; kill whatever is still there after 30 s.
	for _ in $(seq 300); do
		alive=0
		for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
		((alive)) || break
		sleep 0.1
	done
	for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
	# bash keeps the status of a child wait -n already reaped, so this
	# reports every one, the one that ended the run included.
	local i
	for i in "${!pids[@]}"; do
		wait "${pids[i]}" 2>/dev/null
		echo "[run] ${names[i]} exited with status $?"
	done
	wait 2>/dev/null
}
trap 'stop_all; exit 0' INT TERM
trap 'stop_all' EXIT

for b in fakes bff-mobile bff-web bff-partner; do
	[[ -x "$bin/$b" ]] || { echo "[run] $bin/$b is missing; run make build" >&2; exit 1; }
done

start fakes "$bin/fakes"
# Wait for the fakes so the gateways' first JWKS fetch succeeds at once.
for _ in $(seq 100); do
	(exec 3<>/dev/tcp/127.0.0.1/9000) 2>/dev/null && break
	sleep 0.1
done

start mobile "$bin/bff-mobile"
# Local http: without this browsers would drop the Secure session cookie.
# The origin is the usual address of a single-page app's development
# server, so CORS can be tried locally (a preflight from it gets 204).
start web "$bin/bff-web" BFF_COOKIE_INSECURE="${BFF_COOKIE_INSECURE:-true}" \
	BFF_CORS_ORIGINS="${BFF_CORS_ORIGINS:-http://localhost:5173}"
# The keys file is named explicitly so the run never depends on where the
# gateway happens to look for it; audit files go to audit/ at the root of
# the repository (ignored by git), where the gateway's own default "audit"
# puts them when it is started from there.
start partner "$bin/bff-partner" \
	BFF_PARTNER_KEYS_FILE="${BFF_PARTNER_KEYS_FILE:-$root/deploy/dev/partner-keys.yaml}" \
	BFF_AUDIT_DIR="${BFF_AUDIT_DIR:-$root/audit}"

echo "[run] fakes http://127.0.0.1:9000  mobile :8081 (admin 127.0.0.1:18081)  web :8082 (18082, CORS origin ${BFF_CORS_ORIGINS:-http://localhost:5173})  partner :8083 (18083); Ctrl-C stops all"
# Return when any process exits; the EXIT trap then stops the rest.
wait -n "${pids[@]}"
rc=$?
# Ctrl-C reaches the children and this script together; give the INT trap
# (exit 0) its turn before treating the exit as a failure.
sleep 0.5
# wait -n reaped the one that exited, so it is the one kill -0 cannot reach
# (wait -n -p would name it, but needs bash 5.1).
exited="a process"
for i in "${!pids[@]}"; do
	kill -0 "${pids[i]}" 2>/dev/null || { exited="${names[i]}"; break; }
done
echo "[run] $exited exited (status $rc); stopping the others" >&2
exit 1
