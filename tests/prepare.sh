#!/usr/bin/env bash
# Prepares everything the tests need on a fresh machine with Rust and
# PostgreSQL: Python packages, the npm peers, Debian packages (as root or
# with sudo), slapd and Samba, and a PostgreSQL that answers. Idempotent;
# stops with a message naming what is missing when it cannot install it.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        sudo="sudo"
    else
        sudo="none"
    fi
fi

# Python peers in a venv of their own (tests/peers/.venv; the tests run its
# python3): PyJWT verifies our tokens, scim2-tester checks SCIM, pyotp
# computes TOTP codes; slapd.py and samba_dc.py need only the standard library.
command -v python3 >/dev/null || { echo "tests/prepare.sh: Python 3 is required (Debian packages python3 and python3-venv)" >&2; exit 1; }
venv=tests/peers/.venv
if ! [ -x "$venv/bin/python3" ] && ! python3 -m venv "$venv" >/dev/null 2>&1; then
    rm -rf "$venv"
    if [ "$sudo" = "none" ]; then
        echo "tests/prepare.sh: python3 cannot make a venv: install the Debian package python3-venv (as root)" >&2
        exit 1
    fi
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    python3 -m venv "$venv"
fi
"$venv/bin/python3" -m pip install --quiet --disable-pip-version-check 'pyjwt[crypto]>=2.8' \
    -r tests/peers/scim/requirements.txt -r tests/peers/mfa/requirements.txt ||
    { echo "tests/prepare.sh: could not pip install the Python test peers (pyjwt, scim2-tester, pyotp) into $venv" >&2; exit 1; }

# Debian packages: libxmlsec1 for samael (SAML signatures; its bindgen needs
# libclang), and chromium for the headless logins (driven by playwright-core,
# which never downloads a browser).
missing=""
for pkg in pkg-config libssl-dev libxml2-dev libxmlsec1-dev libxmlsec1-openssl libclang-dev chromium; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    if [ "$sudo" = "none" ]; then
        echo "tests/prepare.sh: install these Debian packages (as root):$missing" >&2
        exit 1
    fi
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    # shellcheck disable=SC2086
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# npm peers: openid-client as relying party, oidc-provider and a SAML IdP upstream.
command -v npm >/dev/null || { echo "tests/prepare.sh: Node.js and npm are required" >&2; exit 1; }
for peer in oidc-rp oidc-op saml-idp; do
    npm ci --prefix "tests/peers/$peer" --no-audit --no-fund --loglevel=error
done

# Directory peers: OpenLDAP slapd and a Samba AD DC (Debian packages; a private config per test).
if [ "$sudo" = "none" ] && { ! [ -x /usr/sbin/slapd ] || ! [ -x /usr/sbin/samba ]; }; then
    echo "tests/prepare.sh: install slapd, ldap-utils and samba (tests/peers/ldap/install.sh, tests/peers/samba/install.sh) as root" >&2
    exit 1
fi
bash tests/peers/ldap/install.sh
bash tests/peers/samba/install.sh
if [ "$(id -u)" -ne 0 ]; then
    # Said now rather than only when those tests fail, minutes later.
    echo "tests/prepare.sh: note: the Samba AD DC peer runs as root (it binds 389/636 on 127.0.0.2):" \
        "the directory_ad tests fail unless the tests run as root (sudo bash tests/run)" >&2
fi

# Redis for the shared rate limits (src/authn/ratelimit.rs); the test
# fails, never skips, when it does not answer.
redis_up() { (exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\r\n' >&3 && head -c 5 <&3 | grep -q PONG) 2>/dev/null; }
if ! redis_up; then
    if ! command -v redis-server >/dev/null; then
        [ "$sudo" = "none" ] && { echo "tests/prepare.sh: install redis-server (Debian package) as root" >&2; exit 1; }
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null
    fi
    mkdir -p /tmp/scaikey-redis
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no --dir /tmp/scaikey-redis \
        --logfile /tmp/scaikey-redis/redis.log
    for _ in $(seq 1 20); do redis_up && break; sleep 0.5; done
fi
redis_up || { echo "tests/prepare.sh: Redis must answer on 127.0.0.1:6379" >&2; exit 1; }

# PostgreSQL for the conformance suite and the PostgreSQL variants of the
# integration tests; they fail (never skip) when it is down.
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432 ||
    { echo "tests/prepare.sh: PostgreSQL must answer on 127.0.0.1:5432 (trust auth, database test)" >&2; exit 1; }

# Databases the test suites create; drop leftovers of earlier runs.
psql -h 127.0.0.1 -U postgres -d test -Atc \
    "SELECT datname FROM pg_database WHERE datname LIKE 'scaikey\_%'" |
    while read -r db; do psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE IF EXISTS \"$db\"" >/dev/null; done
