#!/usr/bin/env bash
# dynalite.sh - run dynalite (a DynamoDB implementation on Node.js) for the
# dynamostore tests.
#
#   .ci/dynalite.sh start DIR PORT   install dynalite (pinned) into DIR, start it
#                                    on 127.0.0.1:PORT, wait until it answers,
#                                    print the endpoint URL on stdout
#   .ci/dynalite.sh stop DIR         stop the dynalite started from DIR
#
# The package is installed with `npm install --prefix DIR` (never globally);
# a second start reuses the installation and, when the server from DIR is
# still running, leaves it alone. Data lives in memory only.
set -euo pipefail

DYNALITE_VERSION=4.0.0

usage() {
	echo "usage: $0 start DIR PORT | stop DIR" >&2
	exit 2
}

log() { echo "dynalite.sh: $*" >&2; }

# alive PIDFILE: the pid in PIDFILE names a running process.
alive() {
	local pid
	[[ -f $1 ]] || return 1
	pid=$(<"$1")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null
}

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
	local dir=$1 port=$2
	[[ $port =~ ^[0-9]+$ ]] && ((port > 0 && port < 65536)) || {
		log "bad port: $port"
		exit 2
	}
	command -v node >/dev/null || { log "node not found on PATH"; exit 1; }
	command -v npm >/dev/null || { log "npm not found on PATH"; exit 1; }
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	local pidfile=$dir/dynalite.pid cli=$dir/node_modules/dynalite/cli.js

	if alive "$pidfile"; then
		if port_open "$port"; then
			log "already running (pid $(<"$pidfile"))"
			echo "http://127.0.0.1:$port"
			return 0
		fi
		log "pid $(<"$pidfile") is running but port $port is closed; restarting"
		stop "$dir"
	fi
	rm -f "$pidfile"
	if port_open "$port"; then
		log "port $port is already in use by another process"
		exit 1
	fi

	local installed=""
	if [[ -f $dir/node_modules/dynalite/package.json ]]; then
		installed=$(node -p "require(process.argv[1]).version" "$dir/node_modules/dynalite/package.json")
	fi
	if [[ $installed != "$DYNALITE_VERSION" ]]; then
		log "installing dynalite@$DYNALITE_VERSION into $dir"
		npm install --prefix "$dir" --no-audit --no-fund --loglevel=error \
			"dynalite@$DYNALITE_VERSION" >&2
	fi
	[[ -f $cli ]] || { log "missing $cli after install"; exit 1; }

	nohup node "$cli" --host 127.0.0.1 --port "$port" >"$dir/dynalite.log" 2>&1 </dev/null &
	echo $! >"$pidfile"

	local i
	for ((i = 0; i < 300; i++)); do
		if port_open "$port"; then
			log "started (pid $(<"$pidfile")) on port $port"
			echo "http://127.0.0.1:$port"
			return 0
		fi
		if ! alive "$pidfile"; then
			log "dynalite exited; log follows"
			cat "$dir/dynalite.log" >&2 || true
			rm -f "$pidfile"
			exit 1
		fi
		sleep 0.1
	done
	log "dynalite did not open port $port within 30s; log follows"
	cat "$dir/dynalite.log" >&2 || true
	stop "$dir"
	exit 1
}

stop() {
	local dir=$1 pidfile=$1/dynalite.pid pid i
	if ! alive "$pidfile"; then
		rm -f "$pidfile"
		return 0
	fi
	pid=$(<"$pidfile")
	kill "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$pidfile"
	log "stopped (pid $pid)"
}

case ${1-} in
start)
	[[ $# -eq 3 ]] || usage
	start "$2" "$3"
	;;
stop)
	[[ $# -eq 2 ]] || usage
	stop "$2"
	;;
*) usage ;;
esac
