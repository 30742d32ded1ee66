#!/usr/bin/env bash
# cluster.sh up DIR | down DIR: a single-node Slurm cluster on this machine,
# for tests, from Debian's slurmctld, slurmd and munge (Slurm 22.05).
#
# `up` writes the munge key, slurm.conf, state, spool and logs under DIR,
# starts munged, slurmctld and slurmd on 127.0.0.1 only, records their PIDs
# in DIR/*.pid and waits until the node takes jobs; the clients need
# SLURM_CONF=DIR/slurm.conf (DIR/env says so). `down` cancels the jobs
# still there, then stops exactly the daemons `up` recorded and any job step
# daemon (slurmstepd) left working in DIR. It must run as root: slurmd
# starts jobs as their users. The daemons run under nice (NICE, default
# 19), and so do the jobs, which inherit slurmd's priority.
set -euo pipefail
cmd=${1:?usage: cluster.sh up|down DIR} dir=${2:?usage: cluster.sh up|down DIR}
NICE=${NICE:-19}

# stop PIDFILE NAME: end the daemon recorded in PIDFILE, if it still runs
# under that name (a recycled PID is left alone).
stop() {
	local pid
	[ -f "$1" ] || return 0
	pid=$(cat "$1")
	if [ -n "$pid" ] && [ "$(ps -o comm= -p "$pid" 2>/dev/null)" = "$2" ]; then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$1"
}

[ ! -d "$dir" ] || dir=$(cd "$dir" && pwd)
case $cmd in
down)
	# The jobs first, while the controller can still end them properly.
	if [ -f "$dir/slurmctld.pid" ] && jobs=$(SLURM_CONF=$dir/slurm.conf squeue -h -o %A 2>/dev/null) && [ -n "$jobs" ]; then
		SLURM_CONF=$dir/slurm.conf scancel $jobs || true
		for _ in $(seq 60); do
			[ -n "$(SLURM_CONF=$dir/slurm.conf squeue -h -o %A 2>/dev/null)" ] || break
			sleep 1
		done
	fi
	stop "$dir/slurmd.pid" slurmd
	stop "$dir/slurmctld.pid" slurmctld
	stop "$dir/munged.pid" munged
	# A job step daemon that outlived slurmd still works in DIR: it is ours.
	for p in $(pgrep -x slurmstepd || true); do
		case $(readlink "/proc/$p/cwd" 2>/dev/null) in
		"$dir" | "$dir"/*) kill -9 "$p" 2>/dev/null || true ;;
		esac
	done
	exit 0 ;;
up) ;;
*) echo "usage: cluster.sh up|down DIR" >&2; exit 2 ;;
esac

[ "$(id -u)" = 0 ] || { echo "cluster.sh: must run as root (slurmd starts jobs as their users)" >&2; exit 1; }
# The daemons bind to the host name's address: it must be a loopback one.
case $(getent hosts "$(hostname)" | awk '{ print $1; exit }') in
127.*|::1) ;;
*) echo "cluster.sh: $(hostname) does not resolve to a loopback address; the daemons would listen beyond this machine" >&2; exit 1 ;;
esac

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
# munged runs as the munge user and checks that its directories are private.
chmod 0711 "$dir"
runuser -u munge -- test -x "$dir" || { echo "cluster.sh: user munge cannot reach $dir (chmod o+x its parents)" >&2; exit 1; }
mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log"
chown munge: "$dir/munge"
# Clients reach the socket, so its directory must be searchable by all.
chmod 0755 "$dir/munge"
[ -f "$dir/munge/munge.key" ] || runuser -u munge -- mungekey -c -k "$dir/munge/munge.key"
runuser -u munge -- nice -n "$NICE" munged \
	--key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
	--pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed"
cp "$dir/munge/munged.pid" "$dir/munged.pid"

# Free ports for the two daemons, so that a system Slurm is not disturbed.
port() {
	local p
	while :; do
		p=$(( 20000 + RANDOM % 20000 ))
		ss -Hltn "sport = :$p" | grep -q . || { echo "$p"; return; }
	done
}
mem=$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
cat >"$dir/slurm.conf" <<CONF
# A single-node cluster for sgn's tests (pipelines/slurm/cluster.sh).
ClusterName=sgntest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$(port)
SlurmdPort=$(port)
# Both daemons bind to what the host name resolves to, checked to be loopback.
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
MpiDefault=none
# Jobs get SIGTERM, then SIGKILL 30 s later (a training job saves its
# checkpoint in between); finished jobs stay visible for an hour.
KillWait=30
MinJobAge=3600
# No slurmdbd: sacct reads the job completion log (sacct -c).
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
JobAcctGatherType=jobacct_gather/none
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
echo "export SLURM_CONF=$dir/slurm.conf" >"$dir/env"
export SLURM_CONF=$dir/slurm.conf
# -i: start afresh, ignoring any state a previous run left in DIR.
nice -n "$NICE" slurmctld -i
nice -n "$NICE" slurmd -N localhost
for _ in $(seq 60); do
	if sinfo -h -N -o %t 2>/dev/null | grep -qx idle; then exit 0; fi
	sleep 1
done
echo "cluster.sh: the node did not come up; logs in $dir/log" >&2
tail -n 5 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
exit 1
