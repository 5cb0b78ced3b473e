"""Profile the CPU-bound steps of a run at one size, without any server in the way.

Where the "mapping + planning under 2 s at 50k" target is missed, this shows which of our
functions the time goes to. It generates the company, reads it through the real HiBob client
(sandbox on loopback, no latency), builds the SCIM users an in-sync target would list (as
ScimClient would parse them, so no scim2-server is needed), and runs cProfile over:

- ``parse``: ``scim_attributes.from_resource`` on every listed resource (ScimClient.list_users)
- ``map``: ``profiles.build_profiles``
- ``plan``: ``plan.make_plan`` against the in-sync users (a night with no change)

    .venv/bin/python benchmarks/profile_planning.py --size 50000 [--top 15]
    .venv/bin/python benchmarks/profile_planning.py --size 50000 --top 0   # timed, no profiler

``--top 0`` times each step without the profiler (best of three), for comparing commits.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import secrets
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import yaml
from harness import MAPPING, USER_ID

from hibob_sync.config.mapping import FieldMapping, validate
from hibob_sync.core.plan import make_plan
from hibob_sync.core.profiles import Profiles, build_profiles
from hibob_sync.hibob.client import HibobClient
from hibob_sync.http import HttpSettings
from hibob_sync.model import scim_field
from hibob_sync.sandbox import HibobSandbox, generate_company
from hibob_sync.scim.attributes import from_resource, new_resource, placement
from hibob_sync.sync.fetch import fetch_hibob

T = TypeVar("T")


def _profiled(name: str, top: int, step: Callable[[], T]) -> T:
    """Run one step under cProfile; print its CPU time and its costliest functions.

    ``top`` 0: best of three plain runs, no profiler."""
    if top == 0:
        best, result = float("inf"), None
        for _ in range(3):
            gc.collect()
            started = time.process_time()
            result = step()
            best = min(best, time.process_time() - started)
        print(f"== {name}: {best:.3f} s CPU (best of 3)")
        return result  # type: ignore[return-value]
    gc.collect()
    profiler = cProfile.Profile()
    started = time.process_time()
    profiler.enable()
    result = step()
    profiler.disable()
    print(f"\n== {name}: {time.process_time() - started:.3f} s CPU (under the profiler)")
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("tottime").print_stats(top)
    return result


def _in_sync_resources(profiles: Profiles) -> list[dict[str, Any]]:
    """The resources a target holds after a good sync, as the server would list them."""
    where = placement()
    ids = {p.email: f"user-{n}" for n, p in enumerate(profiles.profiles)}
    resources = []
    for profile in profiles.profiles:
        values = {scim_field(k): v for k, v in profile.values.items() if k != "manager_email"}
        manager = profile.values.get("manager_email")
        values["manager_id"] = ids.get(str(manager)) if manager else None
        resource = new_resource(values, profile.employee_id, profile.active, where)
        resource["id"] = ids[profile.email]
        resource["meta"] = {"resourceType": "User", "location": f"/Users/{resource['id']}"}
        resources.append(resource)
    return resources


def main(argv: Sequence[str] | None = None) -> int:
    """Profile parse, map and plan at one size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--top", type=int, default=12, help="functions shown per step")
    args = parser.parse_args(argv)

    mapping: FieldMapping = validate(yaml.safe_load(MAPPING)["mapping"], "benchmark mapping")
    token = secrets.token_urlsafe(16)
    company = generate_company(args.size, args.seed)
    with (
        HibobSandbox(company, user_id=USER_ID, token=token, rate_limit=1000) as sandbox,
        HibobClient(sandbox.url, USER_ID, token, HttpSettings()) as client,
    ):
        employees = fetch_hibob(client, mapping).employees
    profiles = build_profiles(employees, mapping)
    resources = _in_sync_resources(profiles)
    where = placement()
    users = _profiled(
        "parse (from_resource per listed user)",
        args.top,
        lambda: [u for r in resources if (u := from_resource(r, where)) is not None],
    )
    profiles = _profiled(
        "map (build_profiles)", args.top, lambda: build_profiles(employees, mapping)
    )
    plan = _profiled(
        "plan (make_plan, no change)",
        args.top,
        lambda: make_plan(profiles, users, mapping.fields, "deactivate"),
    )
    print(f"\nplan: {plan.counts()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
