"""Fixtures for GitOps drills that also need the real S3 server (Git references to backups)."""

from tests.integration.s3_server import (  # noqa: F401 - pytest fixtures
    s3_credentials,
    s3_server,
)
