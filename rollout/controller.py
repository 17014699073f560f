"""The rollout state machine: checks gates, promotes, holds, and rolls back.

pending → progressing ⇄ paused / awaiting_approval → rolled_back / completed.

Every change is read-change-write under the store's ``state`` lock and recorded in the
audit log, so a CLI command and a running controller can act on the same rollout.
Pausing stops promotion, never protection: a paused rollout still rolls back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace

from flags.types import FlagAdmin
from observability.rollout_metrics import NoopRolloutMetrics, RolloutMetrics

from .decisions import (
    Hold,
    capacity_hold,
    in_guard_window,
    missed_deadline,
    verdict_hold,
)
from .gates import check, custom_queries
from .messages import describe_check, reading_text, short_duration
from .store import StateStore, held
from .types import (
    ACTIVE_PHASES,
    PHASE_CODES,
    CheckResult,
    Clock,
    ControllerState,
    DeadlineAction,
    GateReading,
    LockHeld,
    MetricSource,
    Phase,
    Plan,
    RollbackMode,
    RolloutError,
    Transition,
    Verdict,
)

log = logging.getLogger("flagstream.rollout")

CONTROLLER = "controller"
IDLE_POLL = 1.0  # how often a controller with nothing to check looks for a `start` (a cheap state read)


class RolloutController:
    """Drives one flag through one plan.

    Example::

        controller = RolloutController(plan, store, admin, source, clock=SystemClock())
        await controller.start(actor="alice")
        await controller.tick()            # one round: check gates if due, then decide
        await controller.run(stop_event)   # what `rollout watch` does
    """

    def __init__(
        self,
        plan: Plan,
        store: StateStore,
        admin: FlagAdmin | None,
        source: MetricSource | None,
        *,
        clock: Clock,
        metrics: RolloutMetrics | None = None,
        on_transition: Callable[[Transition], None] | None = None,
    ) -> None:
        self.plan = plan
        self.store = store
        self._admin = admin
        self._source = source
        self.clock = clock
        self.metrics = metrics if metrics is not None else NoopRolloutMetrics()
        self._on_transition = on_transition

    @property
    def admin(self) -> FlagAdmin:
        if self._admin is None:
            raise RolloutError("this command changes the flag: give --flags-file or --unleash-url")
        return self._admin

    @property
    def source(self) -> MetricSource:
        if self._source is None:
            raise RolloutError("this command reads metrics: give --metrics-url or --prometheus-url")
        return self._source

    # -- reading ---------------------------------------------------------------

    async def state(self) -> ControllerState:
        state = await self.store.load()
        if state is None:
            return ControllerState(flag=self.plan.flag)
        if state.flag != self.plan.flag:
            raise RolloutError(f"{self.store.where} holds the rollout of {state.flag!r}, but the plan is for {self.plan.flag!r}")
        if state.step >= len(self.plan.steps):
            raise RolloutError(f"{self.store.where} is at step {state.step + 1}, but the plan has {len(self.plan.steps)} steps")
        return state

    def percentage(self, state: ControllerState) -> int:
        return self.plan.steps[state.step].percentage if state.step >= 0 else 0

    def step_name(self, index: int) -> str | None:
        return self.plan.steps[index].name if index >= 0 else None

    # -- commands --------------------------------------------------------------

    async def start(self, actor: str, step_name: str | None = None) -> ControllerState:
        async with held(self.store):
            state = await self.state()
            if state.phase not in (Phase.PENDING, Phase.ROLLED_BACK):
                raise RolloutError(f"cannot start: the rollout is {state.phase.value} (start works when pending or rolled_back)")
            index = self.plan.step_index(step_name) if step_name else 0
            await self._apply_step(index)
            return await self._move(
                state, actor, "start", Phase.PROGRESSING, index, f"started at step {self.plan.steps[index].name}"
            )

    async def advance(self, actor: str, force: bool = False) -> ControllerState:
        async with held(self.store):
            state = await self.state()
            self._require(state, ACTIVE_PHASES, "advance")
            failing = [r for r in state.last_check if r.verdict is Verdict.FAIL]
            if (failing or state.consecutive_failures) and not force:
                names = ", ".join(r.gate for r in failing) or "the last check"
                raise RolloutError(f"refusing to advance: {names} failing; use --force to advance anyway")
            reason = "manual advance" + (" (forced past failing gates)" if failing else "")
            return await self._promote(state, actor, reason)

    async def pause(self, actor: str, reason: str = "") -> ControllerState:
        async with held(self.store):
            state = await self.state()
            self._require(state, {Phase.PROGRESSING, Phase.AWAITING_APPROVAL}, "pause")
            return await self._move(state, actor, "pause", Phase.PAUSED, state.step, reason or "paused by hand")

    async def resume(self, actor: str, reason: str = "") -> ControllerState:
        async with held(self.store):
            state = await self.state()
            self._require(state, {Phase.PAUSED}, "resume")
            return await self._move(state, actor, "resume", Phase.PROGRESSING, state.step, reason or "resumed")

    async def approve(self, actor: str, reason: str = "") -> ControllerState:
        async with held(self.store):
            state = await self.state()
            self._require(state, {Phase.AWAITING_APPROVAL}, "approve")
            index = state.step + 1
            await self._apply_step(index)
            why = f"approved entering {self.plan.steps[index].name}" + (f": {reason}" if reason else "")
            return await self._move(state, actor, "approve", Phase.PROGRESSING, index, why)

    async def rollback(self, actor: str, reason: str = "") -> ControllerState:
        async with held(self.store):
            state = await self.state()
            self._require(state, ACTIVE_PHASES | {Phase.COMPLETED}, "roll back")
            return await self._roll_back(state, actor, reason or "rolled back by hand", state.last_check)

    async def rollback_on_alert(self, actor: str, reason: str) -> tuple[bool, str]:
        """An alert fired: roll back if the rollout is moving (or in its guard window).

        Returns (rolled back, why). A rollout that is pending, rolled back, or completed
        past its guard window is left alone: an alert then is not about this rollout.
        """
        async with held(self.store):
            state = await self.state()
            guarded = in_guard_window(self.plan, state, self.clock.now())
            if state.phase not in ACTIVE_PHASES and not guarded:
                return False, f"the rollout is {state.phase.value}: nothing to roll back"
            await self._roll_back(state, actor, reason, state.last_check)
            return True, reason

    # -- the automatic round ------------------------------------------------------

    async def tick(self) -> ControllerState:
        """Check the gates if a check is due, then promote, hold or roll back."""
        before = await self.state()
        if not self._check_due(before):
            return before
        # Measure outside the state lock: a slow Prometheus must not hold up a human's command.
        sample = await self.source.sample(self.plan.steps[before.step].interval, custom_queries(self.plan))
        async with held(self.store):
            state = await self.state()
            if not self._check_due(state) or (state.phase, state.step) != (before.phase, before.step):
                return state  # someone acted while we measured; this window judged another audience
            now = self.clock.now()
            result = check(self.plan, state.step, now, sample)
            await self._record_check(result)
            return await self._decide(self._checked(state, result, now), result, now)

    def _checked(self, state: ControllerState, result: CheckResult, now: float) -> ControllerState:
        failures = {
            Verdict.FAIL: state.consecutive_failures + 1,
            Verdict.PASS: 0,
        }.get(result.verdict, state.consecutive_failures)
        no_data = state.consecutive_no_data + 1 if result.verdict is Verdict.NO_DATA else 0
        due = now + self.plan.steps[state.step].interval
        next_check: float | None = due
        if state.phase is Phase.COMPLETED and not in_guard_window(self.plan, state, due):
            next_check = None  # the guard window ends before the next check would
        return replace(
            state,
            last_check=result.readings,
            last_check_at=now,
            consecutive_failures=failures,
            consecutive_no_data=no_data,
            next_check_at=next_check,
            message=describe_check(result, failures, self.plan),
        )

    async def _decide(self, state: ControllerState, result: CheckResult, now: float) -> ControllerState:
        if result.aborted:
            reason = "abort_above crossed: " + "; ".join(reading_text(r) for r in result.aborted)
            return await self._roll_back(state, CONTROLLER, reason, result.readings)
        if state.consecutive_failures >= self.plan.failure_limit:
            failing = [r for r in result.counted if r.verdict is Verdict.FAIL]
            reason = f"{state.consecutive_failures} consecutive failed checks: " + "; ".join(reading_text(r) for r in failing)
            if state.phase is Phase.COMPLETED:
                reason = "guard window after completion: " + reason
            return await self._roll_back(state, CONTROLLER, reason, result.readings)
        if state.phase is Phase.COMPLETED:
            await self.store.save(state)
            return state
        deadline = missed_deadline(self.plan, state, now)
        if deadline is not None:
            if self.plan.on_deadline is DeadlineAction.ROLLBACK:
                return await self._roll_back(state, CONTROLLER, deadline, result.readings)
            return await self._move(state, CONTROLLER, "pause", Phase.PAUSED, state.step, deadline, gates=result.readings)
        step = self.plan.steps[state.step]
        baked = now - step.bake_started(state.step_since) >= step.bake_time
        hold = verdict_hold(result, state.message) if baked else None  # a hold is what stops a due move
        if state.phase is Phase.PROGRESSING and result.verdict is Verdict.PASS and baked:
            hold = capacity_hold(self.plan, state.step, result.sample)
            if hold is None:
                baked_for = short_duration(now - step.bake_started(state.step_since))
                return await self._promote(state, CONTROLLER, f"baked {baked_for} with every gate passing")
            state = replace(state, message=hold.reason)
        return await self._hold(state, hold, result.readings)

    async def _hold(self, state: ControllerState, hold: Hold | None, gates: tuple[GateReading, ...]) -> ControllerState:
        """Save the state; a new kind of hold is also one audit line (not one per check)."""
        kind = hold.kind if hold is not None else ""
        new = replace(state, hold=kind)
        await self.store.save(new)
        if hold is not None and kind != state.hold:
            await self._record(state, new, CONTROLLER, "hold", hold.reason, gates)
        return new

    def _check_due(self, state: ControllerState) -> bool:
        if state.phase not in ACTIVE_PHASES and not in_guard_window(self.plan, state, self.clock.now()):
            return False
        return state.next_check_at is None or self.clock.now() >= state.next_check_at

    async def run(self, stop: asyncio.Event, lease_expiry: float = 30.0) -> None:
        """Tick until ``stop`` is set, holding the controller lease so no other controller acts."""
        lease = self.store.lease("controller", lease_expiry)
        await lease.acquire(wait=0)
        try:
            await self.source.start()
            current = await self.state()
            self.metrics.phase_changed(self.plan.flag, PHASE_CODES[current.phase], self.percentage(current))
            log.info("watching %s (state %s): %s", self.plan.flag, self.store.where, current.phase.value)
            while not stop.is_set():
                await lease.renew()
                try:
                    state = await self.tick()
                except LockHeld:
                    raise
                except RolloutError as exc:
                    # A flag backend or metric source hiccup: keep the lease and try again next round.
                    log.warning("rollout round failed: %s", exc)
                    state = None
                await self._sleep_until_due(state, stop, lease_expiry / 3)
        finally:
            await lease.release()

    def poll_delay(self, state: ControllerState | None, longest: float = 10.0) -> float:
        """How long to sleep: until the next check, or IDLE_POLL when nothing is due (a `start` is noticed fast)."""
        if state is None or state.next_check_at is None:
            return min(IDLE_POLL, longest)  # pending, rolled back, completed: look for a `start` often
        return min(max(state.next_check_at - self.clock.now(), 0.05), longest)

    async def _sleep_until_due(self, state: ControllerState | None, stop: asyncio.Event, longest: float) -> None:
        # After a failed round (state None) wait the longest: an outage is retried, not hammered.
        delay = self.poll_delay(state, longest) if state is not None else longest
        stopper = asyncio.create_task(stop.wait())
        sleeper = asyncio.create_task(self.clock.sleep(delay))
        await asyncio.wait({stopper, sleeper}, return_when=asyncio.FIRST_COMPLETED)
        for task in (stopper, sleeper):
            task.cancel()

    # -- moves -----------------------------------------------------------------

    def _require(self, state: ControllerState, phases: set[Phase] | frozenset[Phase], verb: str) -> None:
        if state.phase not in phases:
            allowed = ", ".join(sorted(p.value for p in phases))
            raise RolloutError(f"cannot {verb}: the rollout is {state.phase.value} (allowed when {allowed})")

    async def _promote(self, state: ControllerState, actor: str, reason: str) -> ControllerState:
        index = state.step + 1
        if index >= len(self.plan.steps):
            return await self._move(state, actor, "complete", Phase.COMPLETED, state.step, reason, gates=state.last_check)
        target = self.plan.steps[index]
        if target.requires_approval and actor == CONTROLLER:
            return await self._move(
                state,
                actor,
                "await_approval",
                Phase.AWAITING_APPROVAL,
                state.step,
                f"{reason}; {target.name} needs approval (flagstream rollout approve)",
                gates=state.last_check,
            )
        await self._apply_step(index)
        return await self._move(state, actor, "advance", Phase.PROGRESSING, index, reason, gates=state.last_check)

    async def _roll_back(
        self, state: ControllerState, actor: str, reason: str, gates: tuple[GateReading, ...]
    ) -> ControllerState:
        if self.plan.rollback is RollbackMode.PREVIOUS and state.step > 0:
            index = state.step - 1
            await self._apply_step(index)
        else:
            index = -1
            await self._call_admin("disable the flag", self.admin.disable())
        return await self._move(state, actor, "rollback", Phase.ROLLED_BACK, index, reason, gates=gates)

    async def _apply_step(self, index: int) -> None:
        step = self.plan.steps[index]
        await self._call_admin("set the allowlist", self.admin.set_allowlist(list(step.allowlist)))
        await self._call_admin("set the rollout percentage", self.admin.set_rollout(step.percentage))
        await self._call_admin("enable the flag", self.admin.enable())

    async def _call_admin(self, what: str, awaitable: object) -> None:
        try:
            await awaitable  # type: ignore[misc]
        except RolloutError:
            raise
        except Exception as exc:  # noqa: BLE001 — FlagAdmin names no error type; any backend's failure is one line
            raise RolloutError(f"flag admin could not {what}: {exc}") from None

    async def _move(
        self,
        state: ControllerState,
        actor: str,
        action: str,
        phase: Phase,
        step: int,
        reason: str,
        *,
        gates: tuple[GateReading, ...] = (),
    ) -> ControllerState:
        now = self.clock.now()
        # A new audience starts a new bake and a new failure count; pausing or waiting does not.
        new_audience = step != state.step or action == "start"
        checking = phase in ACTIVE_PHASES or (phase is Phase.COMPLETED and self.plan.guard_window > 0)
        new = replace(
            state,
            phase=phase,
            step=step,
            phase_since=now,
            step_since=now if new_audience else state.step_since,
            consecutive_failures=0 if new_audience else state.consecutive_failures,
            consecutive_no_data=0,
            hold="",
            next_check_at=now + self.plan.steps[step].interval if checking and step >= 0 else None,
            message=reason,
        )
        await self.store.save(new)
        await self._record(state, new, actor, action, reason, gates)
        self.metrics.phase_changed(self.plan.flag, PHASE_CODES[phase], self.percentage(new))
        return new

    async def _record(
        self,
        old: ControllerState,
        new: ControllerState,
        actor: str,
        action: str,
        reason: str,
        gates: tuple[GateReading, ...],
    ) -> None:
        """One audit line (and webhook message, and log line) for a move or a hold."""
        transition = Transition(
            time=self.clock.now(),
            actor=actor,
            action=action,
            from_phase=old.phase.value,
            to_phase=new.phase.value,
            from_step=self.step_name(old.step),
            to_step=self.step_name(new.step),
            percentage=self.percentage(new),
            reason=reason,
            gates=gates,
        )
        await self.store.append_transition(transition)
        self.metrics.transition(self.plan.flag, action)
        log.info(
            "rollout %s: %s by %s, %s → %s (%s → %s): %s",
            self.plan.flag,
            action,
            actor,
            self._where(old),
            self._where(new),
            old.phase.value,
            new.phase.value,
            reason,
        )
        if self._on_transition is not None:
            self._on_transition(transition)

    def _where(self, state: ControllerState) -> str:
        return f"{self.step_name(state.step)} {self.percentage(state)}%" if state.step >= 0 else "off"

    async def _record_check(self, result: CheckResult) -> None:
        await self.store.append_check(result)
        for reading in result.readings:
            undecided = reading.verdict in (Verdict.NO_DATA, Verdict.INCONCLUSIVE)
            passed = None if undecided else reading.verdict is Verdict.PASS
            self.metrics.gate_checked(self.plan.flag, reading.gate, reading.value, passed)
