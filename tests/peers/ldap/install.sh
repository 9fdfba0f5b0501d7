#!/bin/sh
# Install OpenLDAP slapd + ldap-utils (Debian) for the private test peer in
# tests/peers/ldap/slapd.py.  Idempotent and quiet.  Never leaves a system
# slapd running: a policy-rc.d that refuses service starts is put in place
# before installing (if none exists), and any system slapd is stopped after.
set -eu

PKGS="slapd ldap-utils"
NEEDED_BINS="/usr/sbin/slapd /usr/sbin/slapadd /usr/sbin/slappasswd /usr/bin/ldapsearch /usr/bin/ldapmodify /usr/bin/ldapadd /usr/bin/openssl"

if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi

missing=""
for b in $NEEDED_BINS; do
  [ -x "$b" ] || missing="$missing $b"
done

stop_system_slapd() {
  # Stop a system slapd (the Debian service) if one got started.  Our private
  # slapds are started with "-F <dir>/slapd.d" and are left alone.
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    $SUDO systemctl stop slapd >/dev/null 2>&1 || true
    $SUDO systemctl disable slapd >/dev/null 2>&1 || true
  fi
  if [ -f /var/run/slapd/slapd.pid ]; then
    pid=$(cat /var/run/slapd/slapd.pid 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      $SUDO kill "$pid" 2>/dev/null || true
    fi
  fi
  return 0
}

if [ -n "$missing" ]; then
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# installed by tests/peers/ldap/install.sh: never start services from apt\nexit 101\n' \
      | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
  fi
  export DEBIAN_FRONTEND=noninteractive
  # slapd's debconf would otherwise create a system database; we don't use it.
  echo "slapd slapd/no_configuration boolean true" | $SUDO debconf-set-selections 2>/dev/null || true
  if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PKGS openssl >/tmp/ldap-peer-install.log 2>&1; then
    $SUDO apt-get update -qq >>/tmp/ldap-peer-install.log 2>&1 || true
    if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PKGS openssl >>/tmp/ldap-peer-install.log 2>&1; then
      echo "install.sh: could not install Debian packages: $PKGS openssl (see /tmp/ldap-peer-install.log)" >&2
      exit 1
    fi
  fi
  for b in $NEEDED_BINS; do
    if [ ! -x "$b" ]; then
      echo "install.sh: $b still missing after installing Debian packages: $PKGS openssl" >&2
      exit 1
    fi
  done
fi

stop_system_slapd
exit 0
