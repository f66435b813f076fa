"""Reads (HackSoft's "pull"): keyword-only functions that every face shares.

Every read of tenant data starts from an organization; the webhook endpoint's lookup by
integration id is the one exception (``integrations.services.webhooks``). Selectors never write
and never import services.
"""
