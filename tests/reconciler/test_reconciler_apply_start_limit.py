"""The units' start limit counts systemd's automatic restarts only: every start or restart the
reconciler issues resets the count first (reconciler/render.py: StartLimitIntervalSec=600)."""
from __future__ import annotations

import pytest

from reconciler.apply import Applier
from reconciler.model import RestartUnit, StartUnit
from reconciler.runner import Result


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def run(self, argv, timeout: float = 30.0) -> Result:
        self.calls.append(tuple(argv))
        return Result(tuple(argv), 0, "", "", 0.0)


@pytest.mark.parametrize("step, verb", [
    (StartUnit(app="lnd", unit="lnd.service"), "start"),
    (StartUnit(app="lnd", unit="lnd.service", after_failure=True), "start"),
    (RestartUnit(app="lnd", unit="lnd.service", reason="config changed"), "restart"),
])
def test_the_reconcilers_own_starts_reset_the_start_limit_first(tmp_path, step, verb):
    runner = Recorder()
    [out], _ = Applier(runner=runner, root=str(tmp_path)).apply((step,), {}, 0.0)
    assert out.ok, out.detail
    assert runner.calls == [("systemctl", "reset-failed", "lnd.service"),
                            ("systemctl", verb, "--no-block", "lnd.service")]
