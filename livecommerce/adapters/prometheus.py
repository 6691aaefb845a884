"""PrometheusShopMetrics: the shop's counters on the app's registry (served at /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class PrometheusShopMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._checkouts = Counter(
            "livecommerce_checkouts",
            "checkout.start attempts by outcome (ok or the error code)",
            ["outcome"],
            registry=registry,
        )
        self._latency = Histogram(
            "livecommerce_checkout_seconds",
            "time to answer a checkout (reserve, order, payment)",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=registry,
        )
        self._orders = Counter(
            "livecommerce_order_transitions",
            "orders entering a status",
            ["status"],
            registry=registry,
        )
        self._webhooks = Counter(
            "livecommerce_payment_webhooks",
            "payment provider webhook deliveries by result",
            ["result"],
            registry=registry,
        )

    def checkout(self, outcome: str, seconds: float) -> None:
        self._checkouts.labels(outcome).inc()
        self._latency.observe(seconds)

    def order_status(self, status: str) -> None:
        self._orders.labels(status).inc()

    def webhook(self, result: str) -> None:
        self._webhooks.labels(result).inc()
