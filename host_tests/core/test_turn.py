"""One web answer in the making at a time (web/turn): a second waits for the first to
finish, and goes ahead without the turn when the first holds it past WAIT_S."""
import asyncio

from web import turn


def _run(hold_s, wait_s):
    """The order in which two answers started and ended, and whether the second got the
    turn: the first holds it hold_s."""
    events = []
    old = turn.WAIT_S
    turn.WAIT_S = wait_s

    async def answer(t, name, hold):
        taken = await t.take()
        events.append((name, "start", taken))
        await asyncio.sleep(hold)
        events.append((name, "end"))
        t.give(taken)

    async def main():
        t = turn.Turn()
        first = asyncio.create_task(answer(t, "a", hold_s))
        await asyncio.sleep(0)
        await answer(t, "b", 0)
        await first
        assert await t.take()  # given back: free again
        t.give(True)

    try:
        asyncio.run(main())
    finally:
        turn.WAIT_S = old
    return events


def test_the_second_answer_waits_for_the_first():
    assert _run(0.05, 1) == [("a", "start", True), ("a", "end"), ("b", "start", True),
                             ("b", "end")]


def test_an_answer_held_too_long_delays_the_next_only_wait_s():
    assert _run(0.3, 0.05) == [("a", "start", True), ("b", "start", False), ("b", "end"),
                               ("a", "end")]
