"""The planning core: profiles, plan, safeguards, grace windows and reports over plain data.

May import config, model and errors; never click, a client's transport or the orchestrator."""
