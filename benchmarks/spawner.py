"""Start the measured children from a process that stays small, so their peak RSS is theirs.

On Linux, exec records the high-water RSS of the address space it replaces, and a forked (or
vforked) child's address space is its parent's. So a child started straight from the
benchmark process, which holds a generated company of 50,000 employees, reports the
benchmark's size as its own ru_maxrss. This helper, started once and importing almost
nothing, starts each child instead and reports its wait4 rusage.

Protocol: one JSON request per line on stdin ({"args", "env", "cwd", "stdout", "stderr",
"timeout"}), one JSON answer per line on stdout ({"exit_code", "wall", "max_rss_kb", "cpu"}).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

_running: list[subprocess.Popen[bytes]] = []


def _stop(signum: int, frame: object) -> None:
    """Told to stop (the benchmark is ending early): take the running child along."""
    for proc in _running:
        proc.kill()
    os._exit(128 + signum)


def main() -> int:
    """Serve requests until stdin closes."""
    signal.signal(signal.SIGTERM, _stop)
    for line in sys.stdin:
        request = json.loads(line)
        with open(request["stdout"], "wb") as out, open(request["stderr"], "wb") as err:
            started = time.perf_counter()
            proc = subprocess.Popen(
                request["args"], stdout=out, stderr=err, env=request["env"], cwd=request["cwd"]
            )
            _running[:] = [proc]
            watchdog = threading.Timer(request["timeout"], proc.kill)
            watchdog.start()
            try:
                _, status, usage = os.wait4(proc.pid, 0)
            finally:
                watchdog.cancel()
            wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        answer = {
            "exit_code": proc.returncode,
            "wall": wall,
            "max_rss_kb": usage.ru_maxrss,  # kilobytes on Linux
            "cpu": usage.ru_utime + usage.ru_stime,
        }
        print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
