"""The phases of a drill, in order; each drives one adapter."""

from __future__ import annotations

from drdrill.engine.phase import Phase


def build_phases() -> list[Phase]:
    from drdrill.engine.phases.backups import BackupsPhase
    from drdrill.engine.phases.bootstrap import BootstrapPhase
    from drdrill.engine.phases.cluster import ClusterPhase
    from drdrill.engine.phases.keys import KeysPhase
    from drdrill.engine.phases.workloads import WorkloadsPhase

    return [KeysPhase(), ClusterPhase(), BootstrapPhase(), WorkloadsPhase(), BackupsPhase()]
