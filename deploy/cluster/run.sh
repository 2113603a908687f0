#!/usr/bin/env bash
# Runs a local Shopfront cluster in the foreground (make run-cluster): one
# redis-server, the fake domain services on 127.0.0.1:9000, two instances of
# each gateway sharing that Redis, and nginx in front of them on the client
# ports of make run (8081-8083). Logs are prefixed per process ([redis],
# [fakes], [mobile-1], [mobile-2], ..., [nginx]). Ctrl-C (or SIGTERM to this
# script) stops everything; if one process exits, the others are stopped
# too. Binaries come from make build (bin/); nginx and redis-server are
# Debian's, found on PATH or in /usr/sbin. docs/cluster.md explains it all.
#
# Every port can be moved with an environment variable (CLUSTER_* below).
# While it runs, tmp/cluster.env at the root of the repository (or the file
# CLUSTER_STATE names) holds the ports, the process ids and the routing
# file, for make cluster-check.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$root/deploy/cluster"
# shellcheck source=../lib/procs.sh
source "$root/deploy/lib/procs.sh"
procs_label=cluster
procs_reset_signals "$@"
bin="${BIN:-$root/bin}"

redis_port="${CLUSTER_REDIS_PORT:-6380}"
fakes_port="${CLUSTER_FAKES_PORT:-9000}"
# Client ports (nginx), then each instance's public and admin ports.
declare -A client=([mobile]="${CLUSTER_MOBILE_PORT:-8081}" [web]="${CLUSTER_WEB_PORT:-8082}" [partner]="${CLUSTER_PARTNER_PORT:-8083}")
declare -A port=(
	[mobile-1]="${CLUSTER_MOBILE_1_PORT:-18181}" [mobile-2]="${CLUSTER_MOBILE_2_PORT:-18191}"
	[web-1]="${CLUSTER_WEB_1_PORT:-18182}" [web-2]="${CLUSTER_WEB_2_PORT:-18192}"
	[partner-1]="${CLUSTER_PARTNER_1_PORT:-18183}" [partner-2]="${CLUSTER_PARTNER_2_PORT:-18193}"
)
declare -A admin=(
	[mobile-1]="${CLUSTER_MOBILE_1_ADMIN:-19181}" [mobile-2]="${CLUSTER_MOBILE_2_ADMIN:-19191}"
	[web-1]="${CLUSTER_WEB_1_ADMIN:-19182}" [web-2]="${CLUSTER_WEB_2_ADMIN:-19192}"
	[partner-1]="${CLUSTER_PARTNER_1_ADMIN:-19183}" [partner-2]="${CLUSTER_PARTNER_2_ADMIN:-19193}"
)
instances=(mobile-1 mobile-2 web-1 web-2 partner-1 partner-2)
# The drain that makes a rolling restart lose nothing behind this nginx:
# longer than its upstream keepalive_timeout (docs/cluster.md#drain).
drain="${CLUSTER_DRAIN_DELAY:-3s}"
keepalive="${CLUSTER_NGINX_KEEPALIVE_TIMEOUT:-1s}"
state="${CLUSTER_STATE:-$root/tmp/cluster.env}"

# Debian installs nginx in /usr/sbin, which a user's PATH may lack.
nginx="$(PATH="$PATH:/usr/sbin:/sbin" command -v nginx || true)"
redis="$(command -v redis-server || true)"
missing=()
[[ -n $nginx ]] || missing+=(nginx)
[[ -n $redis ]] || missing+=(redis-server)
if ((${#missing[@]})); then
	echo "[cluster] ${missing[*]} not found; install with: sudo apt-get install -y nginx redis-server" >&2
	exit 1
fi
for b in fakes bff-mobile bff-web bff-partner; do
	[[ -x "$bin/$b" ]] || { echo "[cluster] $bin/$b is missing; run make build" >&2; exit 1; }
done
for p in "$redis_port" "$fakes_port" "${client[@]}" "${port[@]}" "${admin[@]}"; do
	if listening "$p"; then
		echo "[cluster] port $p is already in use (make run or another cluster?); stop it or move the port (CLUSTER_* variables, docs/cluster.md)" >&2
		exit 1
	fi
done

work="$(mktemp -d "${TMPDIR:-/tmp}/shopfront-cluster.XXXXXX")"
mkdir -p "$work/redis" "$(dirname "$state")"
# The state file goes first, so make cluster-check never finds a cluster
# that is stopping.
stop_cluster() {
	rm -f "$state"
	procs_stop_all
	rm -rf "$work"
}
trap 'stop_cluster; exit 0' INT TERM
trap 'stop_cluster' EXIT

# wait_port PORT NAME: until something accepts on 127.0.0.1:PORT (10 s).
wait_port() {
	for _ in $(seq 100); do
		listening "$1" && return 0
		sleep 0.1
	done
	echo "[cluster] $2 did not listen on 127.0.0.1:$1 within 10 s" >&2
	exit 1
}

# Redis keeps nothing on disk: the cluster starts empty every time.
start redis "$redis" --bind 127.0.0.1 --port "$redis_port" --dir "$work/redis" \
	--save "" --appendonly no --protected-mode yes
start fakes "$bin/fakes" -addr "127.0.0.1:$fakes_port"
wait_port "$redis_port" redis
wait_port "$fakes_port" fakes

upstreams=()
for s in catalog inventory pricing reviews recommendations users orders cart payments notifications identity media; do
	upstreams+=("BFF_UPSTREAM_${s^^}_URL=http://127.0.0.1:$fakes_port/$s")
done
# One routing file for every instance: edit it and send SIGHUP to all of
# them (make cluster-check does) to move a canary ramp everywhere at once.
routing="${CLUSTER_ROUTING_FILE:-$work/bff.yaml}"
if [[ ! -e $routing ]]; then
	cat >"$routing" <<YAML
# Canary routing shared by every instance of the cluster (BFF_CONFIG).
routing:
  catalog:
    sticky: user
    variants:
      - {name: stable, weight: 100}
      - {name: canary, weight: 0, url: "http://127.0.0.1:$fakes_port/catalog"}
YAML
fi
audit="${CLUSTER_AUDIT_DIR:-$root/audit/cluster}"

for i in "${instances[@]}"; do
	g="${i%-*}"
	extra=()
	case $g in
	web) extra=(BFF_COOKIE_INSECURE=true BFF_CORS_ORIGINS="${BFF_CORS_ORIGINS:-http://localhost:5173}") ;;
	partner)
		extra=(BFF_PARTNER_KEYS_FILE="${BFF_PARTNER_KEYS_FILE:-$root/deploy/dev/partner-keys.yaml}"
			BFF_AUDIT_DIR="$audit/$i")
		;;
	esac
	start "$i" env "${upstreams[@]}" "${extra[@]}" \
		BFF_ADDR="127.0.0.1:${port[$i]}" BFF_ADMIN_ADDR="127.0.0.1:${admin[$i]}" \
		BFF_REDIS_URL="redis://127.0.0.1:$redis_port/0" BFF_TRUSTED_PROXIES=127.0.0.1/32 \
		BFF_DRAIN_DELAY="$drain" BFF_CONFIG="$routing" "$bin/bff-$g"
done
for i in "${instances[@]}"; do
	for _ in $(seq 300); do
		[[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:${admin[$i]}/readyz")" == 200 ]] && break
		kill -0 "${pid_of[$i]}" 2>/dev/null || { echo "[cluster] $i exited before it was ready" >&2; exit 1; }
		sleep 0.1
	done
done

sed -e "s|@DIR@|$work|g" -e "s|@KEEPALIVE@|$keepalive|g" \
	-e "s|@MOBILE_PORT@|${client[mobile]}|g" -e "s|@WEB_PORT@|${client[web]}|g" -e "s|@PARTNER_PORT@|${client[partner]}|g" \
	-e "s|@MOBILE_1@|${port[mobile-1]}|g" -e "s|@MOBILE_2@|${port[mobile-2]}|g" \
	-e "s|@WEB_1@|${port[web-1]}|g" -e "s|@WEB_2@|${port[web-2]}|g" \
	-e "s|@PARTNER_1@|${port[partner-1]}|g" -e "s|@PARTNER_2@|${port[partner-2]}|g" \
	"$here/nginx.conf.tmpl" >"$work/nginx.conf"
start nginx "$nginx" -p "$work" -e stderr -c "$work/nginx.conf"
for p in "${client[@]}"; do wait_port "$p" nginx; done

{
	echo "CLUSTER_FAKES=http://127.0.0.1:$fakes_port"
	echo "CLUSTER_REDIS=127.0.0.1:$redis_port"
	echo "CLUSTER_ROUTING_FILE=$routing"
	echo "CLUSTER_AUDIT_DIR=$audit"
	for g in mobile web partner; do echo "CLUSTER_${g^^}=127.0.0.1:${client[$g]}"; done
	for i in "${instances[@]}"; do
		v="${i^^}"
		v="${v//-/_}"
		echo "CLUSTER_${v}=127.0.0.1:${port[$i]}"
		echo "CLUSTER_${v}_ADMIN=127.0.0.1:${admin[$i]}"
		echo "CLUSTER_${v}_PID=${pid_of[$i]}"
	done
} >"$state"

echo "[cluster] ready: nginx mobile :${client[mobile]} web :${client[web]} partner :${client[partner]} -> two instances each; redis :$redis_port; fakes :$fakes_port; make cluster-check proves it; Ctrl-C stops all"
procs_wait_any
