"""Per-actor limits: a token bucket on requests and a cap on queries running at once.

The app builds one `RateLimiter` per worker process from the settings (`rate_limit_per_minute`,
`rate_limit_burst`, `max_concurrent_queries_per_actor`); the auth middleware calls `check` for
every authenticated request and the query endpoint runs each query inside `slot`. Both raise
`RateLimitedError` (429, with Retry-After) with a message that tells the caller how long to
wait, since the caller is often a language model deciding what to do next.

Memory stays bounded whatever the stream of actors: a bucket is dropped once it has refilled
(an actor idle for `burst / rate` is the same as a new one), at most `max_actors` buckets are
kept (the least recently used goes first), and an actor's slot counter exists only while it has
queries running or waiting.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlgateway.errors import RateLimitedError

__all__ = ["RateLimiter"]

_EPSILON = 1e-9  # float slack: a bucket refilled to 0.9999999999 token has one


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float  # clock reading when `tokens` was computed


@dataclass(slots=True)
class _Slots:
    running: int = 0
    #: Queries waiting for a slot, oldest first; a release hands its slot to the first.
    waiters: deque[asyncio.Future[None]] = field(default_factory=deque)


class RateLimiter:
    """`rate_per_minute` requests per actor with bursts of `burst` (0: no limit), and at most
    `max_concurrent` queries running per actor (0: no cap). `clock` returns seconds and never
    goes back (time.monotonic); tests inject their own."""

    def __init__(
        self,
        rate_per_minute: float,
        burst: int,
        max_concurrent: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_actors: int = 100_000,
    ) -> None:
        if not rate_per_minute >= 0 or math.isinf(rate_per_minute):
            raise ValueError(f"rate_per_minute must be a finite number >= 0, got {rate_per_minute}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        if max_concurrent < 0:
            raise ValueError(f"max_concurrent must be >= 0, got {max_concurrent}")
        if max_actors < 1:
            raise ValueError(f"max_actors must be at least 1, got {max_actors}")
        self.rate_per_minute = rate_per_minute
        self.burst = burst
        self.max_concurrent = max_concurrent
        self.max_actors = max_actors
        self._rate_per_s = rate_per_minute / 60
        self._clock = clock
        #: Least recently updated first: the refilled ones are always at the front.
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._slots: dict[str, _Slots] = {}

    @property
    def tracked_actors(self) -> int:
        """Actors held in memory: with a bucket not yet refilled, or queries running/waiting."""
        return len(self._buckets.keys() | self._slots.keys())

    def check(self, actor: str) -> None:
        """Take one request token of `actor`'s bucket, or raise RateLimitedError."""
        if self._rate_per_s == 0:
            return
        now = self._clock()
        self._sweep(now)
        bucket = self._buckets.pop(actor, None)
        tokens = float(self.burst)
        if bucket is not None:
            tokens = min(tokens, bucket.tokens + (now - bucket.updated) * self._rate_per_s)
        allowed = tokens + _EPSILON >= 1
        self._buckets[actor] = _Bucket(max(0.0, tokens - 1) if allowed else tokens, now)
        while len(self._buckets) > self.max_actors:
            self._buckets.popitem(last=False)
        if allowed:
            return
        wait_s = max(1, math.ceil((1 - tokens) / self._rate_per_s - _EPSILON))
        raise RateLimitedError(
            f"rate limit reached for {actor}: at most {self.rate_per_minute:g} requests per "
            f"minute (bursts of {self.burst}); wait {wait_s} s before the next request",
            retry_after_s=wait_s,
            hint=f"wait {wait_s} seconds, then retry; ask fewer, broader queries "
            "(one query can answer several questions)",
        )

    def _sweep(self, now: float) -> None:
        """Drop the buckets that have refilled: idle at least `burst / rate` seconds."""
        full_after_s = self.burst / self._rate_per_s
        while self._buckets:
            oldest = next(iter(self._buckets.values()))
            if now - oldest.updated < full_after_s:
                break
            self._buckets.popitem(last=False)

    @asynccontextmanager
    async def slot(self, actor: str, timeout_s: float) -> AsyncIterator[None]:
        """Hold one of `actor`'s `max_concurrent` query slots while the block runs, waiting up
        to `timeout_s` for one (first come, first served); else RateLimitedError."""
        if self.max_concurrent == 0:
            yield
            return
        await self._acquire(actor, timeout_s)
        try:
            yield
        finally:
            self._release(actor)

    async def _acquire(self, actor: str, timeout_s: float) -> None:
        slots = self._slots.setdefault(actor, _Slots())
        if slots.running < self.max_concurrent and not slots.waiters:
            slots.running += 1
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        slots.waiters.append(granted)
        try:
            async with asyncio.timeout(max(0.0, timeout_s)):
                await granted
        except TimeoutError:
            pass
        except BaseException:  # cancelled: the request went away while it waited
            self._abandon(actor, granted)
            raise
        if granted.done() and not granted.cancelled():
            return  # handed over by `_release` (perhaps just as the time ran out)
        self._abandon(actor, granted)
        raise RateLimitedError(
            f"too many queries running for {actor}: at most {self.max_concurrent} at once, and "
            f"none finished within {timeout_s:g} s; wait for your running queries to finish "
            "(or 1 s), then retry",
            retry_after_s=1,
            hint="run queries one after another, not in parallel",
        )

    def _abandon(self, actor: str, granted: asyncio.Future[None]) -> None:
        """A waiter gives up; a slot handed to it meanwhile passes on."""
        if granted.done() and not granted.cancelled():
            self._release(actor)
            return
        granted.cancel()
        slots = self._slots.get(actor)
        if slots is not None and granted in slots.waiters:
            slots.waiters.remove(granted)
        self._forget_if_idle(actor)

    def _release(self, actor: str) -> None:
        slots = self._slots[actor]
        while slots.waiters:
            waiter = slots.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes to the waiter: `running` stays
                return
        slots.running -= 1
        self._forget_if_idle(actor)

    def _forget_if_idle(self, actor: str) -> None:
        slots = self._slots.get(actor)
        if slots is not None and slots.running == 0 and not slots.waiters:
            del self._slots[actor]
