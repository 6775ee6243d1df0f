"""sqlgateway.http.ratelimit: the per-actor token bucket (injected clock) and query slots
(asyncio.run, real event loop, short timeouts)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from sqlgateway.errors import RateLimitedError
from sqlgateway.http.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter(
    rate: float,
    burst: int,
    concurrent: int = 0,
    *,
    clock: Callable[[], float] = time.monotonic,
    max_actors: int = 100_000,
) -> RateLimiter:
    return RateLimiter(rate, burst, concurrent, clock=clock, max_actors=max_actors)


def refused(limiter: RateLimiter, actor: str) -> RateLimitedError:
    with pytest.raises(RateLimitedError) as caught:
        limiter.check(actor)
    return caught.value


# --- token bucket -------------------------------------------------------------------------


def test_burst_then_refused_with_the_wait_until_one_token() -> None:
    clock = Clock()
    rl = limiter(6, 3, clock=clock)  # one token per 10 s
    for _ in range(3):
        rl.check("ann")
    error = refused(rl, "ann")
    assert error.status_code == 429
    assert error.code == "rate_limited"
    assert error.headers == {"Retry-After": "10"}
    assert "ann" in error.message and "wait 10 s" in error.message
    assert "6 requests per minute" in error.message and "bursts of 3" in error.message
    assert error.hint is not None and "10 seconds" in error.hint


@pytest.mark.parametrize(
    ("elapsed_s", "retry_after"),
    [(0, 10), (0.5, 10), (1, 9), (8.99, 2), (9, 1), (9.999, 1)],
)
def test_retry_after_is_the_rounded_up_wait(elapsed_s: float, retry_after: int) -> None:
    clock = Clock()
    rl = limiter(6, 1, clock=clock)
    rl.check("ann")
    clock.now += elapsed_s
    assert refused(rl, "ann").headers["Retry-After"] == str(retry_after)


def test_tokens_refill_at_the_rate_up_to_the_burst() -> None:
    clock = Clock()
    rl = limiter(60, 2, clock=clock)  # one token per second
    rl.check("ann")
    rl.check("ann")
    refused(rl, "ann")
    clock.now += 1
    rl.check("ann")
    refused(rl, "ann")
    clock.now += 3600  # refills to the burst, not beyond
    rl.check("ann")
    rl.check("ann")
    refused(rl, "ann")


def test_refusals_do_not_consume_tokens() -> None:
    clock = Clock()
    rl = limiter(60, 1, clock=clock)
    rl.check("ann")
    for _ in range(5):
        clock.now += 0.1
        refused(rl, "ann")
    clock.now += 0.5  # 1 s since the token was taken
    rl.check("ann")


def test_fractional_rates_accumulate_exactly_enough() -> None:
    clock = Clock()
    rl = limiter(7, 1, clock=clock)  # one token per 60/7 s, not a round number
    rl.check("ann")
    clock.now += 60 / 7
    rl.check("ann")
    assert refused(rl, "ann").headers["Retry-After"] == "9"


def test_actors_have_separate_buckets() -> None:
    clock = Clock()
    rl = limiter(1, 1, clock=clock)
    rl.check("ann")
    refused(rl, "ann")
    rl.check("bob")
    refused(rl, "bob")


def test_rate_zero_never_limits_and_keeps_nothing() -> None:
    rl = limiter(0, 1)
    for i in range(10_000):
        rl.check("ann")
        rl.check(f"actor{i}")
    assert rl.tracked_actors == 0


def test_refilled_buckets_are_forgotten() -> None:
    clock = Clock()
    rl = limiter(60, 5, clock=clock)  # full again 5 s after the last request
    for i in range(1000):
        rl.check(f"actor{i}")
    assert rl.tracked_actors == 1000
    clock.now += 4.9
    rl.check("late")
    assert rl.tracked_actors == 1001
    clock.now += 0.1
    rl.check("later")
    assert rl.tracked_actors == 2  # "late" and "later" have not refilled yet


def test_a_stream_of_distinct_actors_stays_within_max_actors() -> None:
    clock = Clock()
    rl = limiter(1, 1, clock=clock, max_actors=100)  # a bucket needs 60 s to refill
    for i in range(10_000):
        clock.now += 0.001
        rl.check(f"actor{i}")
    assert rl.tracked_actors == 100
    rl.check("actor0")  # the least recently used went first: actor0 starts afresh
    refused(rl, "actor9999")  # the most recent are kept


def test_forgetting_a_refilled_bucket_changes_nothing_for_its_actor() -> None:
    clock = Clock()
    rl = limiter(60, 3, clock=clock)
    for _ in range(3):
        rl.check("ann")
    clock.now += 3
    rl.check("bob")  # sweeps ann's bucket, refilled
    assert rl.tracked_actors == 1
    for _ in range(3):
        rl.check("ann")
    refused(rl, "ann")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((-1, 1, 0), "rate_per_minute"),
        ((float("nan"), 1, 0), "rate_per_minute"),
        ((float("inf"), 1, 0), "rate_per_minute"),
        ((1, 0, 0), "burst"),
        ((1, 1, -1), "max_concurrent"),
    ],
)
def test_invalid_limits_are_refused(args: tuple[float, int, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RateLimiter(*args)
    with pytest.raises(ValueError, match="max_actors"):
        RateLimiter(1, 1, 1, max_actors=0)


# --- query slots --------------------------------------------------------------------------


def test_slots_cap_concurrent_queries_per_actor() -> None:
    rl = limiter(0, 1, 2)
    running: list[str] = []
    peak = 0

    async def query(actor: str) -> None:
        nonlocal peak
        async with rl.slot(actor, timeout_s=5):
            running.append(actor)
            peak = max(peak, running.count(actor))
            await asyncio.sleep(0.01)
            running.remove(actor)

    async def main() -> None:
        await asyncio.gather(*(query(actor) for actor in ["ann"] * 10 + ["bob"] * 10))

    asyncio.run(main())
    assert peak == 2
    assert rl.tracked_actors == 0


def test_a_waiter_gets_the_released_slot_in_arrival_order() -> None:
    rl = limiter(0, 1, 1)
    order: list[int] = []

    async def query(n: int) -> None:
        async with rl.slot("ann", timeout_s=5):
            order.append(n)
            await asyncio.sleep(0.005)

    async def main() -> None:
        tasks = []
        for n in range(5):
            tasks.append(asyncio.create_task(query(n)))
            await asyncio.sleep(0)  # start in order
        await asyncio.gather(*tasks)

    asyncio.run(main())
    assert order == [0, 1, 2, 3, 4]


def test_waiting_longer_than_the_timeout_is_refused() -> None:
    rl = limiter(0, 1, 1)

    async def main() -> RateLimitedError:
        hold = asyncio.Event()

        async def long_query() -> None:
            async with rl.slot("ann", timeout_s=1):
                await hold.wait()

        task = asyncio.create_task(long_query())
        await asyncio.sleep(0)
        try:
            with pytest.raises(RateLimitedError) as caught:
                async with rl.slot("ann", timeout_s=0.02):
                    pytest.fail("ran without a slot")
            async with rl.slot("bob", timeout_s=0.02):  # other actors are not held up
                pass
            return caught.value
        finally:
            hold.set()
            await task

    error = asyncio.run(main())
    assert error.message.startswith("too many queries running for ann: at most 1 at once")
    assert "0.02 s" in error.message and "retry" in error.message
    assert error.headers == {"Retry-After": "1"}
    assert rl.tracked_actors == 0


def test_zero_timeout_refuses_at_once_when_busy() -> None:
    rl = limiter(0, 1, 1)

    async def main() -> None:
        async with rl.slot("ann", timeout_s=0):
            with pytest.raises(RateLimitedError):
                async with rl.slot("ann", timeout_s=0):
                    pass
        async with rl.slot("ann", timeout_s=0):  # free again
            pass

    asyncio.run(main())
    assert rl.tracked_actors == 0


def test_a_cancelled_waiter_leaves_no_trace() -> None:
    rl = limiter(0, 1, 1)

    async def main() -> list[str]:
        ran: list[str] = []
        hold = asyncio.Event()

        async def query(name: str) -> None:
            async with rl.slot("ann", timeout_s=5):
                ran.append(name)
                await hold.wait()

        first = asyncio.create_task(query("first"))
        await asyncio.sleep(0)
        gone = asyncio.create_task(query("gone"))  # the client disconnects while it waits
        third = asyncio.create_task(query("third"))
        await asyncio.sleep(0)
        gone.cancel()
        await asyncio.sleep(0)
        hold.set()
        await asyncio.gather(first, third)
        with pytest.raises(asyncio.CancelledError):
            await gone
        return ran

    assert asyncio.run(main()) == ["first", "third"]
    assert rl.tracked_actors == 0


def test_a_slot_handed_to_a_cancelled_waiter_passes_on() -> None:
    rl = limiter(0, 1, 1)

    async def main() -> list[str]:
        ran: list[str] = []
        release = asyncio.Event()
        tasks: dict[str, asyncio.Task[None]] = {}

        async def query(name: str) -> None:
            async with rl.slot("ann", timeout_s=5):
                ran.append(name)
                if name == "first":
                    await release.wait()
            if name == "first":  # the slot was just handed to `handed`, which has not run
                tasks["handed"].cancel()

        for name in ("first", "handed", "third"):
            tasks[name] = asyncio.create_task(query(name))
            await asyncio.sleep(0)
        release.set()
        results = await asyncio.gather(*tasks.values(), return_exceptions=True)
        assert isinstance(results[1], asyncio.CancelledError)
        return ran

    assert asyncio.run(main()) == ["first", "third"]
    assert rl.tracked_actors == 0


def test_an_error_in_the_block_releases_the_slot() -> None:
    rl = limiter(0, 1, 1)

    async def main() -> None:
        with pytest.raises(ZeroDivisionError):
            async with rl.slot("ann", timeout_s=0):
                _ = 1 / 0
        async with rl.slot("ann", timeout_s=0):
            pass

    asyncio.run(main())
    assert rl.tracked_actors == 0


def test_no_cap_is_a_no_op() -> None:
    rl = limiter(0, 1, 0)

    async def main() -> int:
        entered = 0

        async def query() -> None:
            nonlocal entered
            async with rl.slot("ann", timeout_s=0):
                entered += 1
                await asyncio.sleep(0.01)

        await asyncio.gather(*(query() for _ in range(50)))
        return entered

    assert asyncio.run(main()) == 50
    assert rl.tracked_actors == 0
