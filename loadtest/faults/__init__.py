"""Faults at any scale: a real topology (Redis, `flagstream serve` instances, HAProxy),
EventSource-like listeners, an idempotent publisher, and a check that every accepted
notification reached its user exactly once, in order.

Used by the fault-injection suite (tests/faults, small) and by `flagstream loadtest
faults` (bigger). Ids are opaque here: order is order of arrival, and what is compared
are the markers the publisher put in `data` ({"u": user, "n": round}).
"""
