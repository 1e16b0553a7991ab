#!/usr/bin/env bash
# A one-node Slurm cluster on this machine for hlsbox's tests: munge, slurmctld and slurmd as root,
# one partition with all CPUs and most of the memory. Needs Debian's slurm-wlm and munge (.ci/run
# installs them). `start` is idempotent; `stop` ends the daemons.
set -euo pipefail
conf=/etc/slurm/slurm.conf
case "${1:-start}" in
start)
    if sinfo -h -o %T 2>/dev/null | grep -qE 'idle|mixed|alloc'; then exit 0; fi
    node=$(hostname -s)
    memory=$(( $(free -m | awk '/^Mem:/ {print $2}') - 2048 ))
    mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
    chown munge:munge /run/munge
    cat > "$conf" <<CONF
ClusterName=hlsbox-test
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SwitchType=switch/none
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
JobAcctGatherType=jobacct_gather/none
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
NodeName=$node NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
    pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged
    pgrep -x slurmctld >/dev/null || /usr/sbin/slurmctld
    pgrep -x slurmd >/dev/null || /usr/sbin/slurmd
    for _ in $(seq 60); do
        sinfo -h -o %T 2>/dev/null | grep -qE 'idle|mixed|alloc' && exit 0
        sleep 1
    done
    echo "slurm did not come up:" >&2
    tail -5 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
    exit 1
    ;;
stop)
    scancel --user=root 2>/dev/null || true
    pkill -x slurmd || true
    pkill -x slurmctld || true
    ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
