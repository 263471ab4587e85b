"""Scenario files: the drill a team wants to run, validated at the edge."""

from drdrill.scenario.loader import load_scenario
from drdrill.scenario.models import Scenario

__all__ = ["Scenario", "load_scenario"]
