"""Who may take which address this run (hithrive-scim.md, recycled addresses).

An address belongs to one user at a time. When HiBob moves an address to another employee,
the user holding it follows its own employee first: renamed to its employee's new address,
before the new user is created, in the same run. This module works out, from every user's
wanted address, which moves can be made and in which order ("waves": a move waits for the
holder of its address to leave it), and which cannot (the holder stays, or the moves form a
ring). It works on sets, so the answer never depends on the order of HiBob's answer or of
the SCIM listing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

Key = tuple[str, str]  # ("user", SCIM id) for a rename, ("new", HiBob ID) for a create


@dataclass
class Moves:
    """The outcome: a wave per move that can be made, the blocker of each that cannot."""

    waves: dict[Key, int] = field(default_factory=dict)
    blocked: dict[Key, str] = field(default_factory=dict)  # -> SCIM id of a holder that stays
    rings: set[Key] = field(default_factory=set)  # moves that wait for each other


def plan_moves(wanted: Mapping[Key, str], holders: Mapping[str, list[str]]) -> Moves:
    """Order the moves in ``wanted`` (key -> address) given who holds each address now
    (address -> SCIM ids). A move is blocked by a holder that does not move away (or cannot);
    two moves to one address block each other."""
    result = Moves()
    live = dict(wanted)
    taken = Counter(live.values())
    for key, address in live.items():
        if taken[address] > 1:
            others = [h for h in holders.get(address, []) if ("user", h) != key]
            result.blocked[key] = others[0] if others else ""
    for key in result.blocked:
        del live[key]
    while True:
        changed = False
        for key, address in sorted(live.items()):
            for holder in holders.get(address, []):
                if ("user", holder) != key and ("user", holder) not in live:
                    result.blocked[key] = holder
                    del live[key]
                    changed = True
                    break
        if changed:
            continue
        ring = _first_ring(live, holders)
        if not ring:
            break
        for key in ring:
            result.rings.add(key)
            others = [b[1] for b in _blockers(key, live, holders)]
            result.blocked[key] = others[0] if others else ""
        for key in ring:
            del live[key]
    for key in live:
        result.waves[key] = _wave(key, live, holders, result.waves)
    return result


def _blockers(key: Key, live: Mapping[Key, str], holders: Mapping[str, list[str]]) -> list[Key]:
    return [("user", h) for h in holders.get(live[key], []) if ("user", h) != key]


def _first_ring(live: Mapping[Key, str], holders: Mapping[str, list[str]]) -> list[Key]:
    """The members of a cycle of moves each waiting for the next, if there is one."""
    state: dict[Key, int] = {}  # 1: on the current path, 2: done
    for start in sorted(live):
        if state.get(start):
            continue
        path: list[Key] = []
        stack: list[tuple[Key, list[Key]]] = [(start, _blockers(start, live, holders))]
        state[start] = 1
        path.append(start)
        while stack:
            key, todo = stack[-1]
            if not todo:
                stack.pop()
                path.pop()
                state[key] = 2
                continue
            nxt = todo.pop()
            if state.get(nxt) == 1:
                return path[path.index(nxt) :]
            if not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append((nxt, _blockers(nxt, live, holders)))
    return []


def _wave(
    key: Key, live: Mapping[Key, str], holders: Mapping[str, list[str]], known: dict[Key, int]
) -> int:
    """1 + the wave of the moves this one waits for (0: the address is free now)."""
    chain = [key]
    while chain:
        current = chain[-1]
        if current in known:
            chain.pop()
            continue
        waiting = [b for b in _blockers(current, live, holders) if b not in known]
        if waiting:
            chain.extend(waiting)
            continue
        blockers = _blockers(current, live, holders)
        known[current] = 1 + max((known[b] for b in blockers), default=-1)
        chain.pop()
    return known[key]
