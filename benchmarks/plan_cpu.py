"""Time mapping + planning on a run's own data, in a process that holds only that data.

The benchmark process also holds the sandbox's generated company (tens of thousands of
dicts), and every full garbage collection during build_profiles would scan it too, adding
about a quarter to the time at 50,000 employees. A sync run's heap at that point holds the
HiBob employees and the SCIM users and little else, so this child holds the same.

    python benchmarks/plan_cpu.py INPUT.pickle CONFIG.yaml   # prints {"cpu": s, "counts": {}}
"""

from __future__ import annotations

import gc
import json
import math
import pickle
import sys
import time
from pathlib import Path

from hibob_sync.config.mapping import load_mapping
from hibob_sync.config.settings import load_settings
from hibob_sync.core.plan import make_plan
from hibob_sync.core.profiles import build_profiles


def main() -> int:
    """Best of three: time.process_time around build_profiles + make_plan."""
    data, config = Path(sys.argv[1]), Path(sys.argv[2])
    with data.open("rb") as stream:
        employees, users = pickle.load(stream)  # noqa: S301 - written by harness.py just now
    settings = load_settings(config)
    mapping = load_mapping(settings.mapping_path)
    best = math.inf
    counts: dict[str, int] = {}
    for _ in range(3):
        gc.collect()
        started = time.process_time()
        profiles = build_profiles(employees, mapping)
        plan = make_plan(profiles, users, mapping.fields, settings.leavers)
        best = min(best, time.process_time() - started)
        counts = plan.counts()
        del profiles, plan
    print(json.dumps({"cpu": best, "counts": counts}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
