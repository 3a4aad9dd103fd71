"""Real-time scheduling of the control path (ros/realtime.py), and the latency record."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from massage_td3_ros.ros.latency import LatencyRecord

LINUX = sys.platform.startswith("linux")

# In a child process: the test process keeps its own scheduling.
CHILD = textwrap.dedent("""
    import json, os, threading, time
    from massage_td3_ros.ros.realtime import lower_this_thread, raise_process_to_realtime
    lowered = threading.Event()
    def background():
        lower_this_thread(10)
        lowered.set()
        time.sleep(2)
    kept = threading.Thread(target=background); kept.start(); lowered.wait()
    other = threading.Thread(target=time.sleep, args=(2,)); other.start()
    reason = raise_process_to_realtime(42, (kept.native_id,))
    def policy(tid):
        return os.sched_getscheduler(tid), os.sched_getparam(tid).sched_priority
    print(json.dumps({"reason": reason, "main": policy(0), "other": policy(other.native_id),
                      "kept": policy(kept.native_id),
                      "kept_nice": os.getpriority(os.PRIO_PROCESS, kept.native_id)}))
""")


@pytest.mark.skipif(not LINUX, reason="SCHED_FIFO is Linux's")
def test_every_thread_but_the_background_one_runs_at_the_real_time_priority():
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    result = json.loads(out)
    if result["reason"] is not None:   # not permitted here: nothing may have changed
        assert "not permitted" in result["reason"]
        assert result["main"][0] == result["other"][0] == os.SCHED_OTHER
        return
    assert result["main"] == [os.SCHED_FIFO, 42]
    assert result["other"] == [os.SCHED_FIFO, 42]
    assert result["kept"] == [os.SCHED_OTHER, 0]
    assert result["kept_nice"] == 10


@pytest.mark.skipif(not LINUX, reason="SCHED_FIFO is Linux's")
def test_a_thread_leaves_an_inherited_real_time_policy():
    code = textwrap.dedent("""
        import os, threading
        from massage_td3_ros.ros.realtime import lower_this_thread, raise_process_to_realtime
        if raise_process_to_realtime(30) is not None:
            print("skip"); raise SystemExit
        seen = []
        def work():   # started after the raise: inherits SCHED_FIFO, then leaves it
            seen.append(os.sched_getscheduler(0)); lower_this_thread(5)
            seen.append(os.sched_getscheduler(0))
        t = threading.Thread(target=work); t.start(); t.join()
        print(seen == [os.SCHED_FIFO, os.SCHED_OTHER])
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout.strip()
    if out == "skip":
        pytest.skip("real-time scheduling not permitted here")
    assert out == "True"


def test_the_latency_record_summarises_its_window_in_milliseconds():
    record = LatencyRecord(window=100)
    assert record.summary() == {"samples": 0} and record.describe() == "no samples"
    for k in range(1, 201):   # 1 ms ... 200 ms; the window keeps 101 ... 200
        record.add(k * 1e-3)
    summary = record.summary()
    assert record.count == 200 and summary["samples"] == 100
    assert summary["p50_ms"] == pytest.approx(150.5)
    assert summary["p99_ms"] == pytest.approx(199.01)
    assert summary["max_ms"] == pytest.approx(200.0)
    assert record.describe() == ("p50 150.50 ms, p99 199.01 ms, max 200.00 ms over 100 "
                                 "control steps")
