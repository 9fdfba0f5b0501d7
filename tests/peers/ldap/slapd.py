#!/usr/bin/env python3
"""Private, reproducible OpenLDAP slapd for ScaiKey's directory-sync tests.

Never touches /etc/ldap (only reads /etc/ldap/schema/*.ldif) or any system
daemon: everything lives under --dir (cn=config in <dir>/slapd.d, the mdb
database in <dir>/db, TLS material in <dir>/tls).  Python 3.11, stdlib only.
Needs Debian `slapd`, `ldap-utils`, `openssl` (tests/peers/ldap/install.sh).

CLI:
  slapd.py start  --dir D [--users N] [--groups G] [--big-group-members M]
                  [--seed S] [--tls] [--size-limit L]
      -> prints one JSON line (also written to D/info.json), leaves slapd running
  slapd.py stop   --dir D [--remove]        -> {"ok": true, ...}
  slapd.py modify --dir D  < changes.ldif   -> {"ok": true} (applied as admin,
      stops at the first error: {"ok": false, "error": ...}, exit 1)

Module: start(dir, ...) -> dict, stop(dir), modify(dir_or_info, ldif_text),
        user_dn(i), group_dn(j), BIG_GROUP_DN.

Data shape (see README.md): users uid=user<i> (i = 1..N) spread round-robin
over ou=<dept>,ou=<region>,ou=people; password "password-<i>" stored as
{SSHA}; groups cn=group<j> (j = 1..G) nested in blocks of ten (depth 3);
cn=everyone-big holds user1..user<M>.  memberOf (direct memberships only,
exactly what the memberof overlay would maintain) is written into the
offline-loaded LDIF; online changes are maintained by the overlay.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

# --------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------
BASE_DN = "dc=example,dc=test"
PEOPLE_DN = f"ou=people,{BASE_DN}"
GROUPS_DN = f"ou=groups,{BASE_DN}"
SERVICES_DN = f"ou=services,{BASE_DN}"
BIND_DN = f"cn=scaikey-sync,{SERVICES_DN}"
BIND_PASSWORD = "sync-secret"
ADMIN_DN = f"cn=admin,{BASE_DN}"
ADMIN_PASSWORD = "admin-secret"
CONFIG_ADMIN_DN = "cn=admin,cn=config"      # rootdn of cn=config, same password
BIG_GROUP_DN = f"cn=everyone-big,{GROUPS_DN}"
REFINT_NOTHING_DN = f"cn=nobody,{BASE_DN}"  # placeholder when refint empties a group

REGIONS = ["amer", "emea", "apac", "latam"]
DEPARTMENTS = ["engineering", "sales", "finance", "support", "operations"]

MODULE_PATH = "/usr/lib/ldap"
SCHEMA_DIR = "/etc/ldap/schema"
SCHEMAS = ["core", "cosine", "nis", "inetorgperson"]

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
LDAPSEARCH = "/usr/bin/ldapsearch"
LDAPMODIFY = "/usr/bin/ldapmodify"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"

START_DEADLINE_S = 20.0
STOP_DEADLINE_S = 15.0

GIVEN_NAMES = [
    "Alice", "Bob", "Carol", "David", "Erin", "Frank", "Grace", "Heidi",
    "Ivan", "Judy", "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil",
    "Trent", "Uma", "Victor", "Walter", "Xavier", "Yolanda", "Zoe", "Amir",
    "Beatriz", "Chen", "Dmitri", "Fatima", "Hiroshi", "Ingrid", "Kwame", "Lucia",
    # a few non-ASCII names so clients must handle UTF-8 / base64 LDIF values
    "Zoë", "Jürgen", "Łukasz", "Søren", "José", "Ana-María", "Renée", "Çağla",
]
SURNAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller",
    "Davis", "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson",
    "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez",
    "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
    "Müller", "Østergaard", "Nguyễn", "O'Brien", "Kowalczyk", "Dubois", "Rossi", "Tanaka",
]
TITLES = [
    "Engineer", "Senior Engineer", "Staff Engineer", "Manager", "Director",
    "Analyst", "Account Executive", "Support Specialist", "Accountant",
    "Operations Lead", "Intern", "Architect",
]


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------
def ou_of_user(i: int) -> tuple[str, str]:
    """(region, department) of user i (1-based): round-robin over 20 OUs."""
    idx = (i - 1) % (len(REGIONS) * len(DEPARTMENTS))
    return REGIONS[idx // len(DEPARTMENTS)], DEPARTMENTS[idx % len(DEPARTMENTS)]


def user_dn(i: int) -> str:
    region, dept = ou_of_user(i)
    return f"uid=user{i},ou={dept},ou={region},{PEOPLE_DN}"


def group_dn(j: int) -> str:
    return f"cn=group{j},{GROUPS_DN}"


def user_password(i: int) -> str:
    return f"password-{i}"


def ssha(password: str, salt: bytes) -> str:
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def group_children(j: int, groups: int) -> list[int]:
    """Child groups of group j (1-based) in its block of ten:
    b+1 -> {b+2, b+3};  b+2 -> {b+4, b+5};  b+3 -> {b+6, b+7};  b+8..b+10 flat.
    So group(b+1) > group(b+2) > group(b+4) is three levels deep."""
    b = ((j - 1) // 10) * 10
    k = j - b
    table = {1: [2, 3], 2: [4, 5], 3: [6, 7]}
    return [b + c for c in table.get(k, []) if b + c <= groups]


def _safe(value: str) -> bool:
    if not value:
        return True
    if value[0] in " :<" or value[-1] == " ":
        return False
    return all(0x01 <= ord(ch) <= 0x7F and ch not in "\r\n" for ch in value)


def ldif_line(attr: str, value: str) -> str:
    if _safe(value):
        return f"{attr}: {value}\n"
    return f"{attr}:: {base64.b64encode(value.encode()).decode()}\n"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tool_env() -> dict:
    env = dict(os.environ)
    env["LDAPNOINIT"] = "1"  # ignore /etc/ldap/ldap.conf and ~/.ldaprc
    return env


def _require_binaries(tls: bool) -> None:
    need = [SLAPD, SLAPADD, LDAPSEARCH, LDAPMODIFY] + ([OPENSSL] if tls else [])
    missing = [b for b in need if not (os.path.isfile(b) and os.access(b, os.X_OK))]
    if missing:
        raise RuntimeError(
            "missing " + ", ".join(missing)
            + " -- run tests/peers/ldap/install.sh (Debian packages slapd ldap-utils openssl)")


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, capture_output=True, text=True, env=_tool_env(), **kw)
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed (rc={p.returncode}): {p.stderr.strip() or p.stdout.strip()}")
    return p


# --------------------------------------------------------------------------
# TLS
# --------------------------------------------------------------------------
def _make_tls(tls_dir: Path) -> dict:
    tls_dir.mkdir(parents=True, exist_ok=True)
    ca_key, ca_pem = tls_dir / "ca.key", tls_dir / "ca.pem"
    key, csr, crt = tls_dir / "server.key", tls_dir / "server.csr", tls_dir / "server.pem"
    ext = tls_dir / "server.ext"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _run([OPENSSL, "req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca_pem),
          "-days", "3650", "-subj", "/O=ScaiKey tests/CN=ScaiKey test LDAP CA",
          "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    _run([OPENSSL, "req", "-new", *ec, "-keyout", str(key), "-out", str(csr),
          "-subj", "/O=ScaiKey tests/CN=localhost"])
    ext.write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid\n")
    _run([OPENSSL, "x509", "-req", "-in", str(csr), "-CA", str(ca_pem), "-CAkey", str(ca_key),
          "-set_serial", "0x" + os.urandom(8).hex(), "-days", "825", "-sha256",
          "-extfile", str(ext), "-out", str(crt)])
    for p in (ca_key, key):
        os.chmod(p, 0o600)
    return {"ca": str(ca_pem), "cert": str(crt), "key": str(key)}


# --------------------------------------------------------------------------
# cn=config
# --------------------------------------------------------------------------
def _config_ldif(d: Path, tls: dict | None, size_limit: str, salt: bytes) -> str:
    admin_hash = ssha(ADMIN_PASSWORD, salt)
    out = []
    g = [
        "dn: cn=config", "objectClass: olcGlobal", "cn: config",
        "olcLogLevel: none",
        "olcToolThreads: 2",
        f"olcSizeLimit: {size_limit}",
        f"olcArgsFile: {d / 'slapd.args'}",
    ]
    if tls:
        g += [f"olcTLSCACertificateFile: {tls['ca']}",
              f"olcTLSCertificateFile: {tls['cert']}",
              f"olcTLSCertificateKeyFile: {tls['key']}"]
    out.append("\n".join(g))
    out.append("\n".join([
        "dn: cn=module{0},cn=config", "objectClass: olcModuleList", "cn: module{0}",
        f"olcModulePath: {MODULE_PATH}",
        "olcModuleLoad: {0}back_mdb", "olcModuleLoad: {1}memberof", "olcModuleLoad: {2}refint",
    ]))
    out.append("dn: cn=schema,cn=config\nobjectClass: olcSchemaConfig\ncn: schema")
    for s in SCHEMAS:
        text = Path(SCHEMA_DIR, f"{s}.ldif").read_text()
        out.append(text.strip())
    out.append("\n".join([
        "dn: olcDatabase={-1}frontend,cn=config",
        "objectClass: olcDatabaseConfig", "objectClass: olcFrontendConfig",
        "olcDatabase: {-1}frontend",
        f"olcSizeLimit: {size_limit}",
        'olcAccess: {0}to dn.base="" by * read',
        'olcAccess: {1}to dn.base="cn=Subschema" by * read',
    ]))
    out.append("\n".join([
        "dn: olcDatabase={0}config,cn=config",
        "objectClass: olcDatabaseConfig", "olcDatabase: {0}config",
        f"olcRootDN: {CONFIG_ADMIN_DN}", f"olcRootPW: {admin_hash}",
        "olcAccess: {0}to * by * none",
    ]))
    sync = f'dn.exact="{BIND_DN}"'
    out.append("\n".join([
        "dn: olcDatabase={1}mdb,cn=config",
        "objectClass: olcDatabaseConfig", "objectClass: olcMdbConfig",
        "olcDatabase: {1}mdb",
        f"olcDbDirectory: {d / 'db'}",
        f"olcSuffix: {BASE_DN}",
        f"olcRootDN: {ADMIN_DN}", f"olcRootPW: {admin_hash}",
        "olcDbMaxSize: 8589934592",
        "olcDbNoSync: TRUE",
        "olcDbCheckpoint: 1024 5",
        "olcDbIndex: objectClass eq",
        "olcDbIndex: uid eq",
        "olcDbIndex: cn eq",
        "olcDbIndex: entryUUID eq",
        "olcDbIndex: entryCSN eq",
        "olcDbIndex: modifyTimestamp eq",
        "olcDbIndex: member eq",
        "olcDbIndex: memberOf eq",
        f"olcSizeLimit: {size_limit}",
        "olcLimits: {0}" + sync + " size.soft=unlimited size.hard=unlimited"
        " size.pr=unlimited size.prtotal=unlimited time.soft=unlimited time.hard=unlimited",
        "olcAccess: {0}to attrs=userPassword"
        f" by {sync} read by self write by anonymous auth by * none",
        f"olcAccess: {{1}}to * by {sync} read by self read by users read by * none",
    ]))
    out.append("\n".join([
        "dn: olcOverlay={0}memberof,olcDatabase={1}mdb,cn=config",
        "objectClass: olcOverlayConfig", "objectClass: olcMemberOf",
        "olcOverlay: {0}memberof",
        "olcMemberOfRefInt: TRUE",
        "olcMemberOfDangling: ignore",
        "olcMemberOfGroupOC: groupOfNames",
        "olcMemberOfMemberAD: member",
        "olcMemberOfMemberOfAD: memberOf",
    ]))
    out.append("\n".join([
        "dn: olcOverlay={1}refint,olcDatabase={1}mdb,cn=config",
        "objectClass: olcOverlayConfig", "objectClass: olcRefintConfig",
        "olcOverlay: {1}refint",
        "olcRefintAttribute: member",
        "olcRefintAttribute: memberOf",
        f"olcRefintNothing: {REFINT_NOTHING_DN}",
    ]))
    return "\n\n".join(out) + "\n"


# --------------------------------------------------------------------------
# Seed data (streamed into slapadd -n 1)
# --------------------------------------------------------------------------
def _seed_chunks(users: int, groups: int, big: int, seed: int):
    rng = random.Random(seed)
    ns = uuid.UUID(int=seed & ((1 << 128) - 1))

    def uid_of(dn: str) -> str:
        return str(uuid.uuid5(ns, dn.lower()))

    def entry(dn: str, attrs: list[tuple[str, str]]) -> str:
        parts = [ldif_line("dn", dn)]
        parts += [ldif_line(a, v) for a, v in attrs]
        parts.append(ldif_line("entryUUID", uid_of(dn)))
        return "".join(parts) + "\n"

    # --- memberships (computed first: users carry memberOf) ---------------
    members: dict[int, list[str]] = {}
    user_memberof: dict[int, list[str]] = {}
    group_memberof: dict[int, list[str]] = {}
    for j in range(1, groups + 1):
        k = rng.randint(1, min(40, users))
        picked = sorted(rng.sample(range(1, users + 1), k))
        children = group_children(j, groups)
        members[j] = [group_dn(c) for c in children] + [user_dn(i) for i in picked]
        for c in children:
            group_memberof.setdefault(c, []).append(group_dn(j))
        for i in picked:
            user_memberof.setdefault(i, []).append(group_dn(j))
    for i in range(1, big + 1):
        user_memberof.setdefault(i, []).append(BIG_GROUP_DN)

    # --- tree ---------------------------------------------------------------
    yield entry(BASE_DN, [("objectClass", "top"), ("objectClass", "dcObject"),
                          ("objectClass", "organization"), ("dc", "example"),
                          ("o", "Example Test Org")])
    for ou, desc in (("people", "Users"), ("groups", "Groups"), ("services", "Service accounts")):
        yield entry(f"ou={ou},{BASE_DN}", [("objectClass", "organizationalUnit"),
                                            ("ou", ou), ("description", desc)])
    for r in REGIONS:
        yield entry(f"ou={r},{PEOPLE_DN}", [("objectClass", "organizationalUnit"), ("ou", r)])
        for dpt in DEPARTMENTS:
            yield entry(f"ou={dpt},ou={r},{PEOPLE_DN}",
                        [("objectClass", "organizationalUnit"), ("ou", dpt)])
    yield entry(BIND_DN, [("objectClass", "applicationProcess"),
                          ("objectClass", "simpleSecurityObject"), ("cn", "scaikey-sync"),
                          ("description", "ScaiKey directory sync service account"),
                          ("userPassword", ssha(BIND_PASSWORD, rng.randbytes(8)))])

    # --- users --------------------------------------------------------------
    buf = []
    for i in range(1, users + 1):
        given = rng.choice(GIVEN_NAMES)
        sn = rng.choice(SURNAMES)
        dn = user_dn(i)
        attrs = [("objectClass", "inetOrgPerson"), ("uid", f"user{i}"),
                 ("cn", f"{given} {sn}"), ("sn", sn), ("givenName", given),
                 ("displayName", f"{given} {sn}"), ("mail", f"user{i}@example.test"),
                 ("employeeNumber", f"E{i:07d}"), ("title", rng.choice(TITLES)),
                 ("userPassword", ssha(user_password(i), rng.randbytes(4)))]
        attrs += [("memberOf", g) for g in user_memberof.get(i, [])]
        buf.append(entry(dn, attrs))
        if len(buf) >= 2000:
            yield "".join(buf)
            buf = []
    if buf:
        yield "".join(buf)

    # --- groups -------------------------------------------------------------
    for j in range(1, groups + 1):
        b = ((j - 1) // 10) * 10
        tier = {1: 1, 2: 2, 3: 2, 4: 3, 5: 3, 6: 3, 7: 3}.get(j - b, 0)
        desc = f"Group {j} (nesting tier {tier})" if tier else f"Group {j} (flat)"
        attrs = [("objectClass", "groupOfNames"), ("cn", f"group{j}"), ("description", desc)]
        attrs += [("member", m) for m in members[j]]
        attrs += [("memberOf", g) for g in group_memberof.get(j, [])]
        yield entry(group_dn(j), attrs)
    yield entry(BIG_GROUP_DN, [("objectClass", "groupOfNames"), ("cn", "everyone-big"),
                               ("description", f"Big group: user1..user{big}")]
                + [("member", user_dn(i)) for i in range(1, big + 1)])


# --------------------------------------------------------------------------
# Process control
# --------------------------------------------------------------------------
def _alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)  # reap if it is our own child
    except ChildProcessError:
        pass
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except OSError:
        return False


def _tcp_ready(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _launch(d: Path, tls: bool) -> tuple[subprocess.Popen, int, int | None]:
    """Start slapd on free ports; retry a few times if a port was taken."""
    last = ""
    for _attempt in range(5):
        port = _free_port()
        sport = _free_port() if tls else None
        while sport == port:
            sport = _free_port()
        urls = f"ldap://127.0.0.1:{port}/" + (f" ldaps://127.0.0.1:{sport}/" if tls else "")
        log = open(d / "slapd.log", "ab")
        proc = subprocess.Popen([SLAPD, "-F", str(d / "slapd.d"), "-h", urls, "-d", "0"],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True, env=_tool_env())
        log.close()
        deadline = time.monotonic() + START_DEADLINE_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            if _tcp_ready(port) and (sport is None or _tcp_ready(sport)):
                # a real LDAP round trip as the sync account
                p = subprocess.run([LDAPSEARCH, "-x", "-H", f"ldap://127.0.0.1:{port}",
                                    "-D", BIND_DN, "-w", BIND_PASSWORD, "-s", "base",
                                    "-b", BASE_DN, "1.1"],
                                   capture_output=True, text=True, env=_tool_env())
                if p.returncode == 0:
                    return proc, port, sport
            time.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"slapd did not answer within {START_DEADLINE_S}s; see {d/'slapd.log'}")
        last = (d / "slapd.log").read_text(errors="replace")[-2000:]
    raise RuntimeError(f"slapd exited during start (rc={proc.returncode}); log tail:\n{last}")


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------
def start(dir, users: int = 10000, groups: int = 100, big_group_members: int = 1500,
          seed: int = 1, tls: bool = False, size_limit: str = "unlimited") -> dict:
    """Create, seed and start a private slapd under `dir`; return the info dict."""
    t0 = time.monotonic()
    d = Path(dir).resolve()
    if users < 1 or groups < 0 or big_group_members < 1:
        raise ValueError("need users >= 1, groups >= 0, big_group_members >= 1")
    big = min(big_group_members, users)
    _require_binaries(tls)
    if d.exists() and any(d.iterdir()):
        raise RuntimeError(f"{d} is not empty")
    d.mkdir(parents=True, exist_ok=True)
    (d / "slapd.d").mkdir()
    (d / "db").mkdir()
    rng = random.Random(f"cfg-{seed}")

    tls_files = _make_tls(d / "tls") if tls else None
    (d / "config.ldif").write_text(_config_ldif(d, tls_files, str(size_limit), rng.randbytes(8)))
    _run([SLAPADD, "-n", "0", "-F", str(d / "slapd.d"), "-l", str(d / "config.ldif")])

    # Stream the generated LDIF into slapadd (generation and loading overlap).
    with open(d / "slapadd.log", "wb") as errlog:
        p = subprocess.Popen([SLAPADD, "-q", "-n", "1", "-F", str(d / "slapd.d")],
                             stdin=subprocess.PIPE, stdout=errlog, stderr=errlog,
                             env=_tool_env())
        try:
            for chunk in _seed_chunks(users, groups, big, seed):
                p.stdin.write(chunk.encode())
            p.stdin.close()
        except BrokenPipeError:
            pass
        rc = p.wait()
    if rc != 0:
        raise RuntimeError(f"slapadd -n 1 failed (rc={rc}): "
                           + (d / "slapadd.log").read_text(errors="replace")[-2000:])

    proc, port, sport = _launch(d, tls)
    (d / "slapd.pid").write_text(f"{proc.pid}\n")
    info = {
        "url": f"ldap://127.0.0.1:{port}",
        "ldaps_url": f"ldaps://127.0.0.1:{sport}" if sport else None,
        "ca_pem_path": tls_files["ca"] if tls_files else None,
        "base_dn": BASE_DN,
        "user_base_dn": PEOPLE_DN,
        "group_base_dn": GROUPS_DN,
        "bind_dn": BIND_DN,
        "bind_password": BIND_PASSWORD,
        "admin_dn": ADMIN_DN,
        "admin_password": ADMIN_PASSWORD,
        "users": users,
        "groups": groups,
        "pid": proc.pid,
        "dir": str(d),
        "big_group_dn": BIG_GROUP_DN,
        "big_group_members": big,
        "seed": seed,
        "start_seconds": round(time.monotonic() - t0, 3),
    }
    (d / "info.json").write_text(json.dumps(info) + "\n")
    return info


def stop(dir, remove: bool = False) -> bool:
    """Stop the slapd of `dir` (SIGTERM, then SIGKILL); True if one was running."""
    d = Path(dir)
    pidfile = d / "slapd.pid"
    was_running = False
    if pidfile.exists():
        pid = int(pidfile.read_text().strip() or 0)
        if pid > 0 and _alive(pid):
            was_running = True
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_DEADLINE_S
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
                while _alive(pid):
                    time.sleep(0.05)
        pidfile.unlink(missing_ok=True)
    if remove and d.exists():
        shutil.rmtree(d)
    return was_running


def _load_info(dir_or_info) -> dict:
    if isinstance(dir_or_info, dict):
        return dir_or_info
    return json.loads((Path(dir_or_info) / "info.json").read_text())


def modify(dir_or_info, ldif_text: str) -> None:
    """Apply LDIF change records online as the admin (ldapmodify, no -c).
    Raises RuntimeError with ldapmodify's message on the first failure."""
    info = _load_info(dir_or_info)
    p = subprocess.run([LDAPMODIFY, "-x", "-H", info["url"], "-D", info["admin_dn"],
                        "-w", info["admin_password"]],
                       input=ldif_text, capture_output=True, text=True, env=_tool_env())
    if p.returncode != 0:
        raise RuntimeError(f"ldapmodify rc={p.returncode}: "
                           + (p.stderr.strip() or p.stdout.strip()))


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start", help="create, seed and start a private slapd")
    s.add_argument("--dir", required=True)
    s.add_argument("--users", type=int, default=10000)
    s.add_argument("--groups", type=int, default=100)
    s.add_argument("--big-group-members", type=int, default=1500)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--tls", action="store_true")
    s.add_argument("--size-limit", default="unlimited",
                   help="olcSizeLimit for everyone but the sync account/admin (default unlimited)")
    t = sub.add_parser("stop", help="stop the slapd of --dir")
    t.add_argument("--dir", required=True)
    t.add_argument("--remove", action="store_true", help="also delete --dir")
    m = sub.add_parser("modify", help="apply LDIF change records from stdin as admin")
    m.add_argument("--dir", required=True)
    a = ap.parse_args(argv)

    if a.cmd == "start":
        try:
            info = start(a.dir, users=a.users, groups=a.groups,
                         big_group_members=a.big_group_members, seed=a.seed, tls=a.tls,
                         size_limit=a.size_limit)
        except Exception as e:  # noqa: BLE001
            print(f"slapd.py start: {e}", file=sys.stderr)
            return 1
        print(json.dumps(info), flush=True)
        return 0
    if a.cmd == "stop":
        was = stop(a.dir, remove=a.remove)
        print(json.dumps({"ok": True, "was_running": was}), flush=True)
        return 0
    if a.cmd == "modify":
        try:
            modify(a.dir, sys.stdin.read())
        except Exception as e:  # noqa: BLE001
            print(json.dumps({"ok": False, "error": str(e)}), flush=True)
            return 1
        print(json.dumps({"ok": True}), flush=True)
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
