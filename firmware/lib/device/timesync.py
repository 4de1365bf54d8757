"""Keeps the wall clock set: the board's network time (SNTP on the ESP32, the host clock on
the sim) every hour, retried every 30 s while it fails; meanwhile the time the meter
sends in its telegrams stands in (SPEC section 6: TLS needs a valid clock)."""
import asyncio

RESYNC_MS = 3600 * 1000
RETRY_MS = 30 * 1000


async def run(wall, network_time, set_clock, latest, clock):
    """network_time(): awaitable UTC epoch seconds, or None when unreachable.
    set_clock(epoch): the board's clock, set from whichever source is used."""
    due = 0
    used = -1  # latest.count of the reading whose time was taken
    while True:
        now = clock()
        if now >= due:
            try:
                t = await network_time()
            except OSError:  # no socket left, cable pulled: retried like a silent server
                t = None
            now = clock()
            if t is None:
                due = now + RETRY_MS
            else:
                wall.set(t, now, "ntp")
                set_clock(t)
                due = now + RESYNC_MS
        r = latest.reading
        if wall.source != "ntp" and r is not None and r["ts"] is not None and \
                latest.count != used:
            used = latest.count
            wall.set(r["ts"], latest.at, "meter")
            set_clock(wall.now(clock()))
        await asyncio.sleep(1)
