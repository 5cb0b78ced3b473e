"""The demo: the HiBob sandbox and a local SCIM server on loopback, for a first look
(tour.py) or kept running for a rehearsal (rehearsal.py).

May import everything (it runs the orchestrator, as the CLI does)."""
