"""Fault points: armed only by name through LIVECOMMERCE_FAULT_POINT, and then a real SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from livecommerce.faults import POINTS, _armed

PROGRAM = "from livecommerce.faults import fault_point; fault_point('payment.after_ledger_commit')"


def test_names_are_split_on_commas_and_unknown_ones_refuse_to_start() -> None:
    """A comma-separated list arms each named point; a typo is an error, not a silent no-op."""
    assert {"checkout.after_payment_created", "payment.after_ledger_commit"} == _armed(
        " checkout.after_payment_created,payment.after_ledger_commit,"
    )
    assert frozenset() == _armed("")
    assert _armed(",".join(POINTS)) == POINTS
    with pytest.raises(RuntimeError, match=r"payment\.after_ledger_comit"):
        _armed("payment.after_ledger_comit")


@pytest.mark.parametrize(
    ("armed", "code"),
    [("", 0), ("checkout.after_payment_created", 0), ("payment.after_ledger_commit", -9)],
)
def test_only_the_armed_point_kills_the_process(armed: str, code: int) -> None:
    """The process dies by SIGKILL at an armed point and runs on past any other."""
    env = {k: v for k, v in os.environ.items() if k != "LIVECOMMERCE_FAULT_POINT"}
    env["LIVECOMMERCE_FAULT_POINT"] = armed
    done = subprocess.run([sys.executable, "-c", PROGRAM], env=env, timeout=30, check=False)
    assert code == done.returncode
    assert code == 0 or -signal.SIGKILL == done.returncode
