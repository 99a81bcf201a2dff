#!/usr/bin/env bash
# redis-cluster.sh - run a three-master Redis Cluster for the redisstore
# tests, from the installed redis-server and redis-cli.
#
#   .ci/redis-cluster.sh start DIR   start three masters on spare loopback
#                                    ports (from 7101 up; each port and its
#                                    cluster bus port, +10000, must be free),
#                                    join them into a cluster, wait for
#                                    cluster_state:ok and print the seeds as
#                                    "127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3"
#   .ci/redis-cluster.sh stop DIR    shut down the nodes started from DIR
#
# DIR holds the node configs, logs, pid files and the chosen ports. Nothing
# is persisted (--save "" --appendonly no). A second start with a healthy
# cluster in DIR prints its seeds again; a broken one is replaced.
set -euo pipefail

FIRST_PORT=${REDIS_CLUSTER_FIRST_PORT:-7101}
LAST_PORT=$((FIRST_PORT + 899))
NODES=3

usage() {
	echo "usage: $0 start DIR | stop DIR" >&2
	exit 2
}

log() { echo "redis-cluster.sh: $*" >&2; }

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# cli PORT ARGS...: run redis-cli against one node with a short timeout.
cli() {
	local port=$1
	shift
	timeout 5 redis-cli -h 127.0.0.1 -p "$port" "$@"
}

# node_state PORT: prints the node's cluster_state (empty when unreachable).
node_state() {
	cli "$1" cluster info 2>/dev/null | tr -d '\r' | sed -n 's/^cluster_state://p'
}

# seeds PORTS...: the comma-separated addresses.
seeds() {
	local out="" p
	for p in "$@"; do out+="${out:+,}127.0.0.1:$p"; done
	echo "$out"
}

# healthy PORTS...: every node answers and reports cluster_state:ok.
healthy() {
	local p
	for p in "$@"; do
		[[ $(node_state "$p") == ok ]] || return 1
	done
}

start() {
	local dir=$1
	command -v redis-server >/dev/null || { log "redis-server not found on PATH"; exit 1; }
	command -v redis-cli >/dev/null || { log "redis-cli not found on PATH"; exit 1; }
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)

	if [[ -f $dir/ports ]]; then
		local old
		read -r -a old <"$dir/ports" || true
		if ((${#old[@]} == NODES)) && healthy "${old[@]}"; then
			log "already running on ports ${old[*]}"
			seeds "${old[@]}"
			return 0
		fi
		log "found a stale or broken cluster in $dir; replacing it"
		stop "$dir"
	fi

	# Choose ports whose cluster bus ports are free too.
	local ports=() p
	for ((p = FIRST_PORT; p <= LAST_PORT && ${#ports[@]} < NODES; p++)); do
		if ! port_open "$p" && ! port_open $((p + 10000)); then
			ports+=("$p")
		fi
	done
	if ((${#ports[@]} < NODES)); then
		log "no $NODES free ports between $FIRST_PORT and $LAST_PORT"
		exit 1
	fi
	echo "${ports[*]}" >"$dir/ports"
	# From here on, a failure stops whatever was started.
	trap 'log "start failed; stopping the nodes"; stop "$dir"' ERR

	for p in "${ports[@]}"; do
		rm -f "$dir/nodes-$p.conf" "$dir/redis-$p.log"
		redis-server --port "$p" --bind 127.0.0.1 \
			--cluster-enabled yes --cluster-config-file "$dir/nodes-$p.conf" \
			--cluster-node-timeout 5000 \
			--save "" --appendonly no --daemonize yes --dir "$dir" \
			--pidfile "$dir/redis-$p.pid" --logfile "$dir/redis-$p.log"
	done
	local i
	for p in "${ports[@]}"; do
		for ((i = 0; ; i++)); do
			[[ $(cli "$p" ping 2>/dev/null || true) == PONG ]] && break
			if ((i >= 100)); then
				log "node on port $p did not answer; log follows"
				cat "$dir/redis-$p.log" >&2 || true
				false
			fi
			sleep 0.1
		done
	done

	local addrs=()
	for p in "${ports[@]}"; do addrs+=("127.0.0.1:$p"); done
	timeout 60 redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes >&2

	for ((i = 0; ; i++)); do
		healthy "${ports[@]}" && break
		if ((i >= 300)); then
			log "cluster did not reach cluster_state:ok within 30s"
			for p in "${ports[@]}"; do cli "$p" cluster info >&2 || true; done
			false
		fi
		sleep 0.1
	done
	trap - ERR
	log "cluster ok on ports ${ports[*]}"
	seeds "${ports[@]}"
}

stop() {
	local dir=$1 p pid i
	[[ -f $dir/ports ]] || return 0
	local ports=()
	read -r -a ports <"$dir/ports" || true
	for p in "${ports[@]}"; do
		pid=""
		[[ -f $dir/redis-$p.pid ]] && pid=$(<"$dir/redis-$p.pid")
		cli "$p" shutdown nosave >/dev/null 2>&1 || true
		if [[ $pid =~ ^[0-9]+$ ]]; then
			for ((i = 0; i < 50; i++)); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			if kill -0 "$pid" 2>/dev/null; then
				kill -9 "$pid" 2>/dev/null || true
			fi
		fi
		rm -f "$dir/redis-$p.pid" "$dir/nodes-$p.conf"
	done
	rm -f "$dir/ports"
	log "stopped ports ${ports[*]}"
}

case ${1-} in
start)
	[[ $# -eq 2 ]] || usage
	start "$2"
	;;
stop)
	[[ $# -eq 2 ]] || usage
	stop "$2"
	;;
*) usage ;;
esac
