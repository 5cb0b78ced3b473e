"""The SCIM 2.0 client: discovery, paging, writes and each server's dialect.

May import the shared plumbing (http, limiter, errors, model) only: never core, sync or cli."""
