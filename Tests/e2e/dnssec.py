"""A DNSSEC-signed test zone for the DANE tests: `veilsec.`, signed by ldns-signzone
with an ECDSA P-256 KSK and ZSK (made once per session by ldns-keygen) and served by
unbound as an auth-zone, next to the unsigned local-data of dns.py. Its trust anchor
is a file for Veil's [dns] trust_anchor_file (libunbound's ub_ctx_add_ta_file).

Three kinds of answer, as DANE needs them:
  secure    every name in veilsec. given to SignedDNS
  insecure  names in insecure.veilsec., a child zone delegated without a DS and served
            unsigned: the signed parent proves that no DS exists (an NSEC at the cut);
            also every name outside veilsec. (veiltest. local-data), which has no anchor
  bogus     records given as `bogus` (their RRSIG altered after signing) or `expired`
            (their RRSIG from a signing whose dates ended a month ago), for one RRset
            each; the rest of the zone stays secure. The wrong trust anchor of
            ZoneKeys makes the whole zone bogus.

tlsa() makes TLSA records from a certificate. validate() asks a real validator,
unbound-host (libunbound, as Veil uses it, reading the same trust anchor file), how
an answer validates.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from dns import DNSServer
from harness import wait_until

SIGNED_ZONE = "veilsec."                  # not a TLD of the real root, nor a built-in local zone
INSECURE_ZONE = "insecure." + SIGNED_ZONE  # delegated without DS, served unsigned
TTL = 60


def tlsa(host: str, certificate: Path | str | bytes, usage: int = 3, selector: int = 1,
         matching: int = 1, port: int = 25) -> str:
    """The TLSA record `_PORT._tcp.HOST TLSA usage selector matching data` for the first
    certificate of a PEM file (a Path) or PEM text: usage 3 (DANE-EE) for the server's
    own certificate, 2 (DANE-TA) for the CA that issued it, which the server must then
    send in its chain; selector 1 is the SubjectPublicKeyInfo, 0 the whole certificate;
    matching 1 is SHA-256, 2 SHA-512, 0 the data itself."""
    return (f"_{port}._tcp.{host.rstrip('.')}. TLSA {usage} {selector} {matching} "
            f"{tlsa_data(certificate, selector, matching)}")


def tlsa_data(certificate: Path | str | bytes, selector: int = 1, matching: int = 1) -> str:
    """The certificate association data of a TLSA record, in lower-case hex."""
    pem = certificate.read_bytes() if isinstance(certificate, Path) else certificate
    cert = x509.load_pem_x509_certificates(pem.encode() if isinstance(pem, str) else pem)[0]
    data = {0: lambda: cert.public_bytes(Encoding.DER),
            1: lambda: cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)}[selector]()
    return {0: lambda: data, 1: lambda: hashlib.sha256(data).digest(),
            2: lambda: hashlib.sha512(data).digest()}[matching]().hex()


@dataclass
class ZoneKeys:
    """The keys of veilsec. (ldns-keygen base names in `directory`) and its trust
    anchors: `trust_anchor` the KSK's DS (digest type 2, SHA-256),
    `trust_anchor_dnskey` the KSK itself, `wrong_trust_anchor` the DS of a KSK the
    zone does not hold. Each is one zone-file line, as ub_ctx_add_ta_file reads."""
    directory: Path
    ksk: str
    zsk: str
    spare: str

    @property
    def trust_anchor(self) -> Path:
        return self.directory / f"{self.ksk}.ds"

    @property
    def trust_anchor_dnskey(self) -> Path:
        return self.directory / f"{self.ksk}.key"

    @property
    def wrong_trust_anchor(self) -> Path:
        return self.directory / f"{self.spare}.ds"


def make_zone_keys(directory: Path) -> ZoneKeys:
    """A KSK (flags 257), a ZSK and a spare KSK for veilsec., ECDSAP256SHA256."""
    directory.mkdir(parents=True, exist_ok=True)

    def keygen(*flags: str) -> str:
        out = subprocess.run(["ldns-keygen", "-a", "ECDSAP256SHA256", *flags, SIGNED_ZONE], cwd=directory,
                             check=True, capture_output=True, text=True, timeout=30)
        return out.stdout.strip()
    return ZoneKeys(directory, ksk=keygen("-k"), zsk=keygen(), spare=keygen("-k"))


def in_zone(name: str, zone: str) -> bool:
    name, zone = name.lower(), zone.lower()
    return name == zone or name.endswith("." + zone)


def _owner_and_type(record: str) -> tuple[str, str]:
    """(owner, type) of a zone-file line "owner [ttl] [IN] TYPE rdata"."""
    fields = record.split()
    rtype = next(f for f in fields[1:] if not f.isdigit() and f.upper() != "IN")
    return fields[0].lower(), rtype.upper()


def _stamp(days: int) -> str:
    return (datetime.now(timezone.utc) + timedelta(days=days)).strftime("%Y%m%d%H%M%S")


class SignedDNS(DNSServer):
    """unbound on 127.0.0.1:PORT serving veilsec. signed and insecure.veilsec. unsigned
    (auth-zones), plus veiltest. local-data. Give it to Veil as [dns] servers =
    [self.server] and trust_anchor_file = self.trust_anchor."""

    def __init__(self, directory: Path, keys: ZoneKeys, records: list[str], bogus: list[str] = (),
                 expired: list[str] = (), unsigned: list[str] = ()):
        """records, bogus, expired: zone-file lines with absolute owner names in veilsec.,
        e.g. "dane.veilsec. MX 10 mx.dane.veilsec." or tlsa(...); those in
        insecure.veilsec. go to the unsigned child zone. Each RRset (owner, type) that a
        `bogus` line is in gets a corrupted signature, each of `expired` an expired
        one (a record of `records` in the same RRset shares its fate); both must be
        in the signed zone. unsigned: dns.py's local-data lines for veiltest."""
        directory.mkdir(parents=True, exist_ok=True)
        self.keys = keys
        every = [*records, *bogus, *expired]
        for record in every:
            owner = record.split()[0]
            assert owner.endswith(".") and in_zone(owner, SIGNED_ZONE), f"not an absolute name in {SIGNED_ZONE}: {record}"
        for record in [*bogus, *expired]:
            assert not in_zone(record.split()[0], INSECURE_ZONE), f"an unsigned zone has no bogus answer: {record}"
        child = [r for r in every if in_zone(r.split()[0], INSECURE_ZONE)]
        parent = [r for r in every if not in_zone(r.split()[0], INSECURE_ZONE)]

        parent_file = directory / "veilsec.zone"
        parent_file.write_text(self._zone_text(SIGNED_ZONE, [
            f"{INSECURE_ZONE} NS ns.{INSECURE_ZONE}",        # the delegation: NS and glue, no DS
            f"ns.{INSECURE_ZONE} A 127.0.0.1",
            *parent]))
        child_file = directory / "insecure.veilsec.zone"
        child_file.write_text(self._zone_text(INSECURE_ZONE, child))

        signed = self._sign(parent_file, directory / "veilsec.zone.signed", inception=-1, expiration=30)
        lines = signed.read_text().splitlines()
        if expired:
            stale = self._sign(parent_file, directory / "veilsec.zone.expired", inception=-60, expiration=-30)
            lines = self._swap_signatures(lines, {_owner_and_type(r) for r in expired},
                                          stale.read_text().splitlines())
        if bogus:
            lines = self._corrupt_signatures(lines, {_owner_and_type(r) for r in bogus})
        signed.write_text("\n".join(lines) + "\n")
        super().__init__(directory, list(unsigned),
                         auth_zones=((SIGNED_ZONE, signed), (INSECURE_ZONE, child_file)))

    @property
    def trust_anchor(self) -> Path:
        return self.keys.trust_anchor

    def start(self) -> "SignedDNS":
        """Started once both auth-zones answer authoritatively (AA set, NOERROR)."""
        super().start()
        for zone in (SIGNED_ZONE, INSECURE_ZONE):
            wait_until(lambda: self._authoritative(zone), what=f"unbound serving {zone}")
        return self

    def _authoritative(self, zone: str) -> bool:
        flags = struct.unpack("!H", self.query(zone, 6)[2:4])[0]      # SOA
        return bool(flags & 0x0400) and flags & 0xF == 0

    @staticmethod
    def _zone_text(origin: str, records: list[str]) -> str:
        return "\n".join([
            f"$ORIGIN {origin}", f"$TTL {TTL}",
            f"{origin} SOA ns.{origin} hostmaster.{SIGNED_ZONE} 1 3600 600 86400 {TTL}",
            f"{origin} NS ns.{origin}",
            f"ns.{origin} A 127.0.0.1",
            *records]) + "\n"

    def _sign(self, zone_file: Path, out: Path, inception: int, expiration: int) -> Path:
        """ldns-signzone with NSEC, signatures valid from/to these days from now."""
        subprocess.run(["ldns-signzone", "-o", SIGNED_ZONE, "-f", str(out),
                        "-i", _stamp(inception), "-e", _stamp(expiration),
                        str(zone_file), self.keys.ksk, self.keys.zsk],
                       cwd=self.keys.directory, check=True, capture_output=True, timeout=30)
        return out

    @staticmethod
    def _covers(line: str, rrsets: set[tuple[str, str]]) -> bool:
        f = line.split()
        return len(f) > 4 and f[3] == "RRSIG" and (f[0].lower(), f[4].upper()) in rrsets

    @classmethod
    def _swap_signatures(cls, lines: list[str], rrsets: set, stale: list[str]) -> list[str]:
        """The RRSIGs of `rrsets` replaced by those of the expired signing."""
        old = [l for l in stale if cls._covers(l, rrsets)]
        assert len({(l.split()[0].lower(), l.split()[4]) for l in old}) == len(rrsets), f"not all signed: {rrsets}"
        kept = [l for l in lines if not cls._covers(l, rrsets)]
        return kept + old

    @classmethod
    def _corrupt_signatures(cls, lines: list[str], rrsets: set) -> list[str]:
        """The RRSIGs of `rrsets` with one bit of the signature flipped."""
        out, hit = [], set()
        for line in lines:
            if cls._covers(line, rrsets):
                f = line.split()
                signature = bytearray(base64.b64decode(f[-1]))
                signature[0] ^= 1
                line = "\t".join([*f[:-1], base64.b64encode(bytes(signature)).decode()])
                hit.add((f[0].lower(), f[4].upper()))
            out.append(line)
        assert hit == rrsets, f"not signed: {rrsets - hit}"
        return out


# --------------------------------------------------------------------------------------
# A real validator: unbound-host
# --------------------------------------------------------------------------------------

STATUS_RE = re.compile(r"\s\((secure|insecure|BOGUS \(security failure\))\)$")


@dataclass
class Validation:
    """One answer as libunbound validated it. status: "secure", "insecure" or "bogus";
    answers: unbound-host's lines for the records (e.g. "x. has TLSA record 3 1 1
    AB12..." with upper-case hex, "x. mail is handled by 10 mx.x."); rcode: "NOERROR",
    "NODATA" or the error ("NXDOMAIN", "SERVFAIL"); why: the validation failure."""
    status: str
    answers: list[str] = field(default_factory=list)
    rcode: str = "NOERROR"
    why: str = ""
    output: str = ""


def validate(server: DNSServer, trust_anchor: Path | None, name: str, rtype: str) -> Validation:
    """Ask unbound-host for `name`/`rtype` through `server` as its only forwarder, with
    the anchors of `trust_anchor` (None: no anchor, every answer insecure). A fresh
    process each time: nothing is cached from one call to the next."""
    config = server.directory / "validator.conf"
    if not config.exists():
        config.write_text(f"""server:
  do-not-query-localhost: no
  do-ip6: no
forward-zone:
  name: "."
  forward-addr: {server.server}
""")
    anchor = ["-f", str(trust_anchor)] if trust_anchor else []
    out = subprocess.run(["unbound-host", "-C", str(config), *anchor, "-v", "-t", rtype, name],
                         capture_output=True, text=True, timeout=30)
    text = out.stdout + out.stderr
    assert out.returncode == 0, f"unbound-host failed: {text}"
    result, statuses = Validation(status="", output=text), set()
    for line in out.stdout.splitlines():
        if line.startswith("validation failure"):
            result.why = line
            continue
        m = STATUS_RE.search(line)
        assert m, f"unexpected unbound-host line {line!r} in {text}"
        statuses.add("bogus" if m[1].startswith("BOGUS") else m[1])
        body = line[:m.start()]
        if (err := re.search(r" not found: \d+\((\w+)\)\.$", body)):
            result.rcode = err[1]
        elif " has no " in body:
            result.rcode = "NODATA"
        else:
            result.answers.append(body)
    assert len(statuses) == 1, f"no single security status in {text}"
    result.status = statuses.pop()
    return result
