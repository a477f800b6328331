#!/usr/bin/env bash
# A single-node Slurm cluster on this machine (Debian's slurm-wlm + munge), for the corpus pipeline's Slurm test
# (tests/corpus/test_slurm.py) and for trying `corpus.executor.kind: slurm` locally. docs/SCALING.md explains it.
#
#   sudo bash tools/slurm/start_single_node.sh          # install if missing, configure, start, wait until idle
#   bash tools/slurm/start_single_node.sh --if-possible   # as above when root with apt-get; else say why, exit 0
#   bash tools/slurm/start_single_node.sh --stop          # stop the daemons this script started
#
# Idempotent: an already running, idle node is left alone. The node is described with the machine's real CPUs and
# memory (`slurmd -C`); one partition `local` (default) with no time limit; consumable cores and memory, so job array
# tasks run side by side. No systemd needed (containers): the daemons are started directly. Prints the bring-up time.
set -euo pipefail

MODE="${1:-}"
PARTITION="${SLURM_LOCAL_PARTITION:-local}"
CONF_DIR=/etc/slurm
STATE_DIR=/var/spool/slurmctld
SPOOL_DIR=/var/spool/slurmd
LOG_DIR=/var/log/slurm
start=$(date +%s)

say() { echo "slurm-local: $*" >&2; }

cannot() {  # with --if-possible a missing prerequisite is a reason, not a failure
  if [ "$MODE" = "--if-possible" ]; then say "skipped: $*"; exit 0; fi
  say "error: $*"; exit 1
}

stop_daemons() {
  for name in slurmd slurmctld munged; do
    pid=$(pgrep -x "$name" || true)
    [ -n "$pid" ] && kill $pid 2>/dev/null && say "stopped $name ($pid)"
  done
  return 0
}

node_idle() {
  command -v sinfo >/dev/null 2>&1 && sinfo -h -N -o "%t" 2>/dev/null | grep -qE '^(idle|mix|alloc)'
}

if [ "$MODE" = "--stop" ]; then stop_daemons; exit 0; fi
if [ "$MODE" = "--if-possible" ]; then  # never fail the caller (make test): the Slurm test then skips with its reason
  trap 'say "skipped: set-up failed at line $LINENO (see $LOG_DIR/*.log); the Slurm test will skip"; exit 0' ERR
fi
if node_idle; then say "already up: $(sinfo -h -N -o '%N %t %c CPUs %m MB' | head -1)"; exit 0; fi
[ "$(id -u)" = "0" ] || cannot "needs root to install and start slurmctld/slurmd/munged (run with sudo)"

if ! command -v slurmctld >/dev/null 2>&1 || ! command -v slurmd >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1 \
   || ! command -v sbatch >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || cannot "slurm-wlm/munge are missing and there is no apt-get to install them"
  say "installing slurm-wlm and munge with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1 || true
  apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null 2>&1 \
    || cannot "apt-get install slurm-wlm munge failed"
fi

# munge: the key authenticates slurmctld <-> slurmd <-> clients; Debian's package usually creates it already
mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
if [ ! -s /etc/munge/munge.key ]; then
  if command -v mungekey >/dev/null 2>&1; then mungekey --create --keyfile /etc/munge/munge.key --force
  else dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none; fi
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
chmod 0700 /etc/munge /var/lib/munge /var/log/munge
chmod 0755 /run/munge
chmod 0400 /etc/munge/munge.key
if ! pgrep -x munged >/dev/null; then
  runuser -u munge -- /usr/sbin/munged
fi
for _ in $(seq 50); do munge -n >/dev/null 2>&1 && break; sleep 0.1; done
munge -n | unmunge >/dev/null || cannot "munged does not answer"

# slurm.conf for this host: its short name, real CPUs and memory (as slurmd -C measures them)
host=$(hostname -s)
node_line=$(slurmd -C | head -1)                       # NodeName=h CPUs=2 Boards=1 ... RealMemory=23999
cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$node_line")
memory=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node_line")
memory=$(( memory * 95 / 100 ))                         # leave the OS a little
mkdir -p "$CONF_DIR" "$STATE_DIR" "$SPOOL_DIR" "$LOG_DIR"
cat > "$CONF_DIR/slurm.conf" <<EOF
# written by tools/slurm/start_single_node.sh: a single-node cluster on $host
ClusterName=meditron-local
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$STATE_DIR
SlurmdSpoolDir=$SPOOL_DIR
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
SlurmdTimeout=300
MaxArraySize=100001
MaxJobCount=100000
MinJobAge=60
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF

pgrep -x slurmctld >/dev/null || slurmctld -i || cannot "slurmctld did not start; see $LOG_DIR/slurmctld.log"
pgrep -x slurmd >/dev/null || slurmd || cannot "slurmd did not start; see $LOG_DIR/slurmd.log"
for _ in $(seq 120); do
  if node_idle; then
    say "up in $(( $(date +%s) - start )) s: $(sinfo -h -N -o '%N %P %t %c CPUs %m MB' | head -1)"
    exit 0
  fi
  scontrol update NodeName="$host" State=RESUME >/dev/null 2>&1 || true
  sleep 0.5
done
say "error: the node did not become idle within 60 s; see $LOG_DIR/slurmctld.log and $LOG_DIR/slurmd.log"
sinfo -N -l >&2 || true
exit 1
