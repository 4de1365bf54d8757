"""Runs the network manager (net/manager.py) against the board's network driver: polls
what the driver sees, lets time pass, carries out the manager's actions, and tells the
services when the address changes (docs/network.md).

A driver (boards/sim/board.py, hw/netif.py) has `mac` (6 bytes), `poll(manager, now)`
(reports link, leases and unanswered DHCP attempts to the manager), `ap_clients()` and
`async do(action)`."""
import asyncio

from net.manager import NetManager

POLL_S = 0.1


class Network:
    def __init__(self, cfg, driver, clock):
        self.manager = NetManager(cfg, driver.mac)
        self.driver = driver
        self._clock = clock
        self._changed = asyncio.Event()

    @property
    def address(self):
        return self.manager.address

    @property
    def generation(self):
        return self.manager.generation

    async def next_change(self, generation):
        """Waits until the address is no longer the one of `generation` (mDNS, the
        listeners, MQTT: each keeps its own); returns the new generation. Any number of
        tasks may wait: each change wakes them all."""
        while self.manager.generation == generation:
            await self._changed.wait()
        return self.manager.generation

    async def run(self):
        m = self.manager
        m.start(self._clock())
        seen = m.generation
        while True:
            now = self._clock()
            self.driver.poll(m, now)
            m.tick(now, self.driver.ap_clients())
            for action in m.take():
                await self.driver.do(action)
            if m.generation != seen:
                seen = m.generation
                self._changed.set()  # wakes every waiter; later ones wait on a new Event
                self._changed = asyncio.Event()
            await asyncio.sleep(POLL_S)
