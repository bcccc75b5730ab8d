"""Batches by key, and back: `Accumulator(key=...)` and `Debatch`.

An accumulator with ``key=`` keeps one batch per key (here per customer),
each with its own size and timer; a function on the accumulator gets the
whole batch. `Debatch` turns batches back into single items. Port of the
Ruby gem's ``batch``/``debatch`` plans and ``36_batch_and_process.rb``.
"""

from __future__ import annotations

import minigun as mg


def main(n: int | None = None) -> None:
    n = 30 if n is None else n
    orders = [{"customer": f"c{i % 3}", "amount": i} for i in range(n)]
    invoices: list[dict[str, object]] = []
    lines: list[dict[str, int | str]] = []

    def invoice(batch: list[dict[str, int | str]]):
        yield {
            "customer": batch[0]["customer"],
            "orders": len(batch),
            "total": sum(int(o["amount"]) for o in batch),
        }
        yield batch  # the batch itself goes on, to be split again

    pipe = mg.Pipeline("billing")
    pipe.add(mg.Producer("orders", lambda: orders))
    pipe.add(
        mg.Accumulator("per_customer", invoice, max_size=4, key=lambda o: o["customer"])
    )
    pipe.add(
        mg.Processor(
            "split", lambda x: mg.To("invoices", x) if isinstance(x, dict) else x
        )
    )
    pipe.add(mg.Debatch("lines"))
    pipe.add(mg.Consumer("store", lines.append, to=()))
    pipe.add(mg.Consumer("invoices", invoices.append))
    pipe.run(timeout=30)

    assert len(lines) == n
    assert sum(int(str(i["total"])) for i in invoices) == sum(range(n))
    for inv in sorted(
        invoices, key=lambda i: (str(i["customer"]), -int(str(i["total"])))
    )[:4]:
        print(inv)
    print(f"{len(invoices)} invoices, {len(lines)} order lines")


if __name__ == "__main__":
    main()
