#!/bin/sh
# Install Samba (Active Directory DC) + ldb-tools + ldap-utils + openssl
# (Debian 12) for the private test peer in tests/peers/samba/samba_dc.py.
# Idempotent and quiet.  Never leaves a system samba/smbd/nmbd/winbind running:
# a policy-rc.d that refuses service starts is put in place before installing
# (if none exists), and any system daemon that did start is stopped after.
set -eu

PKGS="samba samba-ad-dc samba-ad-provision samba-dsdb-modules samba-vfs-modules winbind ldb-tools ldap-utils openssl"
NEEDED_BINS="/usr/sbin/samba /usr/bin/samba-tool /usr/bin/ldbadd /usr/bin/ldbsearch /usr/bin/ldapsearch /usr/bin/ldapmodify /usr/bin/openssl"
# samba-ad-provision ships the provisioning templates samba-tool needs
NEEDED_FILES="/usr/share/samba/setup/provision.ldif"

if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi

missing=""
for b in $NEEDED_BINS; do
  [ -x "$b" ] || missing="$missing $b"
done
for f in $NEEDED_FILES; do
  [ -e "$f" ] || missing="$missing $f"
done

stop_system_samba() {
  # Stop the Debian services if any got started.  Our private DCs are started
  # with "-s <dir>/dc/etc/smb.conf" and are left alone (we only act on the
  # system pid files under /run/samba and on systemd units).
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    for u in samba-ad-dc smbd nmbd winbind samba; do
      $SUDO systemctl stop "$u" >/dev/null 2>&1 || true
      $SUDO systemctl disable "$u" >/dev/null 2>&1 || true
    done
  fi
  for f in /run/samba/samba.pid /run/samba/smbd.pid /run/samba/nmbd.pid /run/samba/winbindd.pid \
           /var/run/samba/samba.pid /var/run/samba/smbd.pid /var/run/samba/nmbd.pid /var/run/samba/winbindd.pid; do
    if [ -f "$f" ]; then
      pid=$(cat "$f" 2>/dev/null || true)
      if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        $SUDO kill "$pid" 2>/dev/null || true
      fi
    fi
  done
  return 0
}

if [ -n "$missing" ]; then
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# installed by tests/peers/samba/install.sh: never start services from apt\nexit 101\n' \
      | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
  fi
  LOG=/tmp/samba-peer-install.log
  if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PKGS >"$LOG" 2>&1; then
    $SUDO apt-get update -qq >>"$LOG" 2>&1 || true
    if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PKGS >>"$LOG" 2>&1; then
      echo "install.sh: could not install Debian packages: $PKGS (see $LOG)" >&2
      exit 1
    fi
  fi
  for b in $NEEDED_BINS $NEEDED_FILES; do
    if [ ! -e "$b" ]; then
      echo "install.sh: $b still missing after installing Debian packages: $PKGS (see $LOG)" >&2
      exit 1
    fi
  done
fi

stop_system_samba
exit 0
