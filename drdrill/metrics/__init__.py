"""Prometheus metrics of a finished drill: pushed to a Pushgateway and/or written as a
node-exporter textfile, so a scheduled drill that stops passing, gets slower or stops running
at all can be alerted on like any other service."""

from drdrill.metrics.export import BasicAuth, push_metrics, write_textfile
from drdrill.metrics.families import METRIC_NAMES, drill_registry

__all__ = ["METRIC_NAMES", "BasicAuth", "drill_registry", "push_metrics", "write_textfile"]
