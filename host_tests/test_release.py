"""tools/release.py and tools/simimage.py: signed update images as the device and espsecure
5.6.0 check them (keys made at run time, never in the repository): the sim's image of this
checkout and its payload, an ESP32 board's image stamped from an app image, the refusals;
simimage.unpack on hostile archives."""
import hashlib
import io
import os
import shutil
import stat
import subprocess
import sys
import tarfile

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tools import BIN, ROOT
from update import ecdsa, image

sys.path.insert(0, os.path.join(ROOT, "tools"))
import appimage  # noqa: E402
import release  # noqa: E402
import signing  # noqa: E402
import simimage  # noqa: E402

SIM_SLOT = 0x1E0000  # boards/esp32-common/partitions.csv: ota_0, ota_1


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """(private key path, its raw public key file, another private key path)."""
    d = tmp_path_factory.mktemp("keys")
    key, other, pub = str(d / "k.pem"), str(d / "o.pem"), str(d / "k.pub.bin")
    signing.make_key(key)
    signing.make_key(other)
    with open(pub, "wb") as f:
        f.write(signing.public_key(key))
    return key, pub, other


def _verified(img, key):
    """The image's Description once the walker took it whole and its signature verifies."""
    w = image.Walker()
    w.feed(memoryview(img))
    digest = w.verify()
    assert w.image_len + image.SIG_LEN == len(img)
    assert ecdsa.verify(signing.public_key(key), digest, ecdsa.block(bytes(w.signature)))
    return image.describe(img)


def _espsecure_verifies(keyfile, path):
    proc = subprocess.run([os.path.join(BIN, "espsecure"), "verify-signature", "--version",
                           "1", "--keyfile", keyfile, path], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and "Signature is valid" in proc.stdout + proc.stderr, \
        proc.stdout + proc.stderr


def test_sim_release_of_this_checkout(keys, tmp_path):
    key, pub, _ = keys
    out = str(tmp_path / "sim.bin")
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "release.py"),
                           "--board", "sim", "--version", "1.4.0-rc1", "--key", key,
                           "--security-version", "3", "--out", out],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    with open(out, "rb") as f:
        img = f.read()
    assert proc.stdout.strip() == ("%s: board sim, version 1.4.0-rc1, secure version 3, "
                                   "%d bytes, sha256 %s"
                                   % (out, len(img), hashlib.sha256(img).hexdigest()))
    d = _verified(img, key)
    assert (d.board, d.version, d.secure_version) == ("sim", "1.4.0-rc1", 3)
    assert image.check(img[:image.HEAD_LEN], "sim", SIM_SLOT, 3, len(img)) is not None
    _espsecure_verifies(pub, out)

    payload = simimage.payload_of(img)
    assert simimage.payload_tree_id(payload) == simimage.tree_id(ROOT)
    names = simimage.unpack(payload, str(tmp_path / "tree"))
    for name in ("boot.py", "main.py", "board.py", "simnet.py", "sim_rs485.py",
                 "lib/app.py", "lib/web/assets.py", "lib/update/image.py"):
        assert name in names
    with open(os.path.join(ROOT, "firmware", "lib", "app.py"), "rb") as f:
        assert (tmp_path / "tree" / "lib" / "app.py").read_bytes() == f.read()
    assert (tmp_path / "tree" / "trusted_key.bin").read_bytes() == signing.public_key(key)
    assert not any(n.startswith("manifest") or n.startswith("/") for n in names)


def test_deterministic_and_trust(keys, tmp_path):
    key, _, other = keys
    a, b, c = (str(tmp_path / n) for n in ("a.bin", "b.bin", "c.bin"))
    ra = release.release("sim", "2.0", key, a)
    rb = release.release("sim", "2.0", key, b)
    with open(a, "rb") as f:
        img = f.read()
    with open(b, "rb") as f:
        assert f.read() == img  # RFC 6979: the signature too is the same
    assert ra.sha256 == rb.sha256 == hashlib.sha256(img).hexdigest() and ra.size == len(img)

    # --trust: another key goes in (a PEM public key, or espsecure's raw key)
    pem = tmp_path / "other.pub.pem"
    signing.write_public_pem(other, str(pem))
    raw = tmp_path / "other.pub.bin"
    raw.write_bytes(signing.public_key(other))
    for trust in (str(pem), str(raw)):
        release.release("sim", "2.0", key, c, trust=trust)
        with open(c, "rb") as f:
            signed = f.read()
        _verified(signed, key)  # signed by key, trusting other for the next update
        names = simimage.unpack(simimage.payload_of(signed), str(tmp_path / "t"))
        assert "trusted_key.bin" in names
        assert (tmp_path / "t" / "trusted_key.bin").read_bytes() == signing.public_key(other)
    with pytest.raises(ValueError, match="trust: .* not a P-256 public key"):
        release.release("sim", "2.0", key, c, trust=other)  # a private key is not taken


def _checkout(tmp_path):
    """A copy of the tree a sim image carries, with the tool that packs its web UI."""
    src = tmp_path / "checkout"
    for part in ("firmware", os.path.join("boards", "sim"), os.path.join("tools",
                                                                          "webassets.py")):
        s, d = os.path.join(ROOT, part), str(src / part)
        if os.path.isdir(s):
            shutil.copytree(s, d, ignore=shutil.ignore_patterns("__pycache__", "assets.py"))
        else:
            os.makedirs(os.path.dirname(d), exist_ok=True)
            shutil.copy(s, d)
    return src


def test_source_tree_its_assets_and_id(keys, tmp_path):
    key, _, _ = keys
    src = _checkout(tmp_path)
    (src / "boards" / "sim" / "partition.py").write_text("BLOCK = 4096\n")
    assert not (src / "firmware" / "lib" / "web" / "assets.py").exists()
    ident = simimage.tree_id(str(src))  # made with the tree's own tools/webassets.py
    assert (src / "firmware" / "lib" / "web" / "assets.py").exists()
    out = str(tmp_path / "s.bin")
    release.release("sim", "3.0", key, out, source=str(src))
    with open(out, "rb") as f:
        payload = simimage.payload_of(f.read())
    assert simimage.payload_tree_id(payload) == ident != simimage.tree_id(ROOT)
    names = simimage.unpack(payload, str(tmp_path / "u"))
    assert "partition.py" in names and (tmp_path / "u" / "partition.py").read_text() == \
        "BLOCK = 4096\n"
    (src / "firmware" / "lib" / "app.py").write_text("# changed\n")
    assert simimage.tree_id(str(src)) != ident


def test_esp32_release_from_an_app_image(keys, tmp_path):
    key, _, _ = keys
    app, out = str(tmp_path / "micropython.bin"), str(tmp_path / "w.bin")
    built = appimage.build("", 0, "micropython", ((appimage.DROM, b"\x5a" * 1000),
                                                 (0x40080000, bytes(range(256)) * 8)))
    with open(app, "wb") as f:
        f.write(built)
    r = release.release("wt32-eth01", "1.4.0", key, out, secure_version=1, app=app)
    with open(out, "rb") as f:
        img = f.read()
    assert r.size == len(img) == len(built) + image.SIG_LEN
    d = _verified(img, key)
    assert (d.board, d.version, d.secure_version) == ("wt32-eth01", "1.4.0", 1)
    assert img[image.DESC_AT + image.DESC_LEN:][:1000] == b"\x5a" * 1000
    _espsecure_verifies(key, out)
    with pytest.raises(ValueError, match="app: .*stamp it before signing"):
        release.release("wt32-eth01", "1.4.1", key, str(tmp_path / "x.bin"), app=out)


def test_refusals(keys, tmp_path):
    key, _, _ = keys
    out = str(tmp_path / "r.bin")
    with pytest.raises(ValueError, match="board: no board 'nope' .*sim.*wt32-eth01"):
        release.release("nope", "1.0", key, out)
    with pytest.raises(ValueError, match="board: no board 'esp32-common'"):
        release.release("esp32-common", "1.0", key, out)
    with pytest.raises(ValueError, match="version: .*1 to 31 bytes"):
        release.release("sim", "v" * 32, key, out)
    release.release("sim", "v" * 31, key, out)
    with pytest.raises(ValueError, match="inside the repository"):
        release.release("sim", "1.0", os.path.join(ROOT, "update-key.pem"), out)
    with pytest.raises(ValueError, match="inside the repository"):
        release.release("sim", "1.0", os.path.join(ROOT, "build", "..", ".dev-keys", "..",
                                                   "k.pem"), out)
    with pytest.raises(ValueError, match="app: no file"):
        release.release("olimex-esp32-poe", "1.0", key, out, app=str(tmp_path / "none.bin"))
    if not os.path.exists(os.path.join(ROOT, "build", "firmware-wt32-eth01",
                                       "micropython.bin")):
        with pytest.raises(ValueError, match="make firmware BOARD=wt32-eth01"):
            release.release("wt32-eth01", "1.0", key, out)
    with pytest.raises(ValueError, match="--source and --trust are for the sim"):
        release.release("wt32-eth01", "1.0", key, out, trust=key)
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "release.py"), "--board",
                           "nope", "--version", "1", "--key", key, "--out", out],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stderr.startswith("release: board: no board 'nope'")


def test_key_inside_a_source_tree_and_the_dev_key(keys, tmp_path, monkeypatch):
    key, _, _ = keys
    src = _checkout(tmp_path)
    inside, dev = str(src / "k.pem"), str(src / ".dev-keys" / "update-key.pem")
    os.makedirs(os.path.dirname(dev))
    shutil.copy(key, inside)
    shutil.copy(key, dev)
    out = str(tmp_path / "o.bin")
    with pytest.raises(ValueError, match="inside the repository"):
        release.release("sim", "1.0", inside, out, source=str(src))
    release.release("sim", "1.0", dev, out, source=str(src))  # the development key's place

    monkeypatch.setattr(release, "DEV_KEYS", str(tmp_path / "dk" / ".dev-keys"))
    path = release.dev_key()
    with open(path, "rb") as f:
        pem = f.read()
    assert path == str(tmp_path / "dk" / ".dev-keys" / "update-key.pem")
    made = serialization.load_pem_private_key(pem, None)
    assert isinstance(made, ec.EllipticCurvePrivateKey) and made.curve.name == "secp256r1"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert release.dev_key() == path
    with open(path, "rb") as f:
        assert f.read() == pem  # made once, never overwritten
    with open(os.path.join(ROOT, ".gitignore")) as f:
        assert ".dev-keys/" in f.read().split()


def test_payload_of_cuts_the_alignment_padding():
    payload = simimage.pack(ROOT, bytes(64))
    assert len(payload) % 512 == 0
    img = appimage.build("1", 0, "sim", ((appimage.DROM, payload + b"\0\0"),))
    assert simimage.payload_of(img) == payload
    with pytest.raises(ValueError, match="board: image for wt32-eth01"):
        simimage.payload_of(appimage.build("1", 0, "wt32-eth01", ((appimage.DROM, payload),)))


def _tar(*members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _file(name, data=b"x"):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _link(name, target, kind=tarfile.SYMTYPE):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


@pytest.mark.parametrize("member, why", [
    (_file("../x"), "not a plain relative name"),
    (_file("lib/../../x"), "not a plain relative name"),
    (_file("/abs"), "not a plain relative name"),
    (_file("./x"), "not a plain relative name"),
    (_link("lib/evil", "/etc/passwd"), "not a regular file"),
    (_link("hard", "boot.py", tarfile.LNKTYPE), "not a regular file"),
    (_link("dev", "", tarfile.CHRTYPE), "not a regular file"),
    (_link("lib", "", tarfile.DIRTYPE), "not a regular file"),
])
def test_unpack_refuses(member, why, tmp_path):
    dest = tmp_path / "dest"
    with pytest.raises(ValueError, match=why):
        simimage.unpack(_tar(_file("boot.py"), member), str(dest))
    assert not dest.exists()  # checked whole before anything is written
    with pytest.raises(ValueError, match="a name twice"):
        simimage.unpack(_tar(_file("a"), _file("a", b"y")), str(dest))
    with pytest.raises(ValueError, match="payload"):
        simimage.unpack(b"\x01" * 1024, str(dest))


def test_unpack_stays_inside_dest_through_a_link(tmp_path):
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    os.symlink(str(outside), str(dest / "lib"))
    with pytest.raises(ValueError, match="leads out of"):
        simimage.unpack(_tar(_file("lib/app.py")), str(dest))
    assert not (outside / "app.py").exists()
