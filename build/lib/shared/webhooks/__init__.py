"""Signed webhooks from the table's change stream (docs/webhooks.md)."""
