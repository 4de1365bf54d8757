"""MQTT publishing (SPEC section 6): one session at a time to the configured broker over
verified TLS, reconnected forever with backoff; readings, retained online/offline status
with last will, remote commands, Home Assistant discovery.

Only the newest reading waits to be sent: if the broker is slower than the meter the
readings in between are skipped (and counted), so nothing queues without bound, and the
meter input and Modbus never wait on MQTT.
"""
import asyncio
import json

from device import schema
from device.backoff import Backoff
from meter import reading
from mqtt import discovery
from mqtt.session import MqttError, Session
from net import tls

INSTANT_KEYS = ("ts", "power_w", "power_import_w", "power_export_w",
                "power_l1_w", "power_l2_w", "power_l3_w",
                "voltage_l1_v", "voltage_l2_v", "voltage_l3_v",
                "current_l1_a", "current_l2_a", "current_l3_a", "avg_demand_w")
COUNTER_KEYS = ("ts", "energy_import_kwh", "energy_export_kwh",
                "energy_import_t1_kwh", "energy_import_t2_kwh",
                "energy_export_t1_kwh", "energy_export_t2_kwh", "tariff",
                "gas_m3", "gas_ts", "water_m3", "water_ts", "mbus")
COUNTERS_EVERY_MS = 60 * 1000  # counters change slowly; readings go out every telegram
KEEPALIVE_S = 60
TIMEOUT_S = 10  # connect, TLS handshake, CONNACK, each write and each acknowledgement
STABLE_MS = 30 * 1000  # a session that lasted this long starts the backoff over
PROGRESS_MS = 5000  # an update's progress: one per 10 % or per this long, whichever first


class Publisher:
    def __init__(self, cfg, identity, latest, wall, clock, reset, resolve, model, version,
                 out, update=None):
        """cfg: the MQTT config section (made only when MQTT is enabled). reset(): the
        board's reboot (remote command). resolve(name): awaitable IPv4 address or None.
        out: the firmware's output buffer (device/outbuf) the readings' packets are built
        in, their JSON written straight into it, not in fresh strings. update(url, hints,
        progress, verified): the update command's coroutine (app.App.download_update):
        progress(got, total) as the image comes, then await verified(version) before it
        reboots; ValueError naming the check that refused it."""
        self.cfg = cfg
        self.identity = identity
        self.latest = latest
        self._wall = wall
        self._clock = clock
        self._reset = reset
        self._resolve = resolve
        self._model = model
        self._version = version
        base = "devices/%s/smart-connect/%s/" % (cfg["Site"], identity.serial)
        self.topic_data = base + "data/instantaneous"
        self.topic_counters = base + "data/counters"
        self.topic_status = base + "status"
        self.topic_command = base + "command"
        self.topic_result = base + "command/result"
        self.state = "starting"
        self.last_error = None
        self.sent = 0
        self.skipped = 0
        self.connects = 0
        self.failures = 0
        self.retry_at = None
        self._backoff = Backoff()
        self._packet = out
        self._command = None  # the last command's name, and its JSON object or None
        self._command_msg = None
        self._fail = None
        self._update = update
        self._updating = False  # an update task runs
        self._progress = None  # (got, total) not yet reported
        self._reported = (0, 0)  # (got, at) of the last progress reported
        self._outcome = None  # the update's result, waiting for the publish loop
        self._said = asyncio.Event()  # the verified result went out: the device reboots

    def status(self, now):
        return {"enabled": True, "state": self.state,
                "connected": self.state == "connected", "broker": self.cfg["Broker"],
                "last_error": self.last_error, "sent": self.sent, "skipped": self.skipped,
                "connects": self.connects, "failures": self.failures,
                "retry_in_ms": max(0, self.retry_at - now) if self.state == "retrying"
                else None, "clock": self._wall.source}

    async def run(self):
        err = self.identity.error
        try:
            host, port = schema.broker_address(self.cfg["Broker"])
        except ValueError as e:
            err = "MQTT.Broker: %s" % (e if self.cfg["Broker"] else "not set")
        if err:
            self.state = "error"
            self.last_error = err
            return
        user, password = self.cfg["Username"], self.cfg["Password"]
        if not (user and password):  # mutual TLS unless both are set
            user = password = None
        ctx = None
        while True:
            if not self._wall.valid():
                self.state = "waiting for clock"
                await asyncio.sleep(1)
                continue
            started = self._clock()
            try:
                if ctx is None:
                    ctx = tls.context(self.identity, client_cert=user is None)
                await self._session(host, port, ctx, user, password)
            except (MqttError, OSError, ValueError, EOFError, MemoryError) as e:
                # MemoryError: no heap for this session now; it is retried like the rest
                self.last_error = tls.error_text(e)
            self.failures += 1
            now = self._clock()
            if now - started >= STABLE_MS:
                self._backoff.reset()
            delay = self._backoff.next()
            self.state = "retrying"
            self.retry_at = now + delay
            await asyncio.sleep(delay / 1000)

    async def _session(self, host, port, ctx, user, password):
        self.state = "connecting"
        ip = await self._resolve(host)
        if ip is None:
            raise OSError("cannot resolve %s" % host)
        r, w, raw = await tls.open_connection(ip, port, host, ctx, TIMEOUT_S)
        reader = None
        try:
            s = Session(r, w, self._on_command, TIMEOUT_S, self._packet)
            await s.connect(self.identity.serial, KEEPALIVE_S, user, password,
                            (self.topic_status, "offline", True))
            self._fail = None
            reader = asyncio.create_task(self._read(s))
            await self._publish(s, self.topic_status, "online", 1, True)
            await s.subscribe(self.topic_command, 1)
            self.connects += 1
            self.state = "connected"
            self.last_error = None
            await self._publish_loop(s)
        finally:
            if reader is not None:
                reader.cancel()
            await tls.close(w, raw)

    async def _read(self, s):
        try:
            await s.run()
        except (MqttError, OSError, ValueError, EOFError, MemoryError) as e:
            self._fail = e

    async def _publish(self, s, topic, payload, qos=0, retain=False):
        await s.publish(topic, payload, qos, retain)
        self.sent += 1

    async def _publish_reading(self, s, topic, r, keys):
        await self._publish(s, topic, lambda out: reading.write_json(out, r, keys))

    async def _publish_loop(self, s):
        latest = self.latest
        seen = latest.count - 1 if latest.reading is not None else latest.count
        counters_at = None
        announced = not self.cfg["HomeAssistant"]
        while True:
            if self._fail is not None:
                raise self._fail
            if self._command is not None:
                await self._run_command(s)
            if self._progress is not None or self._outcome is not None:
                await self._report(s)
            if latest.count == seen:
                await latest.wait()  # a reading, or the firmware's tick every second
                continue
            self.skipped += latest.count - seen - 1
            seen = latest.count
            r = latest.reading
            await self._publish_reading(s, self.topic_data, r, INSTANT_KEYS)
            now = self._clock()
            if counters_at is None or now - counters_at >= COUNTERS_EVERY_MS:
                await self._publish_reading(s, self.topic_counters, r, COUNTER_KEYS)
                counters_at = now
            if not announced:  # after the first reading: it says which sensors exist
                for topic, config in discovery.messages(
                        self.identity.serial, (self.topic_data, self.topic_counters,
                                               self.topic_status),
                        self._model, self._version, r):
                    await self._publish(s, topic, lambda out, c=config: json.dump(c, out),
                                        1, True)
                announced = True

    def _on_command(self, topic, payload):
        """From the session's reader: remembered here, carried out by the publish loop."""
        msg = None
        try:
            text = payload.decode().strip()
            if text.startswith("{"):
                msg = json.loads(text)
                text = msg["command"]
        except (ValueError, KeyError, TypeError):
            text = "?"
        self._command = str(text)
        self._command_msg = msg

    async def _run_command(self, s):
        cmd, msg, self._command, self._command_msg = self._command, self._command_msg, None, None
        if cmd == "update" and self._update is not None:
            if self._updating:
                await self._result(s, _refusal("busy: an update is already running"))
            else:
                self._updating = True
                self._progress = self._outcome = None
                self._reported = (0, self._clock())
                self._said.clear()
                asyncio.create_task(self._run_update(msg if isinstance(msg, dict) else {}))
            return
        if cmd == "reboot":
            result = "rebooting"
        elif cmd == "update":
            result = "error: firmware update over MQTT is not available in this version"
        else:
            result = "error: unknown command (known: reboot, update)"
        await self._result(s, {"command": cmd, "result": result})
        if cmd == "reboot":
            await self._goodbye(s)
            self._reset()

    async def _result(self, s, d):
        await self._publish(s, self.topic_result, json.dumps(d), 1)

    async def _goodbye(self, s):
        # Offline now, not by the last will: the broker drops it on a clean disconnect.
        await self._publish(s, self.topic_status, "offline", 1, True)
        await s.disconnect()

    async def _run_update(self, msg):
        """The update command as a task of its own: the publish loop keeps publishing
        readings, and reports what this task leaves in _progress and _outcome."""
        try:
            await self._update(msg.get("url"), {k: msg[k] for k in ("version", "size",
                                                                    "sha256") if k in msg},
                               self._on_progress, self._on_verified)
        except ValueError as e:
            self._outcome = _refusal(tls.error_text(e))
        except Exception as e:  # MemoryError among them: reported, the firmware runs on
            self._outcome = _refusal("error: %s" % tls.error_text(e))
        finally:
            self._updating = False

    def _on_progress(self, got, total):
        self._progress = (got, total)

    async def _on_verified(self, version):
        """The image is the boot slot: its result out, status offline and a clean
        disconnect before the reboot, within a bound (the broker may be away)."""
        self._progress = None
        self._outcome = {"command": "update", "result": "verified", "version": version}
        try:
            await asyncio.wait_for(self._said.wait(), 3 * TIMEOUT_S)
        except asyncio.TimeoutError:
            pass

    async def _report(self, s):
        p, outcome = self._progress, self._outcome
        if p is not None and outcome is None:
            got, total = p
            now = self._clock()
            last, at = self._reported
            if got - last >= total // 10 or now - at >= PROGRESS_MS:
                self._progress = None
                self._reported = (got, now)
                await self._result(s, {"command": "update", "result": "downloading",
                                       "received": got, "total": total})
            return
        self._progress = None
        await self._result(s, outcome)
        self._outcome = None
        if outcome["result"] == "verified":
            self.state = "rebooting"
            try:
                await self._goodbye(s)
            except (MqttError, OSError):
                pass  # the broker publishes the last will instead
            self._said.set()
            while True:  # the app reboots the device now: no new session before it
                await asyncio.sleep(1)


def _refusal(reason):
    """The update command's error result: reason starts with the check's name."""
    check = reason.split(":", 1)[0]
    return {"command": "update", "result": "error",
            "error": "update:" + (check if len(check) < 24 else "error"), "reason": reason}
