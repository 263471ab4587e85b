"""GET objects without botocore's per-request machinery: signed with SigV4, sent with http.client.

botocore spends about 1.5 ms of CPU on each request (endpoint rules, event hooks, response
parsing), which caps a restore of many small objects at a few hundred per second. Here each
GET is signed with botocore's own `S3SigV4Auth` (credentials from the default chain, as for
the client) and sent on a keep-alive connection owned by the calling thread; the body is read
straight into a buffer (`readinto`), hashed and written. Error answers become the same
botocore exceptions (`ClientError` with the S3 error code, `EndpointConnectionError`, ...), so
callers judge them as before; a body that ends before its Content-Length is a broken stream,
retried by the caller and never a pass.

Only path-style addressing is handled (what S3-compatible stores use); a client set up for
virtual-hosted buckets keeps using botocore. Requests carry their signature in headers, so no
signed URL exists to leak.

The network settings botocore honours hold here too: HTTPS_PROXY / HTTP_PROXY / NO_PROXY (a
CONNECT tunnel for https, the absolute-form request for http), and AWS_CA_BUNDLE when the
scenario names no CA bundle. `abort` ends every request in flight at once (shutting their
sockets down) and refuses new ones, so an interrupted restore does not sit out read timeouts.
"""

from __future__ import annotations

import base64
import hashlib
import html
import http.client
import os
import re
import socket
import ssl
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
    SSLError,
)
from botocore.httpsession import get_cert_path

from drdrill.backups.s3client import S3Client, S3Endpoint, default_credentials
from drdrill.backups.streaming import (
    CHUNK_BYTES,
    StreamedObject,
    download_retrying,
    s3_sha256_of,
    write_all,
)
from drdrill.timing import Deadline

# Error bodies are a few hundred bytes of XML; never read more than this of one.
MAX_ERROR_BODY = 64 * 1024


class BrokenAnswerError(ConnectionError):
    """The answer broke off (before its Content-Length) or could not be read as HTTP."""


class RestoreAborted(Exception):
    """The restore was interrupted: no further request is sent. Never retried."""


@dataclass(frozen=True)
class Proxy:
    host: str
    port: int
    authorization: str | None  # a Proxy-Authorization header value, from the proxy URL

    @classmethod
    def for_endpoint(cls, endpoint_url: str) -> Proxy | None:
        """The proxy HTTPS_PROXY / HTTP_PROXY name for the endpoint, unless NO_PROXY exempts
        it (the same variables botocore reads)."""
        parts = urlsplit(endpoint_url)
        proxies = urllib.request.getproxies_environment()
        url = proxies.get(parts.scheme)
        bypass: Any = getattr(urllib.request, "proxy_bypass_environment")  # noqa: B009 - untyped
        if not url or bypass(parts.hostname or "", proxies):
            return None
        proxy = urlsplit(url if "://" in url else f"http://{url}")
        authorization = None
        if proxy.username is not None:
            pair = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}"
            authorization = "Basic " + base64.b64encode(pair.encode()).decode()
        return cls(proxy.hostname or "", proxy.port or 8080, authorization)


def tls_context(endpoint: S3Endpoint) -> ssl.SSLContext:
    """Verification as botocore does it: the scenario's CA bundle, else AWS_CA_BUNDLE, else
    certifi's; none at all only when the scenario turns verification off."""
    ca = (str(endpoint.ca_bundle) if endpoint.ca_bundle
          else os.environ.get("AWS_CA_BUNDLE") or get_cert_path(True))
    context = ssl.create_default_context(cafile=ca)
    if not endpoint.verify_tls and not endpoint.ca_bundle:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


@dataclass(frozen=True)
class SignedRequest:
    path: str
    headers: dict[str, str]


class SignedGetter:
    """Signs and sends GETs to one endpoint; thread-safe, one keep-alive connection per thread."""

    def __init__(self, *, endpoint_url: str, region: str, credentials: Credentials,
                 connect_timeout: float, read_timeout: float,
                 tls: ssl.SSLContext | None, proxy: Proxy | None = None) -> None:
        parts = urlsplit(endpoint_url)
        self._endpoint_url = endpoint_url.rstrip("/")
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._base_path = parts.path.rstrip("/")
        self._host = parts.hostname or ""
        self._port = parts.port
        self._https = parts.scheme == "https"
        self._region = region
        self._credentials = credentials
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._tls = tls
        self._proxy = proxy
        self._aborted = threading.Event()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[http.client.HTTPConnection] = set()

    @classmethod
    def for_client(cls, client: S3Client, *, endpoint: S3Endpoint) -> SignedGetter | None:
        """A getter for the endpoint `client` talks to, or None when it cannot stand in.

        None when the client does not use path-style addressing or no credentials are found.
        """
        config: Any = client.meta.config
        style = (config.s3 or {}).get("addressing_style")
        url = client.meta.endpoint_url
        if style != "path" or not url or urlsplit(url).scheme not in ("http", "https"):
            return None
        credentials = default_credentials()
        if credentials is None:
            return None
        tls = tls_context(endpoint) if urlsplit(url).scheme == "https" else None
        return cls(endpoint_url=url, region=client.meta.region_name, credentials=credentials,
                   connect_timeout=float(config.connect_timeout),
                   read_timeout=float(config.read_timeout), tls=tls,
                   proxy=Proxy.for_endpoint(url))

    def close(self) -> None:
        """Close every connection any thread opened."""
        with self._lock:
            connections, self._open = self._open, set()
        for connection in connections:
            connection.close()

    def abort(self) -> None:
        """End every request in flight now and refuse new ones (`RestoreAborted`).

        A socket is shut down before it is closed: closing alone does not wake a thread
        blocked reading from it.
        """
        self._aborted.set()
        with self._lock:
            connections = list(self._open)
        for connection in connections:
            sock = connection.sock
            if sock is not None:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        self.close()

    def sign_get(self, *, bucket: str, key: str, byte_range: tuple[int, int] | None = None,
                 if_match: str | None = None) -> SignedRequest:
        """Path and headers of a signed GetObject that also asks for the stored checksum."""
        path = f"{self._base_path}/{quote(bucket, safe='')}/{quote(key, safe='/~')}"
        headers = (
            {"Range": f"bytes={byte_range[0]}-{byte_range[1]}"}
            if byte_range is not None
            else {"x-amz-checksum-mode": "ENABLED"}
        )
        if if_match is not None:
            headers["If-Match"] = if_match
        request = AWSRequest(method="GET", url=self._origin + path, headers=headers)
        frozen = self._credentials.get_frozen_credentials()
        if frozen.access_key is None:
            raise NoCredentialsError()
        S3SigV4Auth(frozen, "s3", self._region).add_auth(request)
        return SignedRequest(path=path, headers=dict(request.headers.items()))

    def stream_object(self, *, bucket: str, key: str, fd: int | None,
                      chunk_bytes: int = CHUNK_BYTES) -> StreamedObject:
        """GET one object, hashing each chunk and writing it to `fd` (if given) as it arrives."""
        signed = self.sign_get(bucket=bucket, key=key)
        with self._response(signed, expect=200) as response:
            content_length = response.length
            buffer = memoryview(bytearray(min(chunk_bytes, content_length or chunk_bytes)))
            digest = hashlib.sha256()
            size = 0
            while True:
                count = self._readinto(response, buffer)
                if not count:
                    break
                digest.update(buffer[:count])
                if fd is not None:
                    write_all(fd, buffer[:count])
                size += count
            if content_length is not None and size != content_length:
                raise BrokenAnswerError(f"read {size} of {content_length} bytes")
            return StreamedObject(
                size=size,
                sha256=digest.hexdigest(),
                content_length=content_length if content_length is not None else size,
                s3_sha256=s3_sha256_of(response.getheader("x-amz-checksum-sha256"),
                                       response.getheader("x-amz-checksum-type")),
            )

    def read_range_into(self, *, bucket: str, key: str, start: int, buffer: memoryview,
                        if_match: str | None) -> None:
        """Fill `buffer` with the object's bytes from `start` on, or raise."""
        signed = self.sign_get(bucket=bucket, key=key,
                               byte_range=(start, start + len(buffer) - 1), if_match=if_match)
        with self._response(signed, expect=206) as response:
            if response.length != len(buffer):
                raise BrokenAnswerError(
                    f"range at {start} is {response.length} bytes, wanted {len(buffer)}"
                )
            filled = 0
            while filled < len(buffer):
                count = self._readinto(response, buffer[filled:])
                if not count:
                    raise BrokenAnswerError(f"range at {start} ended after {filled} bytes")
                filled += count

    def stream_with_retries(self, *, bucket: str, key: str, fd: int | None,
                            deadline: Deadline) -> StreamedObject:
        """`stream_object`, started again from byte 0 on throttling, 5xx or a broken stream."""
        result: StreamedObject = download_retrying(deadline=deadline, fd=fd)(
            self.stream_object, bucket=bucket, key=key, fd=fd
        )
        return result

    @contextmanager
    def _response(self, signed: SignedRequest,
                  *, expect: int) -> Iterator[http.client.HTTPResponse]:
        """Send `signed` on this thread's connection; the connection is dropped on any error."""
        connection = self._connection()
        complete = False
        target = signed.path
        if self._proxy is not None and not self._https:
            target = self._origin + signed.path  # absolute-form, as a plain-HTTP proxy wants
        headers = dict(signed.headers)
        if self._proxy is not None and not self._https and self._proxy.authorization:
            headers["Proxy-Authorization"] = self._proxy.authorization
        try:
            try:
                connection.request("GET", target, headers=headers)
            except ssl.SSLCertVerificationError as err:
                # As botocore: a certificate nobody trusts is no broken stream to retry.
                raise SSLError(endpoint_url=self._endpoint_url, error=err) from err
            except OSError as err:
                if connection.sock is not None:
                    raise self._broken(err) from err
                if isinstance(err, TimeoutError):
                    raise ConnectTimeoutError(endpoint_url=self._endpoint_url) from err
                raise EndpointConnectionError(endpoint_url=self._endpoint_url) from err
            if connection.sock is not None:
                connection.sock.settimeout(self._read_timeout)
            try:
                response = connection.getresponse()
            except (OSError, http.client.HTTPException) as err:
                raise self._broken(err) from err
            if response.status != expect:
                raise _client_error(response)
            yield response
            complete = not response.will_close
        finally:
            if not complete:
                self._drop(connection)

    def _readinto(self, response: http.client.HTTPResponse, buffer: memoryview) -> int:
        try:
            count: int = response.readinto(buffer)
        except (OSError, http.client.HTTPException) as err:
            raise self._broken(err) from err
        return count

    def _broken(self, err: OSError | http.client.HTTPException) -> Exception:
        """The BROKEN_STREAM error (retried) for a failure while talking or listening."""
        if isinstance(err, TimeoutError):
            return ReadTimeoutError(endpoint_url=self._endpoint_url)
        if isinstance(err, ConnectionError):
            return err
        return BrokenAnswerError(f"{type(err).__name__} while reading the answer")

    def _connection(self) -> http.client.HTTPConnection:
        if self._aborted.is_set():
            raise RestoreAborted("the restore was interrupted")
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            proxy = self._proxy
            host, port = (proxy.host, proxy.port) if proxy else (self._host, self._port)
            connection = (
                http.client.HTTPSConnection(host, port, timeout=self._connect_timeout,
                                            context=self._tls)
                if self._https
                else http.client.HTTPConnection(host, port, timeout=self._connect_timeout)
            )
            if proxy is not None and self._https:
                tunnel_headers = ({"Proxy-Authorization": proxy.authorization}
                                  if proxy.authorization else None)
                connection.set_tunnel(self._host, self._port, headers=tunnel_headers)
            self._local.connection = connection
            with self._lock:
                self._open.add(connection)
        return connection

    def _drop(self, connection: http.client.HTTPConnection) -> None:
        connection.close()
        self._local.connection = None
        with self._lock:
            self._open.discard(connection)


def _client_error(response: http.client.HTTPResponse) -> ClientError:
    """The botocore `ClientError` for an S3 error answer (code and message from its XML)."""
    try:
        body = response.read(MAX_ERROR_BODY)
    except (OSError, http.client.HTTPException):
        body = b""
    code, message = _xml_text(body, "Code"), _xml_text(body, "Message")
    parsed: Any = {
        "Error": {"Code": code or str(response.status), "Message": message or response.reason},
        "ResponseMetadata": {"HTTPStatusCode": response.status},
    }
    return ClientError(parsed, "GetObject")


def _xml_text(body: bytes, element: str) -> str:
    """The text of the first `<element>` of an S3 error document, without an XML parser."""
    tag = element.encode()
    found = re.search(rb"<%s>([^<]{0,1024})</%s>" % (tag, tag), body)
    return html.unescape(found.group(1).decode("utf-8", "replace")) if found else ""
