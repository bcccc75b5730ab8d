"""Fan-out: every item goes to several consumers (broadcast, the default).

A `parallel()` group keeps the three consumers from being chained to each
other; the producer feeds every member, and its default router,
`BroadcastRouter`, gives each of them every item. Port of the Ruby gem's
``03_fan_out_pattern.rb`` and ``28_broadcast_fan_out.rb``.
"""

from __future__ import annotations

import threading

import minigun as mg


def main(n: int | None = None) -> None:
    n = 12 if n is None else n
    lock = threading.Lock()
    got: dict[str, list[int]] = {"email": [], "sms": [], "push": []}

    def deliver(channel: str):
        def send(user_id: int) -> None:
            with lock:
                got[channel].append(user_id)

        return send

    pipe = mg.Pipeline("notify")
    pipe.add(mg.Producer("users", lambda: range(n)))
    with pipe.parallel():
        for channel in got:
            pipe.add(mg.Consumer(channel, deliver(channel)))
    pipe.run(timeout=30)

    for channel, users in got.items():
        assert sorted(users) == list(range(n))
        print(f"{channel:5}: notified {len(users)} users")


if __name__ == "__main__":
    main()
