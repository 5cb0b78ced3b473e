"""hibob-sync: a one-way nightly sync of employee details from HiBob to a SCIM 2.0 app."""

__version__ = "0.1.0"
