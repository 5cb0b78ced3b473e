"""The HiBob client: the people search, the field catalogue and how its answers parse.

May import the shared plumbing (http, errors, credentials) only: never core, sync or cli."""
