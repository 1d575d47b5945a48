#!/usr/bin/env bash
# A throwaway one-node Slurm cluster on this machine, for tests (no systemd needed).
# Usage: scripts/slurm.sh DIR CTLD_PORT SLURMD_PORT   (then: export SLURM_CONF=DIR/slurm.conf)
# Writes the PIDs of what it started to DIR/*.pid (munged only if it was not running); stop them
# by PID. Ports are arguments so that a cluster left from an earlier run cannot answer this one.
set -euo pipefail
D=${1:?dir}; CTLD=${2:?slurmctld port}; SLURMD=${3:?slurmd port}
rm -rf "$D"; mkdir -p "$D"/{state,spool,log}
# munge: the Debian package creates /etc/munge/munge.key; make one if it is missing.
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null || dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 2>/dev/null
  chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
fi
mkdir -p /run/munge && chown munge:munge /run/munge
if ! munge -n >/dev/null 2>&1; then
  runuser -u munge -- /usr/sbin/munged
  cp /run/munge/munged.pid "$D/munged.pid"
fi
munge -n | unmunge >/dev/null
HOST=$(hostname -s)
# The node line from the real hardware, with RealMemory a little lower so the node is not drained.
NODE=$(slurmd -C | head -1 | awk '{for(i=1;i<=NF;i++){ if($i ~ /^RealMemory=/){split($i,a,"="); $i="RealMemory=" int(a[2]*0.97)} } print}')
cat > "$D/slurm.conf" <<CONF
ClusterName=test
SlurmctldHost=$HOST
SlurmctldPort=$CTLD
SlurmdPort=$SLURMD
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pidfile
SlurmdPidFile=$D/slurmd.pidfile
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=512
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
MinJobAge=300
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
DependencyParameters=kill_invalid_depend
$NODE State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$D/slurm.conf
slurmctld -D -i > "$D/log/slurmctld.out" 2>&1 & echo $! > "$D/slurmctld.pid"
slurmd -D > "$D/log/slurmd.out" 2>&1 & echo $! > "$D/slurmd.pid"
for _ in $(seq 1 100); do [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] && break; sleep 0.2; done
[ "$(sinfo -h -o %T)" = idle ] || { echo "slurm did not become idle"; sinfo; tail "$D"/log/*; exit 1; }
echo "slurm ready: SLURM_CONF=$SLURM_CONF"
