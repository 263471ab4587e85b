"""Metrics and notification settings from the scenario file, with flags and the standard
environment variables taking precedence; secrets only by variable or file name, read before
the drill and redacted from then on; whatever the scenario names but is missing is bad input."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from drdrill.engine.publish_config import PublishFlags, publish_settings
from drdrill.errors import BadInputError
from drdrill.logs import forget_registered_secrets, redact_text
from drdrill.notify import NotifyWhen, PayloadFormat
from drdrill.scenario import load_scenario
from drdrill.scenario.models import Scenario
from tests.unit.scenario.samples import VALID

HOOK = "https://hooks.example.com/services/T0/B0/s3cr3t-hook-token"


@pytest.fixture(autouse=True)
def _forget() -> Iterator[None]:
    yield
    forget_registered_secrets()


def scenario(tmp_path: Path, *, metrics: dict[str, Any] | None = None,
             notify: dict[str, Any] | None = None) -> Scenario:
    data = copy.deepcopy(VALID)
    if metrics is not None:
        data["spec"]["metrics"] = metrics
    if notify is not None:
        data["spec"]["notify"] = notify
    path = tmp_path / "conf" / "drill.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return load_scenario(path)


def test_nothing_configured_is_what_it_was(tmp_path: Path) -> None:
    settings = publish_settings(scenario(tmp_path), flags=PublishFlags(), environ={})
    assert settings.pushgateway is None and settings.textfile_dir is None
    assert settings.webhooks == [] and settings.notify is NotifyWhen.FAILURE


def test_the_scenario_configures_metrics_and_notifications(tmp_path: Path) -> None:
    (tmp_path / "conf" / "secrets").mkdir(parents=True)
    (tmp_path / "conf" / "secrets" / "teams-url").write_text(HOOK + "-teams\n")
    (tmp_path / "conf" / "secrets" / "gw-password").write_text("gw-pass-77\n")
    loaded = scenario(tmp_path, metrics={
        "pushgateway": {"urlEnv": "GW_URL", "usernameEnv": "GW_USER",
                        "passwordFile": "secrets/gw-password"},
        "textfileDir": "prom"}, notify={"when": "always", "webhooks": [
            {"format": "slack", "urlEnv": "SLACK_HOOK"},
            {"format": "teams", "urlFile": "secrets/teams-url"}]})
    environ = {"GW_URL": "http://gw.monitoring:9091", "GW_USER": "drdrill",
               "SLACK_HOOK": HOOK}
    settings = publish_settings(loaded, flags=PublishFlags(), environ=environ)
    assert settings.pushgateway == "http://gw.monitoring:9091"
    assert settings.pushgateway_auth is not None
    assert (settings.pushgateway_auth.username, settings.pushgateway_auth.password) == (
        "drdrill", "gw-pass-77")
    assert settings.textfile_dir == tmp_path / "conf" / "prom"
    assert settings.notify is NotifyWhen.ALWAYS
    assert [(h.fmt, h.url, h.variable) for h in settings.webhooks] == [
        (PayloadFormat.SLACK, HOOK, "SLACK_HOOK"),
        (PayloadFormat.TEAMS, HOOK + "-teams", "spec.notify.webhooks[1] (teams, urlFile)")]
    # Everything secret that was read is redacted from then on; nothing prints a URL.
    said = redact_text(f"{HOOK} {HOOK}-teams gw-pass-77 {settings} {settings.webhooks}")
    assert "s3cr3t-hook-token" not in said and "gw-pass-77" not in said


def test_flags_and_standard_variables_override_the_file(tmp_path: Path) -> None:
    loaded = scenario(tmp_path, metrics={
        "pushgateway": {"url": "http://scenario-gw:9091", "usernameEnv": "GW_USER",
                        "passwordEnv": "GW_PASSWORD"},
        "textfileDir": "prom"}, notify={"when": "always", "webhooks": [
            {"format": "slack", "urlEnv": "SLACK_HOOK"}]})
    # Neither the scenario's credentials nor its webhook variable are needed once
    # overridden: they are not read (and their absence is no error).
    settings = publish_settings(loaded, environ={"DRDRILL_TEAMS_WEBHOOK_URL": HOOK}, flags=(
        PublishFlags(pushgateway="http://flag-gw:9091", textfile_dir=Path("/var/lib/prom"),
                     notify=NotifyWhen.NEVER)))
    assert settings.pushgateway == "http://flag-gw:9091"
    assert settings.pushgateway_auth is None, "the scenario's credentials went elsewhere"
    assert settings.textfile_dir == Path("/var/lib/prom")
    assert settings.notify is NotifyWhen.NEVER
    assert [(h.variable, h.fmt) for h in settings.webhooks] == [
        ("DRDRILL_TEAMS_WEBHOOK_URL", PayloadFormat.TEAMS)]


@pytest.mark.parametrize(("metrics", "notify", "environ", "message"), [
    ({"pushgateway": {"urlEnv": "GW_URL"}}, None, {},
     "spec.metrics.pushgateway.urlEnv names the environment variable GW_URL, which is not set"),
    (None, {"webhooks": [{"format": "json", "urlEnv": "HOOK"}]}, {"HOOK": "  "},
     "spec.notify.webhooks[0].urlEnv names the environment variable HOOK, which is not set"),
    (None, {"webhooks": [{"format": "json", "urlFile": "missing"}]}, {},
     "spec.notify.webhooks[0].urlFile: cannot read"),
    (None, {"webhooks": [{"format": "json", "urlEnv": "HOOK"}]},
     {"HOOK": "ftp://hooks.example.com/s3cr3t-hook-token"}, "HOOK is not an http(s) URL"),
    ({"pushgateway": {"url": "http://gw:9091", "usernameEnv": "U", "passwordEnv": "P"}}, None,
     {"U": "drdrill"}, "spec.metrics.pushgateway.passwordEnv names the environment variable P"),
])
def test_what_the_scenario_names_must_be_there(
    tmp_path: Path, metrics: dict[str, Any] | None, notify: dict[str, Any] | None,
    environ: dict[str, str], message: str,
) -> None:
    loaded = scenario(tmp_path, metrics=metrics, notify=notify)
    with pytest.raises(BadInputError, match="^" + message.replace("(", r"\(").replace(
            ")", r"\)").replace("[", r"\[").replace("]", r"\]")) as caught:
        publish_settings(loaded, flags=PublishFlags(), environ=environ)
    assert "s3cr3t" not in str(caught.value) and "\n" not in str(caught.value)


def test_an_empty_secret_file_is_bad_input(tmp_path: Path) -> None:
    loaded = scenario(tmp_path, notify={"webhooks": [{"format": "slack", "urlFile": "url"}]})
    (tmp_path / "conf" / "url").write_text("\n")
    with pytest.raises(BadInputError, match=r"urlFile: .*/conf/url is empty$"):
        publish_settings(loaded, flags=PublishFlags(), environ={})


@pytest.mark.parametrize(("section", "value", "message"), [
    ("notify", {"webhooks": [{"format": "slack", "url": HOOK}]}, "Extra inputs"),
    ("notify", {"webhooks": [{"format": "slack"}]}, "exactly one of urlEnv or urlFile"),
    ("notify", {"webhooks": [{"format": "slack", "urlEnv": "A", "urlFile": "b"}]},
     "exactly one of urlEnv or urlFile"),
    ("notify", {"when": "sometimes"}, "notify.when"),
    ("metrics", {"pushgateway": {"url": "http://drdrill:s3cr3t@gw:9091"}},
     "must not carry credentials"),
    ("metrics", {"pushgateway": {"url": "http://gw:9091/?token=s3cr3t"}},
     "must not carry credentials"),
    ("metrics", {"pushgateway": {"url": "http://gw:9091", "urlEnv": "GW"}},
     "exactly one of url or urlEnv"),
    ("metrics", {"pushgateway": {"url": "http://gw:9091", "usernameEnv": "U"}},
     "basic auth needs usernameEnv and one of passwordEnv or passwordFile"),
    ("metrics", {"pushgateway": {"url": "http://gw:9091", "usernameEnv": "not a name",
                                 "passwordEnv": "P"}}, "usernameEnv"),
])
def test_secrets_are_never_inline(tmp_path: Path, section: str, value: dict[str, Any],
                                  message: str) -> None:
    with pytest.raises(BadInputError, match=message) as caught:
        scenario(tmp_path, **{section: value})
    assert "s3cr3t" not in str(caught.value) and "\n" not in str(caught.value)
