"""The sim's network interfaces and button (docs/network.md): what a cable, a DHCP
server, a Wi-Fi access point and a finger would do, driven by the control commands that
tools/sim.py writes to the firmware's stdin (one per line, already checked there):
`button SECONDS`, `link down|up`, `dhcp fail|ok`, `wifi lost|back`.

The network manager sees the same events as on the device. The firmware keeps listening
on the sim's host address whatever address the status shows (the host cannot give it
169.254.x.y); while there is no address the services close their listeners, as they do
on the device."""
import select
import sys

from device.button import DEBOUNCE_MS

DHCP_ATTEMPT_MS = 1000  # one unanswered DHCP attempt (the device's take ~10 s)


class SimButton:
    """A press of a given length is replayed at once: the debouncer takes time as an
    input, so this button's clock jumps ahead by the press instead of the test waiting."""

    def __init__(self):
        self._presses = []
        self._shift = 0  # how far this button's clock is ahead of the firmware's

    def pressed(self):
        return False

    def press(self, ms):
        self._presses.append(ms)

    def poll(self, debouncer, now):
        act = None
        t = now + self._shift
        while self._presses:
            ms = self._presses.pop(0)
            debouncer.sample(True, t)
            debouncer.sample(True, t + DEBOUNCE_MS)
            t += ms
            debouncer.sample(False, t)
            t += DEBOUNCE_MS
            act = debouncer.sample(False, t) or act
            self._shift = t - now
        debouncer.sample(False, t)
        return act


BUTTON = SimButton()


class SimNet:
    def __init__(self, host, state, dns):
        """state: what tools/sim.py remembers across restarts, e.g. "link down"."""
        self.mac = b"\x02\x53\x43\x00\x12\x34"  # locally administered
        self._host = host
        self._dns = dns
        self.cable = self.wifi = self.dhcp = True
        for cmd in state.split(","):
            self.command(cmd)
        self.iface = None
        self.ap = False
        self._dhcp_on = False  # the DHCP client runs
        self._attempt = None
        self._stdin = select.poll()
        self._stdin.register(sys.stdin, select.POLLIN)

    def command(self, line):
        w = line.split()
        if len(w) == 2 and w[0] == "button":
            BUTTON.press(int(float(w[1]) * 1000))
        elif len(w) == 2:
            v = {"down": False, "up": True, "fail": False, "ok": True, "lost": False,
                 "back": True}.get(w[1])
            if w[0] == "link":
                self.cable = v
            elif w[0] == "dhcp":
                self.dhcp = v
            elif w[0] == "wifi":
                self.wifi = v

    def _control(self):
        """The commands waiting on stdin, read without a task of their own (heap)."""
        for _ in self._stdin.ipoll(0):
            line = sys.stdin.readline()
            if not line:  # tools/sim.py is gone
                self._stdin.unregister(sys.stdin)
                return
            self.command(line)

    def poll(self, m, now):
        self._control()
        up = self.iface is not None and (self.cable if self.iface == "Ethernet" else self.wifi)
        if up and not m.link:
            print("sim: link up")
            m.link_up(now)
        elif m.link and not up:
            print("sim: link down")
            self._dhcp_on = False
            m.link_down(now)
        if not (self._dhcp_on and m.link) or m.method == "dhcp":
            return
        if self.dhcp:
            m.lease(self._host, 8, None, self._dns)
        elif self._attempt is None:
            self._attempt = now
        elif now - self._attempt >= DHCP_ATTEMPT_MS:
            self._attempt = now
            m.dhcp_failed()

    def ap_clients(self):
        return 0

    async def do(self, action):
        kind = action[0]
        if kind == "start":
            self.iface = action[1]
            self._dhcp_on = False
        elif kind == "dhcp":
            self._dhcp_on = True
            self._attempt = None
        elif kind == "static":
            self._dhcp_on = False
        elif kind == "ap":
            self.ap = action[1]
        print("sim: network", " ".join(str(a) for a in action[:2]))  # never the password
