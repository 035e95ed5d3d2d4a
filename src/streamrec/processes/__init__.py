"""``streamrec serve`` as a small supervisor: API worker processes sharing one listening socket,
one process per consumer group and one for maintenance, each restarted when it dies.

:mod:`~streamrec.processes.supervisor` starts and watches the children (``multiprocessing``,
spawned, so no child inherits the parent's threads or database handles);
:mod:`~streamrec.processes.roles` is what each child runs; :mod:`~streamrec.processes.table`
is the file through which every API worker shows the processes in ``/v1/status``.
"""

from streamrec.processes.supervisor import ChildSpec, Supervisor
from streamrec.processes.table import ProcessTable

__all__ = ["ChildSpec", "ProcessTable", "Supervisor"]
