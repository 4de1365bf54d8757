"""A real mDNS client (python-zeroconf) for the acceptance tests, run inside the test's
network namespace: resolves host names and browses a service type on one interface
address, and prints what it found as JSON.

    python mdns_client.py IFACE_IP --resolve smart-connect.local --browse _http._tcp --count 2
"""
import argparse
import json
import time

from zeroconf import AddressResolverIPv4, IPVersion, ServiceBrowser, Zeroconf


class _Found:
    def __init__(self):
        self.names = set()

    def add_service(self, zc, type_, name):
        self.names.add(name)

    def update_service(self, zc, type_, name):
        self.names.add(name)

    def remove_service(self, zc, type_, name):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("interface", help="the address of the interface to ask on")
    ap.add_argument("--resolve", nargs="*", default=[])
    ap.add_argument("--browse", help="a service type, e.g. _http._tcp")
    ap.add_argument("--count", type=int, default=1, help="instances to wait for")
    ap.add_argument("--timeout", type=float, default=5)
    a = ap.parse_args()
    zc = Zeroconf(interfaces=[a.interface], ip_version=IPVersion.V4Only)
    out = {"names": {}, "services": {}}
    try:
        for name in a.resolve:
            r = AddressResolverIPv4(name + ".")
            r.request(zc, a.timeout * 1000)
            out["names"][name] = sorted(r.parsed_addresses())
        if a.browse:
            found = _Found()
            stype = a.browse + ".local."
            ServiceBrowser(zc, stype, found)
            end = time.monotonic() + a.timeout
            while len(found.names) < a.count and time.monotonic() < end:
                time.sleep(0.05)
            for name in sorted(found.names):
                info = zc.get_service_info(stype, name, int(a.timeout * 1000))
                out["services"][name] = None if info is None else {
                    "server": info.server, "port": info.port,
                    "addresses": sorted(info.parsed_addresses()),
                    "txt": {k.decode(): (v or b"").decode() for k, v in info.properties.items()}}
    finally:
        zc.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
