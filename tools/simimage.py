"""The sim board's update payload: the firmware's own module tree and the key the new image
trusts, carried by a sim image's first segment after the 256-byte descriptor
(tools/release.py builds the image), so that an update really replaces the code the sim runs.

The payload is a tar archive, uncompressed (the same tree gives the same bytes whatever
zlib is at hand), of regular files only: sorted names, mtime 0, uid/gid 0, mode 0644.

    boot.py, main.py                firmware/
    board.py, simnet.py, ...        boards/sim/*.py but manifest*.py
    lib/...                         firmware/lib/**/*.py, the packed web UI included
    trusted_key.bin                 the P-256 key (raw X || Y) the next update must be signed by

It ends with tar's two zero blocks and is not padded to a tar record, so its length is a
multiple of 512: payload_of() tells the segment's 4-byte alignment padding apart by the
length alone (and a reader stops at the end-of-archive blocks anyway); no length field.
"""
import hashlib
import io
import os
import subprocess
import sys
import tarfile

_here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(_here, "..", "firmware", "lib"))

from update import image  # noqa: E402

TRUST = "trusted_key.bin"
KEY_LEN = 64
BOARD = "sim"
_BLOCK = tarfile.BLOCKSIZE  # 512


def _assets(source):
    """The source tree's packed web UI made (or remade, when stale) by its own
    tools/webassets.py, as make build does; the only thing written into a source tree."""
    tool = os.path.join(source, "tools", "webassets.py")
    if os.path.isfile(tool):
        subprocess.run([sys.executable, tool], check=True, stdout=subprocess.DEVNULL)
    if not os.path.isfile(os.path.join(source, "firmware", "lib", "web", "assets.py")):
        raise ValueError("source: %s has no firmware/lib/web/assets.py" % source)


def files(source):
    """[(name in the payload, path)] of the tree in source (a project checkout), by name."""
    _assets(source)
    fw = os.path.join(source, "firmware")
    sim = os.path.join(source, "boards", "sim")
    out = [(n, os.path.join(fw, n)) for n in ("boot.py", "main.py")]
    out += [(n, os.path.join(sim, n)) for n in os.listdir(sim)
            if n.endswith(".py") and not n.startswith("manifest")]
    lib = os.path.join(fw, "lib")
    for folder, dirs, names in os.walk(lib):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        rel = os.path.relpath(folder, lib).replace(os.sep, "/")
        out += [("lib/" + (n if rel == "." else rel + "/" + n), os.path.join(folder, n))
                for n in names if n.endswith(".py")]
    out.sort()
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise ValueError("source: a name twice in the tree: %s" % names)
    for name in ("boot.py", "main.py", "board.py", "lib/app.py"):
        if name not in names:
            raise ValueError("source: %s has no %s" % (source, name))
    return out


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _digest(pairs):
    """A short id of (name, bytes) pairs in order."""
    h = hashlib.sha256()
    for name, data in pairs:
        h.update(b"%d %s\n" % (len(data), name.encode()))
        h.update(data)
    return h.hexdigest()[:16]


def tree_id(source):
    """A short hex id of the tree pack(source, ...) carries, the trusted key left out:
    payload_tree_id() of that payload gives the same id."""
    return _digest((n, _read(p)) for n, p in files(source))


def pack(source, trust):
    """The payload (bytes) of the tree in source, trusting the 64-byte raw key trust."""
    trust = bytes(trust)
    if len(trust) != KEY_LEN:
        raise ValueError("trust: %d bytes, a raw P-256 key is %d" % (len(trust), KEY_LEN))
    members = [(n, _read(p)) for n, p in files(source)] + [(TRUST, trust)]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(members):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()[:tar.offset]  # the end-of-archive blocks, not the record padding


def payload_of(img):
    """The payload in a sim image (its first segment's data after the descriptor, the
    alignment padding cut), or ValueError."""
    d = image.describe(img)
    if d.board != BOARD:
        raise ValueError("board: image for %s, not the sim" % d.board)
    end = image.DESC_AT + d.first_len
    if end > len(img):
        raise ValueError("length: %d bytes, the first segment ends at %d" % (len(img), end))
    data = img[image.DESC_AT + image.DESC_LEN:end]
    return bytes(data[:len(data) - len(data) % _BLOCK])


def _members(payload):
    """[(name, bytes)] of an untrusted payload: regular files with plain relative names,
    each once; ValueError otherwise."""
    out = []
    try:
        with tarfile.open(fileobj=io.BytesIO(bytes(payload)), mode="r:") as tar:
            for m in tar.getmembers():
                name = m.name
                parts = name.split("/")
                if not m.isreg():
                    raise ValueError("payload: %s is not a regular file" % name)
                if name.startswith("/") or "\\" in name or \
                        any(p in ("", ".", "..") for p in parts):
                    raise ValueError("payload: %r is not a plain relative name" % name)
                out.append((name, tar.extractfile(m).read()))
    except tarfile.TarError as e:
        raise ValueError("payload: %s" % e) from None
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise ValueError("payload: a name twice")
    return out


def payload_tree_id(payload):
    """tree_id() of the tree a payload carries."""
    return _digest(sorted((n, d) for n, d in _members(payload) if n != TRUST))


def unpack(payload, dest):
    """Writes the payload's files under dest (created if need be); every member is checked
    before anything is written, and nothing is written outside dest."""
    members = _members(payload)
    top = os.path.realpath(dest)
    for name, data in members:
        path = os.path.join(top, *name.split("/"))
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        if os.path.commonpath([os.path.realpath(folder), top]) != top:
            raise ValueError("payload: %s leads out of %s" % (name, dest))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    return [n for n, _ in members]
