"""The report archive in S3: `drdrill run --upload s3://bucket/prefix` puts each run's report
folder there, and `drdrill history s3://bucket/prefix` reads the runs back."""

from drdrill.archive.s3 import S3Location, fetch_reports, parse_s3_uri, upload_run

__all__ = ["S3Location", "fetch_reports", "parse_s3_uri", "upload_run"]
