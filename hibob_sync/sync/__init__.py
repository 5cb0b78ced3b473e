"""The run and what stands beside it: fetch, apply, check, status, the lock.

Wires clients to the core; only the CLI and the demo import the orchestrator (sync.run)."""
