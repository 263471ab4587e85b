"""Reports in S3 (the real test-bed S3 server): `run --upload` puts each run's folder under
the prefix, `drdrill history s3://...` reads them back like a local folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from drdrill.archive import parse_s3_uri
from drdrill.engine.publish import PublishSettings, publish_outcome
from drdrill.report.writer import write_reports
from tests.integration.s3_server import S3Server
from tests.report_samples import START, make_report


def test_uploaded_runs_make_a_history(tmp_path: Path, s3_credentials: S3Server,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_credentials.endpoint)
    s3_credentials.client().create_bucket(Bucket="drill-reports")
    settings = PublishSettings(upload=parse_s3_uri("s3://drill-reports/nightly"))
    uris = []
    for day, rto in enumerate([60, 62, 61, 64, 100]):
        report = make_report(rto=rto, started_at=START + timedelta(days=day))
        paths = write_reports(report, report_dir=tmp_path / "local")
        assert publish_outcome(report, settings=settings, report_dir=paths.directory) == []
        uris.append(f"s3://drill-reports/nightly/ml-platform/{paths.directory.name}/")
    keys = sorted(o["Key"] for o in s3_credentials.client().list_objects_v2(
        Bucket="drill-reports")["Contents"])
    assert len(keys) == 5 * 4
    assert keys[0].startswith("nightly/ml-platform/") and keys[0].endswith("/junit.xml")

    done = subprocess.run(
        [sys.executable, "-m", "drdrill", "history", "s3://drill-reports/nightly", "--format",
         "json", "--html", "--html-file", str(tmp_path / "history.html")],
        env=dict(os.environ), capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stderr  # the newest run regressed
    assert [row["report"] for row in json.loads(done.stdout)] == uris
    assert (tmp_path / "history.html").read_text().count('class="run-point"') == 5
    assert s3_credentials.secret_key not in done.stdout + done.stderr


def test_upload_refused_is_a_warning_not_a_lost_verdict(tmp_path: Path, s3_credentials: S3Server,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_credentials.endpoint)
    report = make_report()
    paths = write_reports(report, report_dir=tmp_path)
    problems = publish_outcome(report, report_dir=paths.directory, settings=PublishSettings(
        upload=parse_s3_uri("s3://no-such-bucket-here/x")))
    assert len(problems) == 1 and "could not upload the report" in problems[0]
    assert "NoSuchBucket" in problems[0]
