"""Create a device identity and print its label (SPEC sections 10 and 12).

    python tools/provision.py --out DIR [--serial S] [--ca-cert F --ca-key F]

DIR is the device filesystem (the sim's --flash DIR); the identity goes to DIR/identity/:
identity.json (serial, AP key, API password), device.key and device.crt (EC P-256,
CN = serial, client authentication, signed by the CA) and ca.crt (the CA the device trusts
for its broker), in PEM, and the same three in DER (device.key.der, device.der, ca.der),
which is what the firmware loads. Without --ca-cert/--ca-key a new local CA is made in
DIR/ca/ (its key never goes to the device). An existing identity is never overwritten.
"""
import argparse
import datetime
import json
import os
import secrets
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEVICE_YEARS = 25  # a meter gateway stays on the wall as long as the meter
# No look-alike characters: the label is read off a sticker and typed in.
ALPHABET = "abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXYZ2345679"


def secret(n):
    return "".join(secrets.choice(ALPHABET) for _ in range(n))


def new_serial():
    """A locally administered MAC-style serial: the real MAC is only known on the board."""
    b = bytearray(secrets.token_bytes(6))
    b[0] = (b[0] & 0xFC) | 0x02
    return b.hex().upper()


def new_key():
    return ec.generate_private_key(ec.SECP256R1())


def pem_key(key, encoding=serialization.Encoding.PEM):
    return key.private_bytes(encoding, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def pem_cert(cert, encoding=serialization.Encoding.PEM):
    return cert.public_bytes(encoding)


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_cert(subject_key, cn, issuer_key, issuer_cert=None, ca=False, days=None,
              not_before=None, hosts=(), usage=None):
    """A certificate for subject_key; self-signed when issuer_cert is None. Also used by
    the tests for brokers (hosts), expired certificates (not_before/days) and CAs."""
    now = datetime.datetime.now(datetime.timezone.utc)
    start = not_before or now - datetime.timedelta(days=1)
    b = (x509.CertificateBuilder()
         .subject_name(_name(cn))
         .issuer_name(issuer_cert.subject if issuer_cert else _name(cn))
         .public_key(subject_key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(start)
         .not_valid_after(start + datetime.timedelta(days=days or 365 * DEVICE_YEARS))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_key.public_key()),
                        critical=False))
    if issuer_cert is not None:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer_cert.public_key()), critical=False)
    if ca:
        b = b.add_extension(x509.KeyUsage(True, False, False, False, False, True, True,
                                          False, False), critical=True)
    if usage:
        b = b.add_extension(x509.ExtendedKeyUsage(
            list(usage) if isinstance(usage, tuple) else [usage]), critical=False)
    if hosts:
        import ipaddress
        names = []
        for h in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(h)))
            except ValueError:
                names.append(x509.DNSName(h))
        b = b.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def new_ca(cn="Smart Connect local CA"):
    key = new_key()
    return key, make_cert(key, cn, key, ca=True)


def load_ca(cert_path, key_path):
    with open(cert_path, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    with open(key_path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    return key, cert


def _write(path, data, private=False):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def host_names(serial):
    """The names the device answers to on the LAN (mDNS), in its certificate."""
    return "smart-connect-%s.local" % serial.lower(), "smart-connect.local"


def provision(out, serial=None, ca=None):
    """Write DIR/identity (and DIR/ca when no CA is given); returns the identity dict."""
    ident_dir = os.path.join(out, "identity")
    if os.path.exists(ident_dir):
        raise FileExistsError("%s already holds an identity; it is never overwritten"
                              % ident_dir)
    if ca is None:
        ca_key, ca_cert = new_ca()
        os.makedirs(os.path.join(out, "ca"), exist_ok=True)
        _write(os.path.join(out, "ca", "ca.key"), pem_key(ca_key), private=True)
        _write(os.path.join(out, "ca", "ca.crt"), pem_cert(ca_cert))
    else:
        ca_key, ca_cert = ca
    serial = serial or new_serial()
    ident = {"serial": serial, "ap_key": secret(12), "api_password": secret(12)}
    key = new_key()
    # One certificate for both ends: the MQTT client, and the HTTPS server under the
    # device's mDNS names.
    cert = make_cert(key, serial, ca_key, ca_cert, hosts=host_names(serial),
                     usage=(ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH))
    os.makedirs(ident_dir)
    _write(os.path.join(ident_dir, "identity.json"),
           json.dumps(ident, indent=1).encode(), private=True)
    der = serialization.Encoding.DER
    _write(os.path.join(ident_dir, "device.key"), pem_key(key), private=True)
    _write(os.path.join(ident_dir, "device.crt"), pem_cert(cert))
    _write(os.path.join(ident_dir, "ca.crt"), pem_cert(ca_cert))
    _write(os.path.join(ident_dir, "device.key.der"), pem_key(key, der), private=True)
    _write(os.path.join(ident_dir, "device.der"), pem_cert(cert, der))
    _write(os.path.join(ident_dir, "ca.der"), pem_cert(ca_cert, der))
    return ident


def label(ident):
    s = ident["serial"]
    return "\n".join((
        "Smart Connect",
        "Serial:      %s" % s,
        "Wi-Fi AP:    SC-%s" % s,
        "AP key:      %s" % ident["ap_key"],
        "Web / API:   https://smart-connect-%s.local  user: user  password: %s"
        % (s.lower(), ident["api_password"]),
    ))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="device filesystem directory")
    ap.add_argument("--serial", help="device serial (default: a random MAC-style serial)")
    ap.add_argument("--ca-cert", help="CA certificate (PEM) that signs the device")
    ap.add_argument("--ca-key", help="that CA's private key (PEM)")
    a = ap.parse_args(argv)
    if bool(a.ca_cert) != bool(a.ca_key):
        ap.error("--ca-cert and --ca-key go together")
    if a.serial is not None and not (a.serial.isalnum() and 1 <= len(a.serial) <= 32):
        ap.error("--serial: 1 to 32 letters and digits (it names topics and hosts)")
    try:
        ident = provision(a.out, a.serial, load_ca(a.ca_cert, a.ca_key) if a.ca_cert else None)
    except (OSError, ValueError) as e:
        print("provision: %s" % e, file=sys.stderr)
        return 1
    print(label(ident))
    return 0


if __name__ == "__main__":
    sys.exit(main())
