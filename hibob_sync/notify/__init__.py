"""Telling people: alert emails, healthcheck pings and the Prometheus textfile.

May import config, credentials, http and errors; never the core or the clients."""
