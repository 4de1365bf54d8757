"""Our mDNS responder (RFC 6762, DNS-SD RFC 6763), the state machine: time and datagrams
in, packets out, no sockets (net/mdns_task.py carries them).

It answers A queries for the device's own name (smart-connect-<serial>.local) always,
and for the shared name (smart-connect.local) only once probing found nobody else holding
it: a second device keeps its own name and leaves the shared one alone, trying again
every RETRY_MS (the holder answers the probe, so trying never disturbs it). It advertises
one _http._tcp service (an instance name of its own, the HTTPS port, TXT serial, product
and API path). Answers are multicast, each record at most once a second (four times for
a probe's defence), and legacy one-shot queries (not from port 5353) get a unicast
answer; every packet sent counts against SEND_MAX a second, so a flood of queries
cannot make the device flood the LAN."""
import os

from net import mdns_wire as w

try:
    from micropython import const
except ImportError:
    const = int

PORT = 5353
GROUP = "224.0.0.251"
_TTL = const(120)  # host and SRV records (RFC 6762 section 10)
_TTL_LONG = const(4500)  # PTR and TXT
_PROBES = const(3)
_PROBE_MS = const(250)
_ANNOUNCES = const(2)  # 1 s apart (RFC 6762 section 8.3)
_ANNOUNCE_MS = const(1000)
DEFER_MS = 1000  # after losing a simultaneous probe (RFC 6762 section 8.2)
RETRY_MS = 600000  # a lost shared name is tried again (the other device may be gone)
SEND_MAX = 20  # packets a second, all kinds together
_LEGACY_TTL = const(10)  # RFC 6762 section 6.7
_LONG_AGO = const(1 << 29)

# the records, by index
_HOST = const(0)
_SHARED = const(1)
_SERVICE = const(2)
_ENUM = const(3)
_SRV = const(4)
_TXT = const(5)

# the shared name: not asked for (no address), being probed, held, or left to another
OFF, PROBING, CLAIMED, LOST = "off", "probing", "claimed", "lost"
# what the timer drives: nothing, probes, announcements
_IDLE = const(0)
_PROBE = const(1)
_ANNOUNCE = const(2)


class Responder:
    def __init__(self, host, shared, instance, service, port, txt, rand=os.urandom):
        """host, shared: the unique and the shared host name ("smart-connect-x.local");
        instance: the service instance label, service its type ("_http._tcp.local");
        txt: (key, value) pairs."""
        inst = instance + "." + service
        names = (host, shared, service, "_services._dns-sd._udp.local", inst)
        self._owners = [w.name(n) for n in names]
        self._owners.append(self._owners[_SRV])  # the TXT record's owner is the SRV's
        # what names in packets are compared with: in lower case (most already are)
        self._names = [o if o == o.lower() else o.lower() for o in self._owners]
        self._port = port
        self._txt = w.txt(txt)
        self._rand = rand
        self._last = [-_LONG_AGO] * 6  # when each record was last multicast
        self.address = None
        self._want = None  # the address set_address() gave, taken on the next tick
        self._ip = b""
        self.state = OFF
        self._phase = _IDLE
        self._step = 0  # probes or announcements sent in this phase
        self._at = 0  # when the next one is due
        self._retry = 0  # when a lost shared name is probed again
        self._window = 0
        self._sent = 0
        self.conflicts = 0
        self.answered = 0
        self.dropped = 0

    def set_address(self, ip):
        """The interface's IPv4 address ("a.b.c.d"), or None when it has none: records,
        probes and announcements follow on the next tick."""
        self._want = ip

    def restart(self, now):
        """Probes and announces again from the start: what was sent while the socket
        could not be opened went nowhere."""
        if self.address is not None:
            self._probe_from(now)

    def status(self):
        return {"address": self.address, "shared": self.state, "conflicts": self.conflicts,
                "answered": self.answered, "dropped": self.dropped}

    def next_ms(self, now):
        """Milliseconds until tick() has something to do; None: nothing until a datagram
        or a new address."""
        if self._want != self.address:
            return 0
        if self.address is None:
            return None
        if self._phase == _IDLE:
            return max(0, self._retry - now) if self.state == LOST else None
        return max(0, self._at - now)

    def tick(self, now):
        """Packets to multicast now: a goodbye for an old address, probes, announcements."""
        out = []
        if self._want != self.address:
            if self.address is not None:
                out.append(self._all(0, now))  # caches drop the old address at once
            self._take(self._want, now)
            return self._budget(out, now)  # the socket follows before the first probe
        if self.address is None:
            return []
        if self._phase == _IDLE and self.state == LOST and now - self._retry >= 0:
            self._probe_from(now)
        if self._phase == _IDLE or now - self._at < 0:
            return self._budget(out, now)
        if self._phase == _PROBE and self._step < _PROBES:
            out.append(self._probe())
            self._step += 1
            self._at = now + _PROBE_MS
            return self._budget(out, now)
        if self._phase == _PROBE:  # the last probe went unanswered for 250 ms
            self._phase, self._step = _ANNOUNCE, 0
            if self.state == PROBING:
                self.state = CLAIMED
        out.append(self._all(None, now))
        self._step += 1
        self._at = now + _ANNOUNCE_MS
        if self._step == _ANNOUNCES:
            self._phase = _IDLE
        return self._budget(out, now)

    def receive(self, d, legacy, now):
        """The answers to datagram d (a list of at most one packet). legacy: d came from a
        port other than 5353, so the answer goes back to its sender only (RFC 6762
        section 6.7); other answers are multicast."""
        p = w.parse(d, w.A) if self.address is not None else None
        if p is None:
            return []
        qid, flags, qs, rs, qend, nq = p
        if flags & 0x7800:  # an opcode other than QUERY
            return []
        if flags & 0x8000:
            self._check_answers(d, rs, now)
            return []
        probe = False
        for n, _, sec, at, size in rs:
            if sec == 2 and w.same_name(d, n, self._names[_SHARED]):
                if d[at:at + size] == self._ip:
                    return []  # our own probe, looped back
                probe = True
                self._tie_break(d[at:at + size], now)
        want = []
        for n, t in qs:
            for i in range(6):
                if (t == w.ANY or t == _TYPES[i]) and i not in want and self._held(i) and \
                        w.same_name(d, n, self._names[i]):
                    want.append(i)
        if legacy and want:
            self.answered += 1
            recs = [self._record(i, _LEGACY_TTL, False) for i in want]
            # the questions echoed as they came: their compression pointers stay valid,
            # the section starts at offset 12 in both packets
            return self._budget([w.packet(qid, 0x8400, [d[12:qend]], recs, qd=nq)], now)
        gap = 250 if probe else 1000  # RFC 6762 sections 6 and 8.1
        want = [i for i in want if now - self._last[i] >= gap]
        if not want:
            return []
        extra = []
        for i in want:
            for j in _EXTRA[i]:
                if j not in want and j not in extra and self._held(j):
                    extra.append(j)
        for i in want + extra:
            self._last[i] = now
        self.answered += 1
        return self._budget([w.packet(0, 0x8400, (), [self._record(i) for i in want],
                                      additional=[self._record(i) for i in extra])], now)

    def _take(self, ip, now):
        self.address = ip
        for i in range(6):
            self._last[i] = -_LONG_AGO
        if ip is None:
            self.state, self._phase = OFF, _IDLE
            return
        self._ip = bytes(int(x) for x in ip.split("."))
        self._probe_from(now)

    def _held(self, i):
        return self.address is not None and (i != _SHARED or self.state == CLAIMED)

    def _record(self, i, ttl=None, flush=None):
        """Record i as this device has it (built when sent: kept, the six would hold
        heap for nothing); ttl and flush: another TTL or cache-flush bit."""
        o = self._owners
        rdata = (self._ip, self._ip, o[_SRV], o[_SERVICE], None, self._txt)[i]
        if i == _SRV:
            rdata = w.srv(self._port, o[_HOST])
        return w.record(o[i], _TYPES[i], _TTLS[i] if ttl is None else ttl, rdata,
                        _FLUSH[i] if flush is None else flush)

    def _probe_from(self, now, delay=None):
        """Probing (again) after delay ms, by default a random 0-250 ms (RFC 6762 section
        8.1), so that devices powered on together do not probe in step."""
        self.state, self._phase, self._step = PROBING, _PROBE, 0
        self._at = now + (self._rand(1)[0] * _PROBE_MS // 256 if delay is None else delay)

    def _probe(self):
        """Questions for our names (type ANY), the records we propose in authority. The
        unique names are probed too (and so defended by nobody), but never given up."""
        names = (_HOST, _SHARED, _SRV) if self.state == PROBING else (_HOST, _SRV)
        return w.packet(0, 0, [w.question(self._owners[i], w.ANY) for i in names], (),
                        [self._record(i, flush=False) for i in names])

    def _all(self, ttl, now):
        """Every record we hold: an announcement (ttl None), or all with ttl (0: a
        goodbye)."""
        recs = []
        for i in range(6):
            if self._held(i):
                if ttl is None:
                    self._last[i] = now
                recs.append(self._record(i, ttl))
        return w.packet(0, 0x8400, (), recs)

    def _check_answers(self, d, rs, now):
        """Another responder's records. One for our shared name with another address is
        a conflict: given up while probing, probed again once held (RFC 6762 section 9),
        and so left to a device that keeps it. Our unique names are never given up, only
        counted."""
        for n, _, _, at, size in rs:  # A records only
            if self.state in (PROBING, CLAIMED) and w.same_name(d, n, self._names[_SHARED]):
                if d[at:at + size] == self._ip:
                    continue
                self.conflicts += 1
                if self.state == PROBING:
                    self.state, self._retry = LOST, now + RETRY_MS
                else:
                    self._probe_from(now)
            elif w.same_name(d, n, self._names[_HOST]) and d[at:at + size] != self._ip:
                self.conflicts += 1

    def _tie_break(self, theirs, now):
        """Another host probes for the shared name (RFC 6762 section 8.2). While we probe
        too, the lexicographically later address wins; the loser waits a second and
        probes again, when the winner answers it. Once held, we answer at once."""
        if self.state == PROBING and theirs > self._ip:
            self._probe_from(now, DEFER_MS)
        elif self.state == CLAIMED:
            self._last[_SHARED] = -_LONG_AGO

    def _budget(self, pkts, now):
        """pkts, or fewer when SEND_MAX packets went out in this second (counted)."""
        if now - self._window >= 1000:
            self._window, self._sent = now, 0
        keep = pkts[:max(0, SEND_MAX - self._sent)]
        self._sent += len(keep)
        self.dropped += len(pkts) - len(keep)
        return keep


_TYPES = (w.A, w.A, w.PTR, w.PTR, w.SRV, w.TXT)
_TTLS = (_TTL, _TTL, _TTL_LONG, _TTL_LONG, _TTL, _TTL_LONG)
_FLUSH = (True, True, False, False, True, True)
# records sent along as additional ones (RFC 6763 section 12)
_EXTRA = ((), (), (_SRV, _TXT, _HOST), (), (_HOST,), ())
