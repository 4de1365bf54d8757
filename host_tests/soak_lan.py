"""The soak's LAN (host_tests/soak.py): a network namespace of its own, so the firmware's
mDNS responder can take UDP 5353 and a zeroconf client can ask it as on a LAN, without
touching the host's network or meeting other tests' ports."""
import contextlib
import ctypes
import os
import subprocess

LAN = ("10.214.0.1", "10.214.0.9")  # the device's and the mDNS client's address
CLONE_NEWNET = 0x40000000


@contextlib.contextmanager
def lan(out):
    """A LAN of the soak's own for mDNS: a network namespace with lo and a veth pair
    holding the device's and the client's address, which this thread enters (setns: only
    this thread; the threads and processes it starts then live there too) and leaves at
    the end. Everything else runs on the namespace's own loopback, free of other tests'
    ports. Yields LAN, or None without root (mDNS is then left out)."""
    if os.geteuid() != 0:
        out("mDNS left out: a network namespace needs root")
        yield None
        return
    name = "sc-soak-%d" % os.getpid()
    ip = ["ip", "-n", name]
    steps = [["ip", "netns", "add", name], ip + ["link", "set", "lo", "up"],
             ip + ["link", "add", "v0", "type", "veth", "peer", "name", "v1"],
             ip + ["link", "set", "v1", "up"], ip + ["link", "set", "v0", "multicast", "on", "up"]]
    steps += [ip + ["addr", "add", a + "/24", "dev", "v0"] for a in LAN]
    steps.append(ip + ["route", "add", "224.0.0.0/4", "dev", "v0"])
    libc = ctypes.CDLL(None, use_errno=True)
    home = open("/proc/thread-self/ns/net")
    try:
        for step in steps:
            subprocess.run(step, check=True, capture_output=True, text=True)
        with open("/run/netns/" + name) as ns:
            if libc.setns(ns.fileno(), CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
        entered = True
    except (OSError, subprocess.CalledProcessError) as e:
        out("mDNS left out: no network namespace here (%s)" % getattr(e, "stderr", e))
        entered = False
    try:
        yield LAN if entered else None
    finally:
        if entered:
            libc.setns(home.fileno(), CLONE_NEWNET)
        home.close()
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
