"""The latest Warning event of a pod, as the report's reason for a workload still not Ready."""

from __future__ import annotations

from typing import Any

from drdrill.health.pod_events import latest_warnings


def event(pod: str, reason: str, message: str, at: str, *, kind: str = "Pod",
          type_: str = "Warning") -> dict[str, Any]:
    return {"type": type_, "reason": reason, "message": message, "lastTimestamp": at,
            "involvedObject": {"kind": kind, "name": pod}}


def test_the_latest_warning_of_each_pod_wins() -> None:
    events = [
        event("web-1", "Unhealthy", "Readiness probe failed: HTTP probe failed with "
              "statuscode: 503", "2026-11-30T10:00:05Z"),
        event("web-1", "BackOff", "Back-off pulling image", "2026-11-30T10:00:01Z"),
        event("web-2", "FailedMount", "MountVolume.SetUp failed", "2026-11-30T10:00:02Z"),
    ]
    assert latest_warnings(events, {"web-1", "web-2"}) == {
        "web-1": "Unhealthy: Readiness probe failed: HTTP probe failed with statuscode: 503",
        "web-2": "FailedMount: MountVolume.SetUp failed",
    }


def test_normal_events_other_objects_and_other_pods_are_ignored() -> None:
    events = [
        event("web-1", "Pulled", "pulled", "2026-11-30T10:00:09Z", type_="Normal"),
        event("web-1", "Unhealthy", "probe", "2026-11-30T10:00:05Z", kind="Node"),
        event("other", "Unhealthy", "probe", "2026-11-30T10:00:05Z"),
    ]
    assert latest_warnings(events, {"web-1"}) == {}


def test_long_and_multiline_messages_are_one_bounded_line() -> None:
    long = "line one\nline two " + "x" * 1000
    (text,) = latest_warnings([event("p", "Unhealthy", long, "t")], {"p"}).values()
    assert "\n" not in text and text.startswith("Unhealthy: line one line two")
    assert len(text) < 350 and text.endswith("...")
