"""Policies: typed gateway configuration attached to a tenant, one of its APIs or plans."""
