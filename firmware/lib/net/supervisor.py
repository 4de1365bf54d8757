"""Runs the network manager (net/manager.py) against the board's network driver: polls
what the driver sees, lets time pass, carries out the manager's actions, and tells the
services when the address changes (docs/network.md). The firmware calls step() from its
front-panel task (app.py): one task for both keeps the heap small.

A driver (boards/sim/board.py, hw/netif.py) has `mac` (6 bytes), `poll(manager, now)`
(reports link, leases and unanswered DHCP attempts to the manager), `ap_clients()` and
`async do(action)`."""
import asyncio

from net.manager import NetManager

STEP_MS = 100


class Network:
    """The manager, its driver, and who waits for a new address. `address` and
    `generation` (the manager's change counter) are plain attributes, current after
    each step()."""

    def __init__(self, cfg, driver, now):
        self.manager = NetManager(cfg, driver.mac)
        self.driver = driver
        self.address = None
        self.generation = 0
        self._changed = asyncio.Event()
        self.manager.start(now)

    async def next_change(self, generation):
        """Waits until the address is no longer the one of `generation` (mDNS, MQTT: each
        keeps its own); returns the new generation. Any number of tasks may wait: each
        change wakes them all."""
        while self.generation == generation:
            await self._changed.wait()
        return self.generation

    def step(self, now):
        """One pass (every STEP_MS): what the driver sees and the time. Returns the
        manager's actions to carry_out(), usually none: a quiet pass allocates nothing."""
        m = self.manager
        self.driver.poll(m, now)
        m.tick(now, self.driver.ap_clients())
        return m.take()

    async def carry_out(self, actions):
        for action in actions:
            await self.driver.do(action)

    def changed(self):
        """True once after each change of address; wakes the tasks in next_change()."""
        m = self.manager
        if m.generation == self.generation:
            return False
        self.generation = m.generation
        self.address = m.address
        self._changed.set()  # a pulse: every task waiting now runs, later ones wait again
        self._changed.clear()
        return True
