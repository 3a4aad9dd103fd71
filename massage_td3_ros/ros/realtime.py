"""Real-time scheduling of the threads on the control path (Linux SCHED_FIFO).

On a shared CPU a woken control thread can wait a whole time slice behind the arm's
physics or the learner; at a real-time priority it runs at once, as ros2_control's
controller manager runs its loop. Every thread of the process is raised (DDS's receive
threads deliver the messages, so they count too) except those named; threads started
later inherit the policy. Needs permission: root, CAP_SYS_NICE, or an ``rtprio`` limit
(e.g. ``@realtime - rtprio 98`` in /etc/security/limits.conf, as for ros2_control).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

TASKS = Path("/proc/self/task")


def raise_process_to_realtime(priority: int, except_threads: tuple[int, ...] = ()) -> str | None:
    """SCHED_FIFO at ``priority`` (1-99) for the process's threads but ``except_threads``
    (native ids). None when done, else why not (the process then keeps its policy)."""
    if not hasattr(os, "sched_setscheduler") or not TASKS.is_dir():
        return "real-time scheduling needs Linux"
    param = os.sched_param(priority)
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, param)   # this thread first: permitted?
    except PermissionError:
        return ("not permitted (run as a user with an rtprio limit, see "
                "/etc/security/limits.conf, or with CAP_SYS_NICE)")
    except OSError as error:
        return str(error)
    for task in TASKS.iterdir():
        tid = int(task.name)
        if tid in except_threads:
            continue
        try:
            os.sched_setscheduler(tid, os.SCHED_FIFO, param)
        except OSError:  # the thread ended meanwhile
            pass
    return None


def lower_this_thread(nice: int) -> None:
    """The calling thread at normal scheduling (leaving an inherited real-time policy)
    and ``nice``: background work that must never delay the control path."""
    if hasattr(os, "sched_setscheduler"):
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))  # 0: this thread
    os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)


def use_realtime_priority(node, priority: int, except_threads: tuple[int, ...] = ()) -> bool:
    """:func:`raise_process_to_realtime` for ``node``'s process, logged either way."""
    reason = raise_process_to_realtime(priority, except_threads)
    if reason is None:
        node.get_logger().info(f"threads at real-time priority {priority} (SCHED_FIFO)")
        return True
    node.get_logger().warning(f"real-time priority {priority} not set: {reason}; running at "
                              "normal priority (the latency can grow on a busy CPU)")
    return False
