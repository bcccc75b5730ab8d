"""Inheritance with the decorator DSL: extend a Task and reroute one stage.

``AuditedPublisher`` inherits every stage, hook and config default of
``Publisher``, overrides one config value, adds an ``audit`` stage and a
hook, replaces the ``price`` stage with ``override=True`` and reroutes it
to both ``publish`` and ``audit`` with ``mg.reroute``. The parent class is
unchanged: it still builds and runs its own three-stage pipeline. Port of
the Ruby gem's ``22_reroute_stage.rb``.

Run it with ``python examples/dsl_inherited_reroute.py``.
"""

from __future__ import annotations

import sys
import threading

import minigun as mg


class Publisher(mg.Task):
    """Price orders and publish them."""

    max_retries = 1

    def __init__(self, orders: int = 20) -> None:
        self.orders = orders
        self.published: list[int] = []
        self.lock = threading.Lock()

    @mg.producer
    def incoming(self):
        for i in range(1, self.orders + 1):
            yield {"id": i, "total": i * 15.0}

    @mg.processor
    def price(self, order):
        return {**order, "with_tax": round(order["total"] * 1.2, 2)}

    @mg.consumer
    def publish(self, order):
        with self.lock:
            self.published.append(order["id"])

    @mg.after_run
    def summary(self):
        print(f"{type(self).__name__}: published {len(self.published)} orders")


class AuditedPublisher(Publisher):
    """Also audit large orders; apply a discount before pricing."""

    max_retries = 3  # overrides the parent's default

    def __init__(self, orders: int = 20, threshold: float = 200.0) -> None:
        super().__init__(orders)
        self.threshold = threshold
        self.audited: list[int] = []

    # Replace the parent's stage, in the parent's position in the chain.
    @mg.processor(override=True, threads=2)
    def price(self, order):
        total = order["total"] * 0.9
        return {**order, "total": total, "with_tax": round(total * 1.2, 2)}

    # A new stage; it would follow `publish` by the sequential default, but
    # the reroute below feeds it from `price` (publish emits nothing).
    @mg.consumer(to=())
    def audit(self, order):
        if order["with_tax"] > self.threshold:
            with self.lock:
                self.audited.append(order["id"])

    mg.reroute("price", to=["publish", "audit"])

    @mg.before_run
    def announce(self):
        print(f"{type(self).__name__}: auditing orders above {self.threshold}")


def edges(task: mg.Task) -> list[str]:
    graph = task.build().graph()
    return sorted(f"{graph.names[e.src]} -> {graph.names[e.dst]}" for e in graph.edges)


def main(n: int | None = None) -> tuple[Publisher, AuditedPublisher]:
    orders = 20 if n is None else n
    parent = Publisher(orders)
    child = AuditedPublisher(orders)

    print("Publisher:        ", ", ".join(edges(parent)))
    print("AuditedPublisher: ", ", ".join(edges(child)))
    parent.run(timeout=30)
    report = child.run(timeout=30)

    assert sorted(parent.published) == list(range(1, orders + 1))
    assert sorted(child.published) == list(range(1, orders + 1))
    assert child.build().config.max_retries == 3
    assert parent.build().config.max_retries == 1
    print(
        f"audited {len(child.audited)} large orders; "
        f"audit received {report.stages['audit'].items_in} items"
    )
    return parent, child


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else None)
