#!/bin/bash
# Smoke test of the Samba AD peer: start a DC, check everything ScaiKey's
# active_directory tests rely on, then stop it and remove it (also on failure).
#   tests/peers/samba/verify.sh [--ip 127.0.0.N]
# Needs root and tests/peers/samba/install.sh. It prints "ok"/"FAIL" lines and
# exits 1 if any check fails.
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
IP="127.0.0.1"
[ "${1:-}" = "--ip" ] && IP="$2"
D="$(mktemp -d /tmp/samba-peer-verify.XXXXXX)"
rmdir "$D"
fails=0
ok()   { echo "ok   $*"; }
bad()  { echo "FAIL $*"; fails=$((fails + 1)); }
check() { local what="$1"; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
cleanup() {
  t=$(date +%s.%N)
  python3 "$HERE/samba_dc.py" stop --dir "$D" --remove >/dev/null
  echo "stop: $(python3 -c "import time;print(round(time.time()-$t,2))") s"
}
trap cleanup EXIT

INFO=$(python3 "$HERE/samba_dc.py" start --dir "$D" --ip "$IP") || { echo "start failed"; exit 1; }
echo "$INFO"
j() { python3 -c "import json,sys;print(json.loads(sys.argv[1])[sys.argv[2]])" "$INFO" "$1"; }
export LDAPTLS_CACERT="$(j ca_pem_path)"
unset LDAPNOINIT
LDAPS="$(j ldaps_url)"; LDAP="$(j ldap_url)"; BASE="$(j base_dn)"
BIND_DN="$(j bind_dn)"; BIND_PW="$(j bind_password)"; BIG="$(j big_group_dn)"
SVC=(-x -H "$LDAPS" -D "$BIND_DN" -w "$BIND_PW" -o ldif-wrap=no -LLL)
bind_rc() { ldapsearch -x -H "$1" "${@:4}" -D "$2" -w "$3" -b "" -s base 1.1 >/dev/null 2>&1; echo $?; }

check "service account binds over LDAPS" [ "$(bind_rc "$LDAPS" "$BIND_DN" "$BIND_PW")" = 0 ]
check "simple bind over plain ldap:// is refused (8, strong auth required)" \
  [ "$(bind_rc "$LDAP" "$BIND_DN" "$BIND_PW")" = 8 ]
check "StartTLS on 389 works" [ "$(bind_rc "$LDAP" "$BIND_DN" "$BIND_PW" -ZZ)" = 0 ]
check "user5 binds by UPN" [ "$(bind_rc "$LDAPS" user5@test.local 'Passw0rd-5!')" = 0 ]
U5="CN=User 5,OU=Engineering,OU=People,$BASE"
check "user5 binds by DN" [ "$(bind_rc "$LDAPS" "$U5" 'Passw0rd-5!')" = 0 ]
check "wrong password gives 49" [ "$(bind_rc "$LDAPS" user5@test.local 'wrong')" = 49 ]
check "disabled user gives 49" [ "$(bind_rc "$LDAPS" user_disabled@test.local 'Passw0rd-disabled!')" = 49 ]
check "no CA -> TLS refused" [ "$(LDAPTLS_CACERT=/etc/ssl/certs/ca-certificates.crt bind_rc "$LDAPS" "$BIND_DN" "$BIND_PW")" != 0 ]

out=$(ldapsearch "${SVC[@]}" -b "$U5" -s base objectGUID uSNChanged userAccountControl)
check "objectGUID (binary) and uSNChanged come back" \
  bash -c '[[ "$1" == *"objectGUID:: "* && "$1" == *"uSNChanged: "* ]]' _ "$out"
out=$(ldapsearch "${SVC[@]}" -b "$(j user_base_dn)" '(sAMAccountName=user_disabled)' userAccountControl)
check "user_disabled has userAccountControl 514" grep -q '^userAccountControl: 514$' <<<"$out"

n=$(ldapsearch "${SVC[@]}" -b "$BIG" -s base '(objectClass=*)' 'member;range=0-1499' | grep -c '^member;range=0-1499: ')
check "member;range=0-1499 gives 1500 values" [ "$n" = 1500 ]
n=$(ldapsearch "${SVC[@]}" -b "$BIG" -s base '(objectClass=*)' 'member;range=1500-*' | grep -c '^member;range=1500-\*: ')
check "member;range=1500-* gives the rest ($(j big_group_members) - 1500)" [ "$n" = $(( $(j big_group_members) - 1500 )) ]
n=$(ldapsearch "${SVC[@]}" -b "$BIG" -s base '(objectClass=*)' member | grep -c '^member: ')
echo "note plain 'member' returns $n values (Samba does not force ranging like Windows AD)"

out=$(ldapsearch "${SVC[@]}" -b "$(j group_base_dn)" '(objectClass=group)' member)
check "Staff contains Engineering" grep -q "^member: CN=Engineering,OU=Groups,$BASE" <<<"$out"
check "Engineering contains Platform" grep -q "^member: CN=Platform,OU=Groups,$BASE" <<<"$out"
n=$(ldapsearch "${SVC[@]}" -b "$(j user_base_dn)" "(memberOf:1.2.840.113556.1.4.1941:=CN=Staff,OU=Groups,$BASE)" 1.1 | grep -c '^dn:')
check "transitive members of Staff (IN_CHAIN) = 9" [ "$n" = 9 ]

X=$(python3 "$HERE/samba_dc.py" usn --dir "$D" | python3 -c 'import json,sys;print(json.load(sys.stdin)["highestCommittedUSN"])')
PW=$(python3 -c 'import base64;print(base64.b64encode("\"Passw0rd-new!\"".encode("utf-16-le")).decode())')
res=$(python3 "$HERE/samba_dc.py" modify --dir "$D" <<EOF
dn: CN=New Hire,OU=Sales,OU=People,$BASE
changetype: add
objectClass: user
sAMAccountName: newhire
userPrincipalName: newhire@test.local
unicodePwd:: $PW
userAccountControl: 512

dn: CN=User 3,OU=Finance,OU=People,$BASE
changetype: modify
replace: title
title: Chief Bean Counter

dn: CN=User 4,OU=Support,OU=People,$BASE
changetype: modify
replace: userAccountControl
userAccountControl: 514

dn: CN=User 7,OU=Finance,OU=People,$BASE
changetype: delete
EOF
)
check "modify (add, title, disable, delete) -> {\"ok\": true}" [ "$res" = '{"ok": true}' ]
check "new user binds with its password" [ "$(bind_rc "$LDAPS" newhire@test.local 'Passw0rd-new!')" = 0 ]
got=$(ldapsearch "${SVC[@]}" -b "$BASE" "(uSNChanged>=$((X + 1)))" 1.1 | grep '^dn:' | sort | tr '\n' '|')
want="dn: CN=New Hire,OU=Sales,OU=People,$BASE|dn: CN=User 3,OU=Finance,OU=People,$BASE|dn: CN=User 4,OU=Support,OU=People,$BASE|"
check "(uSNChanged>=X) returns exactly the 3 live changed entries" [ "$got" = "$want" ]
out=$(ldapsearch "${SVC[@]}" -E '!1.2.840.113556.1.4.417' -b "$(j deleted_objects_dn)" \
  "(&(isDeleted=TRUE)(uSNChanged>=$((X + 1))))" objectGUID sAMAccountName lastKnownParent)
check "service account sees the tombstone of user7 with its objectGUID (Show Deleted)" \
  bash -c '[[ "$1" == *"sAMAccountName: user7"* && "$1" == *"objectGUID:: "* ]]' _ "$out"
res=$(printf 'dn: CN=Nope,%s\nchangetype: delete\n' "$BASE" | python3 "$HERE/samba_dc.py" modify --dir "$D")
check "failed modify -> ok false" grep -q '"ok": false' <<<"$res"

check "openssl s_client verifies the chain and IP SAN" bash -c \
  "echo | openssl s_client -CAfile '$LDAPTLS_CACERT' -verify_return_error -verify_ip '$IP' -connect '$IP:636' >/dev/null 2>&1"
check "openssl s_client without the CA fails" bash -c \
  "! (echo | openssl s_client -verify_return_error -connect '$IP:636' >/dev/null 2>&1)"

[ "$fails" = 0 ] && echo "ALL OK" || echo "$fails FAILED"
[ "$fails" = 0 ]
