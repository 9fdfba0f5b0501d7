#!/usr/bin/env python3
"""Private, reproducible Samba 4 Active Directory DC for ScaiKey's
`active_directory` LDAP-flavor tests.  Python 3.11, stdlib only.

Needs Debian samba, samba-ad-dc, samba-ad-provision, samba-dsdb-modules,
ldb-tools, ldap-utils and openssl (tests/peers/samba/install.sh). Run it as root.
Samba's LDAP server always listens on ports 389 and 636, and on 3268 and 3269
for the global catalog. These ports are hard-coded in Samba and there is no
"ldap port" option. You can choose the loopback address with --ip 127.0.0.N,
so several DCs can run at the same time on different addresses.

Everything lives under --dir: the provisioned domain in <dir>/dc (smb.conf,
private/sam.ldb, state, cache, lock), the pid and sockets in <dir>/run, the
logs in <dir>/log and <dir>/samba.log, and TLS material in <dir>/tls.
Nothing goes to /etc/samba, /var/lib/samba, /run/samba or /var/log/samba.

CLI:
  samba_dc.py start  --dir D [--users N] [--big-group-members M] [--ip 127.0.0.1]
                     [--no-tombstone-acl] [--logon-timestamps]
      -> prints one JSON line (also written to D/info.json) and leaves samba running
  samba_dc.py stop   --dir D [--remove]     -> {"ok": true, "was_running": bool}
  samba_dc.py modify --dir D  < changes.ldif
      -> {"ok": true}. The LDIF is applied as Administrator over LDAPS and stops at
         the first error with {"ok": false, "error": ...} and exit 1. The CA is read
         from $LDAPTLS_CACERT, or <dir>/tls/ca.pem if that is not set.
  samba_dc.py usn    --dir D                -> {"highestCommittedUSN": n}

The data is loaded offline with ldbadd into sam.ldb before samba starts. That
is as fast as it gets: about 24 ms for each user with a password (Kerberos key
derivation) and 2-6 ms for each user without one, depending on load. See
README.md for the data shape.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

# --------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------
REALM = "TEST.LOCAL"
DOMAIN = "TEST"
DNS_DOMAIN = "test.local"
HOST = "dc1"
NETBIOS = "DC1"
BASE_DN = "DC=test,DC=local"
PEOPLE_DN = f"OU=People,{BASE_DN}"
BULK_OU_DN = f"OU=Bulk,{PEOPLE_DN}"
GROUPS_DN = f"OU=Groups,{BASE_DN}"
SERVICE_OU_DN = f"OU=Service,{BASE_DN}"
DELETED_OBJECTS_DN = f"CN=Deleted Objects,{BASE_DN}"
BIND_DN = f"CN=scaikey-sync,{SERVICE_OU_DN}"
BIND_SAM = "scaikey-sync"
BIND_PASSWORD = "Sync-secret-1!"
ADMIN_DN = f"CN=Administrator,CN=Users,{BASE_DN}"
ADMIN_PASSWORD = "Admin-secret-1!"
DISABLED_DN = f"CN=Disabled User,{PEOPLE_DN}"
DISABLED_SAM = "user_disabled"
DISABLED_PASSWORD = "Passw0rd-disabled!"
BIG_GROUP_DN = f"CN=Everyone Big,{GROUPS_DN}"
STAFF_DN = f"CN=Staff,{GROUPS_DN}"
ENGINEERING_DN = f"CN=Engineering,{GROUPS_DN}"
PLATFORM_DN = f"CN=Platform,{GROUPS_DN}"
SHOW_DELETED_OID = "1.2.840.113556.1.4.417"

# sub-OUs of OU=People; user i goes to DEPARTMENTS[(i-1) % 4]
DEPARTMENTS = ["Engineering", "Sales", "Finance", "Support"]

UAC_NORMAL = 512               # NORMAL_ACCOUNT
UAC_DISABLED = 514             # NORMAL_ACCOUNT | ACCOUNTDISABLE
UAC_SERVICE = 66048            # NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD

LDAP_PORTS = (389, 636, 3268, 3269)   # hard-coded in Samba (3268/3269: global catalog)

SAMBA = "/usr/sbin/samba"
SAMBA_TOOL = "/usr/bin/samba-tool"
LDBADD = "/usr/bin/ldbadd"
LDBMODIFY = "/usr/bin/ldbmodify"
LDBSEARCH = "/usr/bin/ldbsearch"
LDAPSEARCH = "/usr/bin/ldapsearch"
LDAPMODIFY = "/usr/bin/ldapmodify"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"

START_DEADLINE_S = 60.0
STOP_DEADLINE_S = 20.0

GIVEN_NAMES = [
    "Alice", "Bob", "Carol", "David", "Erin", "Frank", "Grace", "Heidi",
    "Ivan", "Judy", "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil",
    "Trent", "Uma", "Victor", "Walter", "Zoë", "Jürgen", "Søren", "José",
]
SURNAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller",
    "Davis", "Martinez", "Wilson", "Anderson", "Taylor", "Moore", "Martin",
    "Müller", "Østergaard", "O'Brien", "Dubois", "Rossi", "Tanaka",
]
TITLES = ["Engineer", "Senior Engineer", "Manager", "Analyst", "Director",
          "Support Specialist", "Accountant", "Architect"]


# --------------------------------------------------------------------------
# Data-shape helpers (importable by tests)
# --------------------------------------------------------------------------
def department_of(i: int) -> str:
    return DEPARTMENTS[(i - 1) % len(DEPARTMENTS)]


def user_dn(i: int) -> str:
    return f"CN=User {i},OU={department_of(i)},{PEOPLE_DN}"


def user_upn(i: int) -> str:
    return f"user{i}@{DNS_DOMAIN}"


def user_password(i: int) -> str:
    return f"Passw0rd-{i}!"


def bulk_dn(k: int) -> str:
    return f"CN=Bulk {k},{BULK_OU_DN}"


def user_given_sn(i: int) -> tuple[str, str]:
    return GIVEN_NAMES[(i - 1) % len(GIVEN_NAMES)], SURNAMES[((i - 1) * 7) % len(SURNAMES)]


def nested_group_members(users: int) -> dict[str, list[str]]:
    """Direct members of Staff > Engineering > Platform (only users <= N)."""
    def us(*ids):
        return [user_dn(i) for i in ids if i <= users]
    return {
        STAFF_DN: us(1, 2, 3) + [ENGINEERING_DN],
        ENGINEERING_DN: us(4, 5, 6) + [PLATFORM_DN],
        PLATFORM_DN: us(7, 8) + [DISABLED_DN],
    }


def big_group_members(users: int, big: int) -> list[str]:
    """user1..userN first, then Bulk 1..(M-N) (users without a password)."""
    first = [user_dn(i) for i in range(1, min(users, big) + 1)]
    return first + [bulk_dn(k) for k in range(1, big - len(first) + 1)]


def unicode_pwd(password: str) -> str:
    """unicodePwd value: base64 of the UTF-16LE encoding of the quoted password."""
    return base64.b64encode(f'"{password}"'.encode("utf-16-le")).decode()


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


def _entry(dn: str, attrs: list[tuple[str, str]]) -> str:
    return ldif_line("dn", dn) + "".join(ldif_line(a, v) for a, v in attrs) + "\n"


# --------------------------------------------------------------------------
# Process helpers
# --------------------------------------------------------------------------
def _ldap_env(ca: str | None) -> dict:
    env = dict(os.environ)
    # NOT LDAPNOINIT: it also disables LDAPTLS_CACERT.
    env.pop("LDAPNOINIT", None)
    if ca:
        env["LDAPTLS_CACERT"] = ca
    env["LDAPTLS_REQCERT"] = "demand"
    return env


def _samba_env(d: Path) -> dict:
    env = dict(os.environ)
    env["SMB_CONF_PATH"] = str(d / "dc" / "etc" / "smb.conf")
    env["KRB5_CONFIG"] = str(d / "dc" / "private" / "krb5.conf")
    env["TMPDIR"] = str(d / "tmp")
    return env


def _run(cmd: list[str], env: dict | None = None, input: str | None = None,
         what: str | None = None) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, input=input)
    if p.returncode != 0:
        msg = (p.stderr.strip() + "\n" + p.stdout.strip()).strip()
        raise RuntimeError(f"{what or cmd[0]} failed (rc={p.returncode}): {msg[-3000:]}")
    return p


def _require_binaries() -> None:
    need = [SAMBA, SAMBA_TOOL, LDBADD, LDBMODIFY, LDBSEARCH, LDAPSEARCH, LDAPMODIFY, OPENSSL]
    missing = [b for b in need if not (os.path.isfile(b) and os.access(b, os.X_OK))]
    if not Path("/usr/share/samba/setup/provision.ldif").exists():
        missing.append("/usr/share/samba/setup (samba-ad-provision)")
    if missing:
        raise RuntimeError(
            "missing " + ", ".join(missing)
            + " -- run tests/peers/samba/install.sh (Debian packages samba samba-ad-dc "
              "samba-ad-provision samba-dsdb-modules samba-vfs-modules winbind ldb-tools "
              "ldap-utils openssl)")


def _check_ports_free(ip: str) -> None:
    busy = []
    for port in LDAP_PORTS:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((ip, port))
            except OSError as e:
                busy.append(f"{ip}:{port} ({e.strerror})")
    if busy:
        raise RuntimeError(
            "Samba AD listens on the fixed ports 389/636/3268/3269 and these are taken: "
            + ", ".join(busy)
            + " -- stop whatever holds them (another samba_dc.py? `samba_dc.py stop --dir ...`) "
              "or use another loopback address with --ip 127.0.0.N")


def _alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)  # reap if it is our own child
    except (ChildProcessError, OSError):
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


# --------------------------------------------------------------------------
# TLS
# --------------------------------------------------------------------------
def _make_tls(tls_dir: Path, ip: str) -> dict:
    tls_dir.mkdir(parents=True, exist_ok=True)
    ca_key, ca_pem = tls_dir / "ca.key", tls_dir / "ca.pem"
    key, csr, crt = tls_dir / "server.key", tls_dir / "server.csr", tls_dir / "server.pem"
    ext = tls_dir / "server.ext"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _run([OPENSSL, "req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca_pem),
          "-days", "3650", "-subj", "/O=ScaiKey tests/CN=ScaiKey test AD CA",
          "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    _run([OPENSSL, "req", "-new", *ec, "-keyout", str(key), "-out", str(csr),
          "-subj", f"/O=ScaiKey tests/CN={HOST}.{DNS_DOMAIN}"])
    ext.write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        f"subjectAltName=DNS:{HOST}.{DNS_DOMAIN},DNS:localhost,IP:{ip}\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid\n")
    _run([OPENSSL, "x509", "-req", "-in", str(csr), "-CA", str(ca_pem), "-CAkey", str(ca_key),
          "-set_serial", "0x" + os.urandom(8).hex(), "-days", "825", "-sha256",
          "-extfile", str(ext), "-out", str(crt)])
    for p in (ca_key, key):
        os.chmod(p, 0o600)   # samba refuses a key file readable by others
    return {"ca": str(ca_pem), "cert": str(crt), "key": str(key)}


# --------------------------------------------------------------------------
# Provision + smb.conf
# --------------------------------------------------------------------------
def _dir_options(d: Path) -> dict[str, str]:
    """Every path Samba would otherwise put under /var, /run or /etc."""
    return {
        "pid directory": str(d / "run"),
        "ncalrpc dir": str(d / "run" / "ncalrpc"),
        "winbindd socket directory": str(d / "run" / "winbindd"),
        "ntp signd socket directory": str(d / "run" / "ntp_signd"),
        "smb passwd file": str(d / "dc" / "private" / "smbpasswd"),
        "usershare path": str(d / "dc" / "usershares"),
        "log file": str(d / "log" / "log.%m"),
    }


def _provision(d: Path, ip: str) -> None:
    opts = {"interfaces": f"{ip}/8", "bind interfaces only": "yes", "netbios name": NETBIOS}
    opts.update(_dir_options(d))
    cmd = [SAMBA_TOOL, "domain", "provision", "--use-rfc2307", f"--realm={REALM}",
           f"--domain={DOMAIN}", "--server-role=dc", "--dns-backend=NONE",
           f"--adminpass={ADMIN_PASSWORD}", f"--host-name={HOST}",
           f"--targetdir={d / 'dc'}"]
    cmd += [f"--option={k}={v}" for k, v in opts.items()]
    with open(d / "log" / "provision.log", "wb") as log:
        env = _samba_env(d)
        env.pop("SMB_CONF_PATH")   # provision writes that file; it must not read it first
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                           env=env)
    if p.returncode != 0:
        tail = (d / "log" / "provision.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"samba-tool domain provision failed (rc={p.returncode}):\n{tail}")


def _rewrite_smb_conf(d: Path, ip: str, tls: dict) -> None:
    """Keep provision's [global] paths and identity, drop everything else we do
    not need (printing, homes, panic action), and add our own settings."""
    conf = d / "dc" / "etc" / "smb.conf"
    glob: dict[str, str] = {}
    section = None
    for line in conf.read_text().splitlines():
        s = line.strip()
        if not s or s[0] in "#;":
            continue
        if s.startswith("["):
            section = s.strip("[]").lower()
            continue
        if section == "global" and "=" in s:
            k, v = s.split("=", 1)
            glob[k.strip().lower()] = v.strip()
    keep = ["netbios name", "realm", "workgroup", "server role", "private dir",
            "lock directory", "state directory", "cache directory", "binddns dir",
            "idmap_ldb:use rfc2307"]
    out = {k: glob[k] for k in keep if k in glob}
    out.update({
        "server services": "ldap",          # no kdc/rpc/nbt/dns/smb: simple binds only
        "interfaces": f"{ip}/8",
        "bind interfaces only": "yes",
        "ldap server require strong auth": "yes",   # AD default: no simple bind in clear
        "tls enabled": "yes",
        "tls keyfile": tls["key"],
        "tls certfile": tls["cert"],
        "tls cafile": tls["ca"],
        "log level": "1",
        "max log size": "10000",
    })
    out.update(_dir_options(d))
    text = "# Written by tests/peers/samba/samba_dc.py (after samba-tool domain provision)\n"
    text += "[global]\n" + "".join(f"\t{k} = {v}\n" for k, v in out.items())
    conf.write_text(text)


# --------------------------------------------------------------------------
# Seed data (offline, ldbadd into sam.ldb)
# --------------------------------------------------------------------------
def _seed_ldif(users: int, big: int) -> str:
    out = []
    ou = lambda dn, name, desc: _entry(dn, [("objectClass", "organizationalUnit"),  # noqa: E731
                                            ("ou", name), ("description", desc)])
    out.append(ou(PEOPLE_DN, "People", "People synced by ScaiKey"))
    for dept in DEPARTMENTS:
        out.append(ou(f"OU={dept},{PEOPLE_DN}", dept, f"{dept} department"))
    n_bulk = max(0, big - min(users, big))
    if n_bulk:
        out.append(ou(BULK_OU_DN, "Bulk", "Filler users for the big group (no password)"))
    out.append(ou(GROUPS_DN, "Groups", "Groups synced by ScaiKey"))
    out.append(ou(SERVICE_OU_DN, "Service", "Service accounts"))

    out.append(_entry(BIND_DN, [
        ("objectClass", "user"), ("sAMAccountName", BIND_SAM),
        ("userPrincipalName", f"{BIND_SAM}@{DNS_DOMAIN}"),
        ("displayName", "ScaiKey directory sync"),
        ("description", "ScaiKey directory sync service account"),
        ("unicodePwd:", unicode_pwd(BIND_PASSWORD)),
        ("userAccountControl", str(UAC_SERVICE))]))

    for i in range(1, users + 1):
        given, sn = user_given_sn(i)
        out.append(_entry(user_dn(i), [
            ("objectClass", "user"), ("sAMAccountName", f"user{i}"),
            ("userPrincipalName", user_upn(i)), ("givenName", given), ("sn", sn),
            ("displayName", f"{given} {sn}"), ("mail", user_upn(i)),
            ("title", TITLES[(i - 1) % len(TITLES)]), ("department", department_of(i)),
            ("employeeID", f"E{i:06d}"),
            ("unicodePwd:", unicode_pwd(user_password(i))),
            ("userAccountControl", str(UAC_NORMAL))]))
    out.append(_entry(DISABLED_DN, [
        ("objectClass", "user"), ("sAMAccountName", DISABLED_SAM),
        ("userPrincipalName", f"{DISABLED_SAM}@{DNS_DOMAIN}"),
        ("givenName", "Disabled"), ("sn", "User"), ("displayName", "Disabled User"),
        ("mail", f"{DISABLED_SAM}@{DNS_DOMAIN}"), ("title", "Former Employee"),
        ("unicodePwd:", unicode_pwd(DISABLED_PASSWORD)),
        ("userAccountControl", str(UAC_DISABLED))]))
    for k in range(1, n_bulk + 1):
        out.append(_entry(bulk_dn(k), [
            ("objectClass", "user"), ("sAMAccountName", f"bulk{k}"),
            ("userPrincipalName", f"bulk{k}@{DNS_DOMAIN}"),
            ("givenName", "Bulk"), ("sn", str(k)), ("displayName", f"Bulk {k}"),
            ("userAccountControl", str(UAC_NORMAL))]))

    # groups: children first so that member DNs exist
    nested = nested_group_members(users)
    descs = {PLATFORM_DN: ("Platform", "Platform team (level 3, in Engineering)"),
             ENGINEERING_DN: ("Engineering", "Engineering (level 2, in Staff)"),
             STAFF_DN: ("Staff", "All staff (level 1)")}
    for dn in (PLATFORM_DN, ENGINEERING_DN, STAFF_DN):
        name, desc = descs[dn]
        out.append(_entry(dn, [("objectClass", "group"), ("sAMAccountName", name),
                               ("description", desc)]
                          + [("member", m) for m in nested[dn]]))
    out.append(_entry(BIG_GROUP_DN, [("objectClass", "group"),
                                     ("sAMAccountName", "everyone-big"),
                                     ("description", f"Big group with {big} members")]
                      + [("member", m) for m in big_group_members(users, big)]))
    # ("unicodePwd:", b64) is written by ldif_line as "unicodePwd:: b64" (a base64 value)
    return "".join(out)


def _ldb_url(d: Path) -> list[str]:
    return ["-H", str(d / "dc" / "private" / "sam.ldb"),
            f"--configfile={d / 'dc' / 'etc' / 'smb.conf'}"]


def _seed(d: Path, users: int, big: int, tombstone_acl: bool, logon_timestamps: bool) -> None:
    env = _samba_env(d)
    ldif = _seed_ldif(users, big)
    (d / "seed.ldif").write_text(ldif)
    _run([LDBADD, *_ldb_url(d), str(d / "seed.ldif")], env=env, what="ldbadd (seed)")

    mods = []
    if tombstone_acl:
        # Give the sync account List Contents + Read Property on CN=Deleted Objects,
        # the equivalent of
        #   dsacls "CN=Deleted Objects,DC=test,DC=local" /takeownership
        #   dsacls "CN=Deleted Objects,DC=test,DC=local" /G TEST\scaikey-sync:LCRP
        # on Windows. By default, only SYSTEM and Administrators can list tombstones.
        sid = _ldb_attr(d, env, BASE_DN, f"(sAMAccountName={BIND_SAM})", "objectSid")
        sd = _ldb_attr(d, env, DELETED_OBJECTS_DN, "(objectClass=*)", "nTSecurityDescriptor",
                       scope="base", show_deleted=True)
        ace = f"(A;;RPLC;;;{sid})"
        i = sd.find("S:")
        sd = sd[:i] + ace + sd[i:] if i > 0 else sd + ace
        mods.append(f"dn: {DELETED_OBJECTS_DN}\nchangetype: modify\n"
                    f"replace: nTSecurityDescriptor\nnTSecurityDescriptor: {sd}\n")
    if not logon_timestamps:
        # A successful bind sets lastLogonTimestamp the first time (and then every
        # 9-14 days) and bumps uSNChanged. 0 switches that off, so the delta sync
        # sees only real changes.
        mods.append(f"dn: {BASE_DN}\nchangetype: modify\n"
                    "replace: msDS-LogonTimeSyncInterval\nmsDS-LogonTimeSyncInterval: 0\n")
    if mods:
        (d / "seed-mods.ldif").write_text("\n".join(mods))
        _run([LDBMODIFY, *_ldb_url(d), "--controls=show_deleted:1", str(d / "seed-mods.ldif")],
             env=env, what="ldbmodify (ACL / settings)")


def _ldb_attr(d: Path, env: dict, base: str, filt: str, attr: str, scope: str = "sub",
              show_deleted: bool = False) -> str:
    cmd = [LDBSEARCH, *_ldb_url(d), "-b", base, "-s", scope]
    if show_deleted:
        cmd.append("--controls=show_deleted:1")
    p = _run(cmd + [filt, attr], env=env, what="ldbsearch")
    # unfold LDIF continuation lines
    text = re.sub(r"\n ", "", p.stdout)
    for line in text.splitlines():
        if line.lower().startswith(attr.lower() + ": "):
            return line.split(": ", 1)[1].strip()
    raise RuntimeError(f"ldbsearch: no {attr} on {base} {filt}")


# --------------------------------------------------------------------------
# Start / stop
# --------------------------------------------------------------------------
def _ldap_ok(url: str, ca: str, dn: str, pw: str) -> tuple[bool, str]:
    p = subprocess.run([LDAPSEARCH, "-x", "-H", url, "-D", dn, "-w", pw, "-s", "base",
                        "-b", "", "-o", "nettimeout=2", "-l", "5", "highestCommittedUSN"],
                       capture_output=True, text=True, env=_ldap_env(ca))
    return p.returncode == 0, (p.stderr.strip() or p.stdout.strip())


def _launch(d: Path, ip: str, ca: str) -> subprocess.Popen:
    conf = d / "dc" / "etc" / "smb.conf"
    log = open(d / "samba.log", "ab")
    # -i: foreground, log to stdout; -M single: one process (the LDAP task only,
    # light on a 2-core CI box)
    proc = subprocess.Popen([SAMBA, "-i", "-M", "single", "-s", str(conf)],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True, env=_samba_env(d), cwd=str(d))
    log.close()
    (d / "samba.pid").write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + START_DEADLINE_S
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (d / "samba.log").read_text(errors="replace")[-3000:]
            (d / "samba.pid").unlink(missing_ok=True)
            raise RuntimeError(f"samba exited during start (rc={proc.returncode}); log tail:\n{tail}")
        try:
            with socket.create_connection((ip, 636), timeout=0.2):
                pass
        except OSError:
            time.sleep(0.05)
            continue
        ok, last = _ldap_ok(f"ldaps://{ip}:636", ca, BIND_DN, BIND_PASSWORD)
        if ok:
            return proc
        time.sleep(0.1)
    _terminate(proc.pid)
    (d / "samba.pid").unlink(missing_ok=True)
    raise RuntimeError(f"samba did not answer LDAPS within {START_DEADLINE_S}s ({last}); "
                       f"see {d / 'samba.log'}")


def start(dir, users: int = 50, big_group_members: int = 1600, ip: str = "127.0.0.1",
          tombstone_acl: bool = True, logon_timestamps: bool = False) -> dict:
    """Provision, seed and start a private Samba AD DC under `dir`; return the info dict."""
    t0 = time.monotonic()
    d = Path(dir).resolve()
    if users < 1 or big_group_members < 1:
        raise ValueError("need users >= 1 and big_group_members >= 1")
    if not ip.startswith("127."):
        raise ValueError("--ip must be a loopback address 127.x.y.z")
    _require_binaries()
    if os.geteuid() != 0:
        raise RuntimeError("run as root: samba (AD DC) binds ports 389/636 and runs as root")
    if d.exists() and any(d.iterdir()):
        raise RuntimeError(f"{d} is not empty")
    _check_ports_free(ip)
    for sub in ("run", "log", "dc", "tmp"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    timings = {}

    t = time.monotonic()
    tls = _make_tls(d / "tls", ip)
    _provision(d, ip)
    _rewrite_smb_conf(d, ip, tls)
    timings["provision"] = round(time.monotonic() - t, 3)

    t = time.monotonic()
    _seed(d, users, big_group_members, tombstone_acl, logon_timestamps)
    timings["seed"] = round(time.monotonic() - t, 3)

    t = time.monotonic()
    _check_ports_free(ip)
    proc = _launch(d, ip, tls["ca"])
    timings["launch"] = round(time.monotonic() - t, 3)

    info = {
        "ldap_url": f"ldap://{ip}:389",
        "ldaps_url": f"ldaps://{ip}:636",
        "ca_pem_path": tls["ca"],
        "base_dn": BASE_DN,
        "user_base_dn": PEOPLE_DN,
        "group_base_dn": GROUPS_DN,
        "bind_dn": BIND_DN,
        "bind_password": BIND_PASSWORD,
        "admin_dn": ADMIN_DN,
        "admin_password": ADMIN_PASSWORD,
        "users": users,
        "big_group_dn": BIG_GROUP_DN,
        "big_group_members": big_group_members,
        "pid": proc.pid,
        "dir": str(d),
        "start_seconds": round(time.monotonic() - t0, 3),
        "realm": REALM,
        "domain": DOMAIN,
        "upn_suffix": DNS_DOMAIN,
        "disabled_user_dn": DISABLED_DN,
        "bulk_users": max(0, big_group_members - min(users, big_group_members)),
        "nested_groups": [STAFF_DN, ENGINEERING_DN, PLATFORM_DN],
        "deleted_objects_dn": DELETED_OBJECTS_DN,
        "tombstone_acl": tombstone_acl,
        "logon_timestamps": logon_timestamps,
        "timings": timings,
    }
    (d / "info.json").write_text(json.dumps(info) + "\n")
    return info


def _terminate(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_DEADLINE_S
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        while _alive(pid):
            time.sleep(0.05)
    # samba was started in its own session (pgid == pid): take any leftover
    # child of that group down too.
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _is_our_samba(pid: int, d: Path) -> bool:
    """samba rewrites its argv and environ ("samba: root process"), so we
    recognise ours by its executable and by its working directory (set to <dir>)."""
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return False
    return os.path.basename(exe) == "samba" and Path(cwd) == d


def stop(dir, remove: bool = False) -> bool:
    """Stop the samba of `dir`; True if one was running. `remove` deletes `dir`."""
    d = Path(dir).resolve()
    pidfile = d / "samba.pid"
    was_running = False
    if pidfile.exists():
        txt = pidfile.read_text().strip()
        pid = int(txt) if txt.isdigit() else 0
        if pid > 0 and _alive(pid) and _is_our_samba(pid, d):
            was_running = True
            _terminate(pid)
        pidfile.unlink(missing_ok=True)
    if remove and d.exists():
        shutil.rmtree(d)
    return was_running


# --------------------------------------------------------------------------
# modify / usn
# --------------------------------------------------------------------------
def _load_info(dir_or_info) -> dict:
    if isinstance(dir_or_info, dict):
        return dir_or_info
    return json.loads((Path(dir_or_info) / "info.json").read_text())


def modify(dir_or_info, ldif_text: str) -> None:
    """Apply LDIF change records as Administrator over LDAPS with ldapmodify (no -c).
    The CA comes from $LDAPTLS_CACERT, or ca_pem_path if that is not set.
    Raises RuntimeError with ldapmodify's message on the first failure."""
    info = _load_info(dir_or_info)
    ca = os.environ.get("LDAPTLS_CACERT") or info["ca_pem_path"]
    p = subprocess.run([LDAPMODIFY, "-x", "-H", info["ldaps_url"], "-D", info["admin_dn"],
                        "-w", info["admin_password"]],
                       input=ldif_text, capture_output=True, text=True, env=_ldap_env(ca))
    if p.returncode != 0:
        raise RuntimeError(f"ldapmodify rc={p.returncode}: "
                           + (p.stderr.strip() or p.stdout.strip()))


def usn(dir_or_info) -> int:
    """highestCommittedUSN from the rootDSE (anonymous read over LDAPS)."""
    info = _load_info(dir_or_info)
    ca = os.environ.get("LDAPTLS_CACERT") or info["ca_pem_path"]
    p = subprocess.run([LDAPSEARCH, "-x", "-LLL", "-H", info["ldaps_url"], "-s", "base",
                        "-b", "", "highestCommittedUSN"],
                       capture_output=True, text=True, env=_ldap_env(ca))
    m = re.search(r"^highestCommittedUSN: (\d+)", p.stdout, re.M)
    if p.returncode != 0 or not m:
        raise RuntimeError(f"ldapsearch rootDSE rc={p.returncode}: "
                           + (p.stderr.strip() or p.stdout.strip()))
    return int(m.group(1))


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start", help="provision, seed and start a private Samba AD DC")
    s.add_argument("--dir", required=True)
    s.add_argument("--users", type=int, default=50,
                   help="users with a password (CN=User <i>), default 50")
    s.add_argument("--big-group-members", type=int, default=1600,
                   help="members of CN=Everyone Big, default 1600 (> MaxValRange 1500)")
    s.add_argument("--ip", default="127.0.0.1",
                   help="loopback address to listen on (ports are fixed), default 127.0.0.1")
    s.add_argument("--no-tombstone-acl", action="store_true",
                   help="do not let the sync account list CN=Deleted Objects (AD default)")
    s.add_argument("--logon-timestamps", action="store_true",
                   help="keep AD's lastLogonTimestamp updates (a first bind bumps uSNChanged)")
    t = sub.add_parser("stop", help="stop the samba of --dir")
    t.add_argument("--dir", required=True)
    t.add_argument("--remove", action="store_true", help="also delete --dir")
    m = sub.add_parser("modify", help="apply LDIF change records from stdin as Administrator")
    m.add_argument("--dir", required=True)
    u = sub.add_parser("usn", help="print the rootDSE highestCommittedUSN")
    u.add_argument("--dir", required=True)
    a = ap.parse_args(argv)

    if a.cmd == "start":
        try:
            info = start(a.dir, users=a.users, big_group_members=a.big_group_members, ip=a.ip,
                         tombstone_acl=not a.no_tombstone_acl,
                         logon_timestamps=a.logon_timestamps)
        except Exception as e:  # noqa: BLE001
            print(f"samba_dc.py start: {e}", file=sys.stderr)
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
    if a.cmd == "usn":
        try:
            n = usn(a.dir)
        except Exception as e:  # noqa: BLE001
            print(json.dumps({"ok": False, "error": str(e)}), flush=True)
            return 1
        print(json.dumps({"highestCommittedUSN": n}), flush=True)
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
