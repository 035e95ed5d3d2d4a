"""A whole distributed deployment on one machine: what ``make run-cluster`` starts (see
:mod:`streamrec.cluster.local`) and ``make stop-cluster`` cleans up (:mod:`streamrec.cluster.pids`)."""

from streamrec.cluster.config import GROUPS, ClusterPlan, Servers, cluster_settings, prepare_stream
from streamrec.cluster.local import LocalCluster, Member
from streamrec.cluster.pids import (
    process_start_ticks,
    running_supervisor,
    stop_leftovers,
    write_pid_file,
)

__all__ = [
    "GROUPS",
    "ClusterPlan",
    "LocalCluster",
    "Member",
    "Servers",
    "cluster_settings",
    "prepare_stream",
    "process_start_ticks",
    "running_supervisor",
    "stop_leftovers",
    "write_pid_file",
]
