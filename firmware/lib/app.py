"""The firmware as a whole: reads the configuration and identity, starts the meter input,
the raw stream, the Modbus server, the web service, time sync and MQTT, and keeps house
(line detection, staleness, watchdog, status). The board module supplies everything
that differs per hardware.
"""
import asyncio
import gc
import json
import sys

import board
from device import clock, config, schema, timesync
from device.identity import Identity
from device.modules import forget
from device.outbuf import Out
from device.panel import SAMPLE_MS, Panel
from device.version import VERSION
from device.wallclock import WallClock
from meter.framer import DSMR, TIC
from meter.latest import Latest
from meter.task import Meter
from modbus import registers
from modbus.tcp import ModbusServer
from net import budget
from net.fanout import Fanout
from net.manager import factory_state
from net.supervisor import STEP_MS, Network
from web.service import Web


class App:
    version = VERSION
    board = board.NAME
    build = "MicroPython %d.%d.%d, %s" % (sys.implementation.version[:3] + (
        "modules from .mpy files" if __file__.endswith(".mpy") else "firmware frozen",))

    def __init__(self):
        gc.collect()  # the buffers below are large: allocate them before the heap fragments
        # Every answer, event and MQTT packet is written through this one buffer, each
        # filled and handed to its stream with no wait between (device/outbuf).
        self.out = Out(1024)
        self.config, self.config_errors = config.load(board.CONFIG_PATH)
        self.identity = Identity(board.IDENTITY_DIR, board.default_serial())
        registers.use(self.config["MeterType"], self.identity.serial)
        mb = self.config["Modbus"]
        now = clock.ms()
        self.started = now
        self.wall = WallClock()
        self.latest = Latest(mb["StaleAfter"] * 1000, now)
        self.raw = Fanout(budget.RAW_READERS)
        self.port = board.meter_port()
        self.meter = Meter(self.port, DSMR if board.METER == "p1" else TIC, self.latest,
                           self.config["MeterType"], clock.ms, self._wall_time,
                           (self.raw.publish,))
        self.modbus = ModbusServer(self.latest, clock.ms, mb["IdleTimeout"],
                                   budget.MODBUS_CLIENTS)
        self.web = Web(self, board.HTTPS_PORT)
        serial = self.identity.serial
        hostname = "smart-connect-" + serial.lower()  # DHCP's and mDNS's: one name
        self.mdns = None
        if board.MDNS:
            from net import mdns_task

            self.mdns = mdns_task.device(hostname, serial, board.HTTPS_PORT, clock.ms)
        self.rtu = None
        port = board.rs485() if hasattr(board, "rs485") else None
        if port is not None:  # the P1MB / A1MB class
            from modbus.slave import RtuSlave

            self.rtu = RtuSlave(port, self.latest, clock.ms, lambda: self.config,
                                self._rtu_restart, board.leds(),
                                lambda: self.meter.decoder.rejected)
        self.mqtt = None
        self._mqtt_changed = asyncio.Event()
        self.watchdog = board.watchdog()
        self.heap_live = self.heap_free = self.heap_peak = 0  # after the last collection
        self.panel = Panel(board.button(), board.led(), now)
        self.net = Network(self.config, board.network(
            hostname, "SC-" + serial, self.identity.ap_key), now)
        self.internet = None  # docs/network.md: the last exchange beyond the LAN worked
        self.partition = board.partition()
        self._updates = None
        u = self.updates()
        self.version = u.version  # the booted image's (docs/update.md)
        self.release_updates()

    async def run(self):
        await self.port.start()
        await self._listen()
        for e in self.config_errors:
            print("config:", e)
        for e in (self.identity.error, self.web.error):
            if e:
                print("identity:", e)
        print("smart-connect up: %s, board %s, serial %s, modbus %d, raw %d, https %d" % (
            self.version, board.NAME, self.identity.serial, board.MODBUS_PORT, board.RAW_PORT,
            board.HTTPS_PORT))
        # Any task that fails ends the firmware (the device restarts) instead of
        # leaving it serving values that no longer change.
        tasks = [self.meter.run(), self._housekeeping(), self._mqtt_service(),
                 timesync.run(self.wall, self._network_time, board.set_clock, self.latest,
                              clock.ms), self._front(), self._mdns_service(), self._trial()]
        if self.rtu is not None:
            tasks.append(self.rtu.run())
        await asyncio.gather(*tasks)

    def updates(self):
        """The update service (update/service.py), loaded when asked for: at boot, on a
        trial boot, and for the firmware API."""
        if self._updates is None:
            from update.service import Updates

            self._updates = Updates(self.partition, board.NAME, board.UPDATE_PATH, VERSION)
        return self._updates

    def release_updates(self):
        """Let the update code go (about 3 KB of heap) unless an update or a trial runs."""
        u = self._updates
        if u is None or u.on_trial or u.engine is not None and u.engine.busy():
            return
        self._updates = None
        for name in ("update.service", "update.engine", "update.image", "update.otadata",
                     "update.trial", "update.download", "web.upload"):
            forget(name)

    async def download_update(self, url, hints, progress, verified):
        """MQTT's update command (docs/update.md, "Over MQTT"): the image at url into the
        update service; once it is the boot slot, verified(version) reports it, then the
        reboot. ValueError naming the check that refused it."""
        from update import download

        try:
            version = await download.download(url, hints, self.updates, self.update_needs(),
                                              self.identity, self._resolve, progress)
        finally:
            self.release_updates()  # kept while the verified image waits for the reboot
        await verified(version)
        await self.reset("reboot")

    def update_needs(self):
        """The services up now, which a new image must bring back to be kept."""
        return [n for n in ("meter", "modbus", "https", "network", "mqtt") if self._up(n)]

    def _up(self, name):
        if name == "meter":
            return self.latest.reading is not None and self.latest.fresh(clock.ms())
        if name == "modbus":
            return getattr(self.modbus, "server", None) is not None
        if name == "https":
            return getattr(self.web.https, "server", None) is not None
        if name == "network":
            return self.net.address is not None
        return bool(self.mqtt and self.mqtt.status(clock.ms()).get("connected"))

    async def _trial(self):
        """A new image on trial: kept once what ran before is back (docs/update.md)."""
        if self._updates is not None and self._updates.on_trial:
            await self._updates.trial(self._up, clock.ms, board.reset, board.TRIAL_MS,
                                      board.SETTLE_MS)
            self.release_updates()

    async def _listen(self):
        await self.raw.start(board.RAW_PORT, board.HOST)
        await self.modbus.start(board.MODBUS_PORT, board.HOST)
        await self.web.start(board.HTTP_PORT, board.HTTPS_PORT, board.HOST)

    async def _front(self):
        """The button and the LED every SAMPLE_MS, the network every STEP_MS; a button
        release acts (docs/network.md). One task: each task costs heap."""
        net = self.net
        listening = True
        n = 0
        while True:
            await asyncio.sleep_ms(SAMPLE_MS)  # an int: no float allocated 50 times a second
            now = clock.ms()
            n += 1
            if n * SAMPLE_MS >= STEP_MS:
                n = 0
                actions = net.step(now)
                if actions:
                    await net.carry_out(actions)
                if net.changed():
                    listening = await self._follow(listening)
            m = net.manager
            meter = self.latest.reading is not None and self.latest.fresh(now)
            act = self.panel.step(now, m.ap, m.address is not None, meter,
                                  factory_state(self.config, config.DEFAULTS))
            if act is None:
                continue
            print("button:", act)
            if act == "access-point":
                m.ap_start(now)
            else:
                await self.reset("soft" if act == "soft-reset" else "factory")

    async def _follow(self, listening):
        """The services follow the address (docs/network.md): without one the listeners
        close (connections already open stay, as TCP keeps them over a short outage); when
        one comes they listen again (on every address: a new address needs nothing more),
        and MQTT starts a new session at once. Returns whether they listen."""
        self.internet = None
        self._mqtt_changed.set()
        if self.net.address is None:
            if listening:
                for s in (self.raw, self.modbus, self.web.http, self.web.https):
                    if getattr(s, "server", None) is not None:
                        s.server.close()
                        await s.server.wait_closed()
                        s.server = None
            return False
        if not listening:
            await self._listen()
        return True

    async def _network_time(self):
        """The board's network time, and whether it came: the "internet" indicator."""
        if self.net.address is None:  # booting, or the cable is out: wait a little
            try:
                await asyncio.wait_for(self.net.next_change(self.net.generation), 10)
            except asyncio.TimeoutError:
                pass
            if self.net.address is None:
                return None
        t = await board.network_time()
        self.internet = t is not None
        return t

    async def _mqtt_service(self):
        """MQTT while it is enabled; a new MQTT configuration starts a new session."""
        while True:
            self._mqtt_changed.clear()
            task = None
            if self.config["MQTT"]["Enabled"] and self.net.address is not None:
                # Imported only now: the MQTT and TLS code holds heap.
                from mqtt.publisher import Publisher
                self.mqtt = Publisher(self.config["MQTT"], self.identity, self.latest,
                                      self.wall, clock.ms, board.reset, self._resolve,
                                      board.NAME, self.version, self.out,
                                      self.download_update)
                task = asyncio.create_task(self.mqtt.run())
            else:
                self.mqtt = None
            await self._mqtt_changed.wait()
            if task is not None:
                task.cancel()

    async def _mdns_service(self):
        """The responder announces the interface's address and follows it."""
        if self.mdns:
            await asyncio.gather(self.mdns.run(), self._mdns_follow())

    async def _mdns_follow(self):
        net = self.net
        while True:
            self.mdns.responder.set_address(net.address)
            await net.next_change(net.generation)

    def apply_config(self, new):
        """Save a validated configuration (atomically) and apply what applies at once: the
        meter template (the register image is rebuilt now), Modbus timings, MQTT. The
        network settings wait for the next start (a soft reset: the button or the API)."""
        config.save(board.CONFIG_PATH, new)
        old, self.config = self.config, new
        self.config_errors = []
        self.meter.template = new["MeterType"]
        if new["MeterType"] != old["MeterType"]:
            registers.use(new["MeterType"])  # identification before the first telegram too
            if self.latest.reading is not None:
                self.latest.image = registers.build_image(self.latest.reading,
                                                          new["MeterType"])
        self.latest.limit_ms = new["Modbus"]["StaleAfter"] * 1000
        self.modbus.idle_s = new["Modbus"]["IdleTimeout"]
        if new["MQTT"] != old["MQTT"]:
            self._mqtt_changed.set()

    def _rtu_restart(self, changes):
        """The RTU slave's reboot register: save what was written over RS485, restart."""
        new, _ = schema.patch(self.config, changes)
        if changes and new is not None:
            config.save(board.CONFIG_PATH, new)
        board.reset()

    async def reset(self, mode):
        """soft: the firmware starts over without a hardware reset (the network stays up,
        every service reconnects); reboot: the whole device; factory: the configuration
        erased (never the identity), then a reboot."""
        await asyncio.sleep(0.5)  # the answer goes out first
        if mode == "factory":
            config.erase(board.CONFIG_PATH)
        if mode == "soft":
            board.soft_reset()
        else:
            board.reset()

    async def next_telegram(self, timeout_ms):
        return await self.meter.next_frame(timeout_ms)

    async def _resolve(self, name):
        from net import dns  # at MQTT's (re)connects only: let go after

        try:
            return await dns.resolve(name, board.dns_server())
        finally:
            forget("net.dns")
            forget("net.udp")

    def _wall_time(self):
        return self.wall.now(clock.ms())

    async def _housekeeping(self):
        tick = 0
        while True:
            await asyncio.sleep(1)
            now = clock.ms()
            self.meter.tick(now)
            self.latest.fresh(now)  # latches staleness even when nobody polls
            self.latest.tick()  # the event streams and MQTT look after their timers
            gc.collect()  # a few ms on a 100 KB heap; keeps it unfragmented and measured
            # Read here, not in status(): each reading walks the heap's whole block table.
            self.heap_live, self.heap_free = gc.mem_alloc(), gc.mem_free()
            self.heap_peak = max(self.heap_peak, self.heap_live)
            if self.watchdog:
                self.watchdog.feed()
            tick += 1
            if board.STATUS_EVERY and tick % board.STATUS_EVERY == 0:
                sys.stdout.write("status: ")
                json.dump(self.status(), sys.stdout)  # in pieces: no copy of the whole
                sys.stdout.write("\n")

    def _network_status(self, mqtt_state):
        """docs/network.md; indicators: True, False, or None (unknown, MQTT off)."""
        m = self.net.manager
        s = m.status()
        mqtt = mqtt_state.get("connected")
        internet = (True if mqtt else self.internet) if m.address else False
        s["indicators"] = {"link": m.link, "network": m.address is not None,
                           "internet": internet, "mqtt": mqtt}
        return s

    def status(self):
        d = self.meter.decoder
        f = d.framer
        m = self.modbus
        now = clock.ms()
        if self.mqtt:
            mqtt_state = self.mqtt.status(now)
        elif self.config["MQTT"]["Enabled"]:  # waiting for an address
            mqtt_state = {"enabled": True, "state": "no-network", "connected": False}
        else:
            mqtt_state = {"enabled": False, "state": "disabled"}
        return {
            "meter": {"valid": d.valid, "rejected": d.rejected, "no_heap": d.no_heap,
                      "last_error": d.last_error,
                      "frames": f.frames, "dropped": f.dropped, "oversized": f.oversized,
                      "noise": f.noise, "bytes": self.meter.bytes,
                      "protocol": self.latest.reading["protocol"] if self.latest.reading
                      else None, "line": self.meter.detect.state,
                      "setting": self.meter.detect.index,
                      "age_ms": now - self.latest.at, "fresh": self.latest.fresh(now)},
            "modbus": {"clients": m.clients, "connections": m.connections,
                       "refused": m.refused, "garbage": m.garbage, "timeouts": m.timeouts,
                       "requests": m.requests, "exceptions": m.exceptions,
                       "template": self.config["MeterType"],
                       "unmapped_reads": registers.missed[0],
                       "unmapped_top": [{"address": a, "reads": n} for a, n in sorted(
                           registers.misses.items(), key=lambda kv: (-kv[1], kv[0]))]},
            "raw": {"readers": self.raw.readers, "dropped": self.raw.dropped,
                    "refused": self.raw.refused},
            "mqtt": mqtt_state,
            "network": self._network_status(mqtt_state),
            "mdns": self.mdns.status() if self.mdns else None,
            "led": self.panel.status(),
            "web": self.web.status(now),
            "device": {"serial": self.identity.serial, "version": self.version,
                       "board": board.NAME, "time": self.wall.now(now),
                       "uptime_s": (now - self.started) // 1000,
                       "reset_cause": board.reset_cause()},
            "heap": {"live": self.heap_live, "free": self.heap_free, "peak_live": self.heap_peak,
                     "refused": dict(self.web.refused)},
            "config_errors": self.config_errors,
            "rs485": self.rtu.status() if self.rtu else None,
        }


def main():
    try:
        asyncio.run(App().run())
    except KeyboardInterrupt:
        pass
    except Exception as e:  # the device restarts; the sim exits with the error shown
        board.fatal(e)
