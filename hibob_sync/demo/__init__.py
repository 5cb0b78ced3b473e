"""The demo: the HiBob sandbox and a local SCIM server on loopback, for a first look.

May import everything (it runs the orchestrator, as the CLI does)."""
