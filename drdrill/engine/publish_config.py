"""Where a drill's results go: the scenario's `spec.metrics` and `spec.notify`, with the
command line and the environment taking precedence over the file.

- Pushgateway URL: `--pushgateway` / `DRDRILL_PUSHGATEWAY_URL`, else the scenario's `url` or
  the variable its `urlEnv` names. The scenario's credentials (`usernameEnv` with
  `passwordEnv` or `passwordFile`) go only to the scenario's own gateway; the
  `DRDRILL_PUSHGATEWAY_USERNAME` / `_PASSWORD` pair goes to whichever gateway is used.
- Textfile folder: `--metrics-textfile-dir` / `DRDRILL_METRICS_TEXTFILE_DIR`, else the
  scenario's `textfileDir` (relative to the scenario file).
- When to notify: `--notify` / `DRDRILL_NOTIFY`, else the scenario's `when` (failure).
- Webhooks: the `DRDRILL_*_WEBHOOK_URL` variables when any is set, else the scenario's list.

Secrets are read here, before the drill starts, and registered with the log redaction as soon
as they are read. Something the scenario names but that is missing (an unset variable, an
unreadable or empty file) is bad input (exit 2) before any budget is spent: a scheduled drill
should not run for twenty minutes and then be unable to say how it went.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from drdrill.archive import S3Location
from drdrill.engine.publish import PublishSettings
from drdrill.errors import BadInputError
from drdrill.logs import register_secret
from drdrill.metrics import BasicAuth
from drdrill.notify import NotifyWhen, PayloadFormat, Webhook, webhooks_from_environment
from drdrill.notify.webhooks import make_webhook
from drdrill.scenario.models import PushgatewaySpec, Scenario

# A URL or a password; a larger file is not one.
MAX_SECRET_FILE_BYTES = 64 * 1024


@dataclass(frozen=True)
class PublishFlags:
    """What the command line (or its environment variables) said; None: not given."""

    pushgateway: str | None = field(default=None, repr=False)
    textfile_dir: Path | None = None
    notify: NotifyWhen | None = None
    upload: S3Location | None = None


def _from_environment(environ: Mapping[str, str], name: str, *, what: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise BadInputError(f"{what} names the environment variable {name}, which is not set")
    register_secret(value)
    return value


def _from_file(scenario: Scenario, relative: str, *, what: str) -> str:
    path = scenario.resolve_path(relative)
    try:
        with path.open("rb") as handle:
            content = handle.read(MAX_SECRET_FILE_BYTES + 1)
    except OSError as err:
        raise BadInputError(f"{what}: cannot read {path} ({err.strerror})") from None
    if len(content) > MAX_SECRET_FILE_BYTES:
        raise BadInputError(f"{what}: {path} is larger than {MAX_SECRET_FILE_BYTES} bytes")
    value = content.decode("utf-8", errors="replace").strip()
    if not value:
        raise BadInputError(f"{what}: {path} is empty")
    register_secret(value)
    return value


def _scenario_auth(scenario: Scenario, spec: PushgatewaySpec,
                   environ: Mapping[str, str]) -> BasicAuth | None:
    if spec.username_env is None:
        return None
    what = "spec.metrics.pushgateway"
    username = _from_environment(environ, spec.username_env, what=f"{what}.usernameEnv")
    password = (_from_environment(environ, spec.password_env, what=f"{what}.passwordEnv")
                if spec.password_env is not None else
                _from_file(scenario, spec.password_file or "", what=f"{what}.passwordFile"))
    return BasicAuth(username=username, password=password)


def _scenario_webhooks(scenario: Scenario, environ: Mapping[str, str]) -> list[Webhook]:
    hooks = []
    for index, spec in enumerate(scenario.spec.notify.webhooks):
        fmt = PayloadFormat(spec.format)
        what = f"spec.notify.webhooks[{index}]"
        if spec.url_env is not None:
            url = _from_environment(environ, spec.url_env, what=f"{what}.urlEnv")
            hooks.append(make_webhook(variable=spec.url_env, fmt=fmt, url=url))
        else:
            url = _from_file(scenario, spec.url_file or "", what=f"{what}.urlFile")
            hooks.append(make_webhook(variable=f"{what} ({fmt.value}, urlFile)", fmt=fmt,
                                      url=url))
    return hooks


def publish_settings(scenario: Scenario, *, flags: PublishFlags,
                     environ: Mapping[str, str]) -> PublishSettings:
    """The settings `publish_outcome` follows for this drill (see the module docstring)."""
    metrics = scenario.spec.metrics
    gateway, auth = flags.pushgateway, None
    if not gateway and metrics.pushgateway is not None:
        spec = metrics.pushgateway
        gateway = spec.url or _from_environment(
            environ, spec.url_env or "", what="spec.metrics.pushgateway.urlEnv")
        auth = _scenario_auth(scenario, spec, environ)
    textfile_dir = flags.textfile_dir
    if textfile_dir is None and metrics.textfile_dir is not None:
        textfile_dir = scenario.resolve_path(metrics.textfile_dir)
    webhooks = webhooks_from_environment(environ) or _scenario_webhooks(scenario, environ)
    return PublishSettings(
        pushgateway=gateway or None, pushgateway_auth=auth, textfile_dir=textfile_dir,
        webhooks=webhooks, notify=flags.notify or NotifyWhen(scenario.spec.notify.when),
        upload=flags.upload)
