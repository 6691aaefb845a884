"""Named fault points: places where a crash test (RB-06) can make the process die on purpose.

A crash between two writes is the failure a payment system must survive, and the only honest way
to test it is to let the real server die right there. `fault_point(name)` does nothing unless
the environment variable `LIVECOMMERCE_FAULT_POINT` (comma-separated names), read once when this
module is imported, names the point: then the process sends itself SIGKILL on the spot, so no
`finally`, no shutdown hook and no buffered write runs, as in a power cut or an OOM kill.
Unset, a point costs one lookup in an empty frozenset. Services may call it; the domain may not
(it does no I/O). The points (docs/OPERATIONS.md, "Fault points", lists them with their tests):

- `checkout.after_payment_created` (`CheckoutService._resume`): the provider's payment exists,
  the order row does not yet say `pending_payment` or name it.
- `payment.before_ledger_commit` (`PaymentService.apply`, on a move to `paid`): the provider
  said paid (a webhook, the reconcile, the sweeper); the order, journal and sale are unwritten.
- `payment.after_ledger_commit` (`PaymentService.apply`, on a move to `paid`): paid, journaled,
  reservation committed; the event is neither recorded nor answered 2xx.
- `auction.after_settle` (`AuctionService._settle`): the auction's close is settled in SQL (the
  winner's order placed); the offer is not ended and `auction.closed` not announced.
- `group.after_capture` (`PaymentService.capture`): the provider captured a group member's
  payment; the order still says `authorized`, with no journal entry.
- `notify.mid_batch` (`Notifier.deliver`): the first e-mail or push delivery of a batch is sent
  and recorded; the rest of the batch is claimed (leased) and unsent.
"""

from __future__ import annotations

import os
import signal

#: Every point the code has; a name outside this set in the variable is a typo and fails start-up.
POINTS = frozenset(
    {
        "checkout.after_payment_created",
        "payment.before_ledger_commit",
        "payment.after_ledger_commit",
        "auction.after_settle",
        "group.after_capture",
        "notify.mid_batch",
    }
)


def _armed(value: str) -> frozenset[str]:
    names = frozenset(name.strip() for name in value.split(",") if name.strip())
    unknown = names - POINTS
    if unknown:
        raise RuntimeError(f"LIVECOMMERCE_FAULT_POINT names unknown points: {sorted(unknown)}")
    return names


_ARMED = _armed(os.environ.get("LIVECOMMERCE_FAULT_POINT", ""))


def fault_point(name: str) -> None:
    """Die here (SIGKILL, nothing cleans up) if the environment armed this point."""
    if name in _ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
