"""The one place a boto3 S3 client is built, and where S3 errors become drdrill errors.

Credentials come only from boto3's default chain (environment, shared files, SSO, instance
roles): drdrill never takes keys as flags or in scenario files, so they cannot leak into a
report. Checksums are sent and validated only when required, as S3-compatible stores need.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    SSLError,
)
from botocore.parsers import DEFAULT_TIMESTAMP_PARSER

from drdrill.errors import InfrastructureError, PrerequisiteError
from drdrill.logs import redact_text, register_secret

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client as S3Client
else:
    S3Client = object

# Error codes that mean "these credentials may not do this": the drill cannot be carried out.
_CREDENTIAL_CODES = frozenset({
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken",
    "InvalidToken", "AuthorizationHeaderMalformed", "InvalidClientTokenId",
})


@dataclass(frozen=True)
class S3Endpoint:
    """Where and how to talk to S3; never holds credentials."""

    endpoint_url: str | None = None
    region: str = "us-east-1"
    addressing_style: Literal["path", "virtual", "auto"] = "path"
    ca_bundle: Path | None = None
    verify_tls: bool = True
    checksum_when_required: bool = True
    max_concurrency: int = 8

    def describe(self) -> str:
        return self.endpoint_url or f"AWS S3 ({self.region})"


def default_credentials() -> Credentials | None:
    """What boto3's default chain finds (refreshed as needed when used), or None."""
    credentials: Credentials | None = boto3.session.Session().get_credentials()
    return credentials


def frozen_credentials() -> dict[str, str] | None:
    """The default chain's credentials as `AWS_*` variables (for a pod that must use the same
    ones), registered with the redaction; None when the chain finds none."""
    credentials = default_credentials()
    if credentials is None:
        return None
    frozen = credentials.get_frozen_credentials()
    values = {"AWS_ACCESS_KEY_ID": str(frozen.access_key),
              "AWS_SECRET_ACCESS_KEY": str(frozen.secret_key)}
    if frozen.token:
        values["AWS_SESSION_TOKEN"] = frozen.token
    for value in values.values():
        register_secret(value)
    return values


def parse_timestamp(value: str) -> Any:
    """S3's ISO 8601 times (`2026-11-27T03:00:00.000Z`) with the standard library, else as
    botocore parses them: its dateutil parser costs about 0.5 ms a key, most of a listing's
    CPU for sets of many objects."""
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        return DEFAULT_TIMESTAMP_PARSER(value)
    return parsed


def make_s3_client(*, endpoint: S3Endpoint, read_timeout: float = 60.0) -> S3Client:
    """A thread-safe client with retries for throttling, 5xx and dropped connections."""
    core = botocore.session.get_session()
    core.get_component("response_parser_factory").set_parser_defaults(
        timestamp_parser=parse_timestamp)
    session = boto3.session.Session(botocore_session=core)
    if session.get_credentials() is None:
        raise PrerequisiteError(
            f"no S3 credentials for {endpoint.describe()}: boto3's default chain found none; "
            "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or an instance role"
        )
    policy: Literal["when_required", "when_supported"] = (
        "when_required" if endpoint.checksum_when_required else "when_supported"
    )
    config = Config(
        region_name=endpoint.region,
        signature_version="s3v4",
        s3={"addressing_style": endpoint.addressing_style},
        retries={"mode": "standard", "max_attempts": 6},
        max_pool_connections=endpoint.max_concurrency + 2,
        connect_timeout=10,
        read_timeout=max(1.0, read_timeout),
        tcp_keepalive=True,
        request_checksum_calculation=policy,
        response_checksum_validation=policy,
    )
    # None, not True: with True botocore ignores AWS_CA_BUNDLE (and the profile's ca_bundle).
    verify: bool | str | None = (
        str(endpoint.ca_bundle) if endpoint.ca_bundle else (None if endpoint.verify_tls else False)
    )
    return session.client("s3", endpoint_url=endpoint.endpoint_url, config=config, verify=verify)


def error_code(err: BaseException) -> str:
    if isinstance(err, ClientError):
        return str(err.response.get("Error", {}).get("Code", ""))
    return ""


def describe_error(err: BaseException) -> str:
    """One line naming the error, with anything that looks like a secret removed."""
    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        text = f"{error.get('Code', 'error')}: {error.get('Message', '') or 'no message'}"
    else:
        text = f"{type(err).__name__}: {err}"
    return redact_text(" ".join(text.split()))


def is_fatal(err: BaseException) -> bool:
    """Credentials refused or endpoint unreachable: no other object or set would fare better."""
    return isinstance(
        err, NoCredentialsError | EndpointConnectionError | ConnectTimeoutError | SSLError
    ) or error_code(err) in _CREDENTIAL_CODES


def raise_if_fatal(err: BaseException, *, endpoint: S3Endpoint, bucket: str) -> None:
    """Turn a fatal S3 error into PrerequisiteError / InfrastructureError (exit 3)."""
    where = f"s3://{bucket} at {endpoint.describe()}"
    if isinstance(err, NoCredentialsError) or error_code(err) in _CREDENTIAL_CODES:
        raise PrerequisiteError(
            f"S3 refused the credentials for {where} ({describe_error(err)}); "
            "check the default credential chain and the bucket policy"
        ) from err
    if isinstance(err, SSLError):
        raise InfrastructureError(
            f"TLS to {where} failed ({describe_error(err)}); trust its CA with "
            "spec.backups.s3.caBundle or AWS_CA_BUNDLE"
        ) from err
    if isinstance(err, EndpointConnectionError | ConnectTimeoutError):
        raise InfrastructureError(
            f"cannot reach {where} ({describe_error(err)}); check spec.backups.s3.endpointUrl "
            "and the network"
        ) from err


S3_ERRORS: tuple[type[BaseException], ...] = (ClientError, BotoCoreError)
