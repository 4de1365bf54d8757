"""The firmware as a whole: reads the configuration and identity, starts the meter input,
the raw stream, the Modbus server, time sync and MQTT, and keeps house (line detection,
staleness, watchdog, status). The board module supplies everything that differs per
hardware.
"""
import asyncio
import gc
import json

import board
from device import clock, config, timesync
from device.identity import Identity
from device.version import VERSION
from device.wallclock import WallClock
from meter.framer import DSMR, TIC
from meter.latest import Latest
from meter.task import Meter
from modbus.tcp import ModbusServer
from net import budget
from net.fanout import Fanout


class App:
    def __init__(self):
        gc.collect()  # the buffers below are large: allocate them before the heap fragments
        self.config, self.config_errors = config.load(board.CONFIG_PATH)
        self.identity = Identity(board.IDENTITY_DIR, board.default_serial())
        mb = self.config["Modbus"]
        now = clock.ms()
        self.wall = WallClock()
        self.latest = Latest(mb["StaleAfter"] * 1000, now)
        self.raw = Fanout(budget.RAW_READERS)
        self.port = board.meter_port()
        self.meter = Meter(self.port, DSMR if board.METER == "p1" else TIC, self.latest,
                           self.config["MeterType"], clock.ms, self._wall_time,
                           (self.raw.publish,))
        self.modbus = ModbusServer(self.latest, clock.ms, mb["IdleTimeout"],
                                   budget.MODBUS_CLIENTS)
        self.mqtt = None
        if self.config["MQTT"]["Enabled"]:
            # Imported only here: the MQTT and TLS code holds ~25 KB of heap.
            from mqtt.publisher import Publisher
            self.mqtt = Publisher(self.config["MQTT"], self.identity, self.latest, self.wall,
                                  clock.ms, board.reset, self._resolve, board.NAME, VERSION)
        self.watchdog = board.watchdog()
        self.heap_peak = 0

    async def run(self):
        board.start_network("smart-connect-" + self.identity.serial.lower())
        await self.port.start()
        await self.raw.start(board.RAW_PORT, board.HOST)
        await self.modbus.start(board.MODBUS_PORT, board.HOST)
        for e in self.config_errors:
            print("config:", e)
        if self.identity.error:
            print("identity:", self.identity.error)
        print("smart-connect up: %s, board %s, serial %s, modbus %d, raw %d" % (
            VERSION, board.NAME, self.identity.serial, board.MODBUS_PORT, board.RAW_PORT))
        # Any task that fails ends the firmware (the device restarts) instead of
        # leaving it serving values that no longer change.
        tasks = [self.meter.run(), self._housekeeping(),
                 timesync.run(self.wall, board.network_time, board.set_clock, self.latest,
                              clock.ms)]
        if self.mqtt:
            tasks.append(self.mqtt.run())
        await asyncio.gather(*tasks)

    def _resolve(self, name):
        from net import dns

        return dns.resolve(name, board.dns_server())

    def _wall_time(self):
        return self.wall.now(clock.ms())

    async def _housekeeping(self):
        tick = 0
        while True:
            await asyncio.sleep(1)
            now = clock.ms()
            self.meter.tick(now)
            self.latest.fresh(now)  # latches staleness even when nobody polls
            gc.collect()  # a few ms on a 100 KB heap; keeps it unfragmented and measured
            self.heap_peak = max(self.heap_peak, gc.mem_alloc())
            if self.watchdog:
                self.watchdog.feed()
            tick += 1
            if board.STATUS_EVERY and tick % board.STATUS_EVERY == 0:
                print("status:", json.dumps(self.status()))

    def status(self):
        d = self.meter.decoder
        f = d.framer
        m = self.modbus
        now = clock.ms()
        return {
            "meter": {"valid": d.valid, "rejected": d.rejected, "last_error": d.last_error,
                      "frames": f.frames, "dropped": f.dropped, "oversized": f.oversized,
                      "noise": f.noise, "bytes": self.meter.bytes,
                      "line": self.meter.detect.state, "setting": self.meter.detect.index,
                      "age_ms": now - self.latest.at, "fresh": self.latest.fresh(now)},
            "modbus": {"clients": m.clients, "connections": m.connections,
                       "refused": m.refused, "garbage": m.garbage, "timeouts": m.timeouts,
                       "requests": m.requests, "exceptions": m.exceptions},
            "raw": {"readers": self.raw.readers, "dropped": self.raw.dropped,
                    "refused": self.raw.refused},
            "mqtt": self.mqtt.status(now) if self.mqtt else {"enabled": False,
                                                              "state": "disabled"},
            "device": {"serial": self.identity.serial, "version": VERSION,
                       "board": board.NAME, "time": self.wall.now(now)},
            "heap": {"live": gc.mem_alloc(), "free": gc.mem_free(), "peak_live": self.heap_peak},
            "config_errors": self.config_errors,
        }


def main():
    try:
        asyncio.run(App().run())
    except KeyboardInterrupt:
        pass
    except Exception as e:  # the device restarts; the sim exits with the error shown
        board.fatal(e)
