"""Fixtures for the hardening campaigns: a real versitygw and toxiproxy (shared with backups)."""

from tests.integration.s3_server import s3_server, toxiproxy  # noqa: F401 - pytest fixtures
