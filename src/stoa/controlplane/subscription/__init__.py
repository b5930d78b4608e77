"""Subscriptions: an application's right to call one API under one plan."""
