"""Cluster providers: where a drill gets its empty cluster (kwok, kind, or an existing one)."""
