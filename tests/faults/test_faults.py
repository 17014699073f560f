"""Under every fault: each user receives every accepted notification exactly once, in order.

Sanity bounds only on time (recovery is recorded, not asserted tightly): the machine is shared.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.redis]
RECOVERY_SANITY_BOUND = 30.0


def assert_recovered(outcome) -> None:
    assert outcome.verdict.exactly_once_in_order, outcome.verdict
    assert outcome.recovery_s is not None and outcome.recovery_s < RECOVERY_SANITY_BOUND, outcome


async def test_sigkill_of_one_instance_behind_haproxy_loses_nothing(fault_run) -> None:
    outcome = await fault_run("instance-kill")
    assert_recovered(outcome)
    assert outcome.endings["network error"] > 0  # the killed instance's streams just broke


async def test_rolling_restart_behind_haproxy_sends_shutdown_and_loses_nothing(fault_run) -> None:
    outcome = await fault_run("rolling-restart")
    assert_recovered(outcome)
    assert outcome.endings.get("shutdown", 0) >= outcome.users  # every stream was drained, not cut


async def test_redis_pause_delays_but_loses_nothing(fault_run) -> None:
    assert_recovered(await fault_run("redis-pause"))


async def test_redis_restart_with_aof_loses_nothing_accepted(fault_run) -> None:
    assert_recovered(await fault_run("redis-restart-aof", hold=1.0))


async def test_redis_wipe_never_loses_silently(fault_run) -> None:
    """Without persistence what was accepted before the wipe is gone; a client must be told
    (`reset`, then the inbox), never left with a cursor that now looks valid."""
    outcome = await fault_run("redis-restart-wipe", hold=1.0)
    assert outcome.verdict.duplicated == outcome.verdict.unexpected == 0
    assert outcome.verdict.lost_without_reset == 0, outcome.verdict


async def test_black_hole_dead_peers_are_dropped_by_the_kernel_and_clients_resume(fault_run) -> None:
    outcome = await fault_run("black-hole", hold=4.0)
    assert_recovered(outcome)
    # keepalive (an idle connection) and TCP_USER_TIMEOUT (streams with unacknowledged pings), 3 s each
    assert 0 < float(outcome.figures["dead_peers_dropped_s"]) < RECOVERY_SANITY_BOUND
    assert outcome.endings["network error"] > 0 and outcome.endings.get("shutdown", 0) == 0


async def test_a_slow_consumer_is_told_overflow_resumes_and_never_slows_the_others(fault_run) -> None:
    outcome = await fault_run("slow-consumer")
    assert_recovered(outcome)
    figures = outcome.figures
    assert figures["slow_stream_last_event"] == "overflow"
    assert figures["slow_resumed_complete"] == "yes"
    assert (figures["slow_lost"], figures["slow_duplicated"], figures["slow_out_of_order"]) == (0, 0, 0)


async def test_lost_publish_responses_retried_with_the_same_key_deliver_once(fault_run) -> None:
    outcome = await fault_run("lost-responses")
    assert_recovered(outcome)
    assert outcome.figures["responses_lost"] > 0
