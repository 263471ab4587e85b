"""Fixtures for backups integration tests: a real versitygw, and toxiproxy for faults."""

from tests.integration.s3_server import (  # noqa: F401 - pytest fixtures
    no_s3_credentials,
    s3_credentials,
    s3_server,
    toxiproxy,
)
