"""config.yaml and mapping.yaml: their parsing and checks, as plain data.

May import errors and the pure SCIM attribute paths; used by every layer above."""
