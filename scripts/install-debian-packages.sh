#!/usr/bin/env bash
# Installs the Debian packages mailfleet runs on (and tests against) without starting any system service.
# Usage: scripts/install-debian-packages.sh [--with-anchors]
set -euo pipefail

RUNTIME_PACKAGES=(
  postfix postfix-ldap
  dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd dovecot-ldap dovecot-sieve
  slapd ldap-utils
  redis-server
  rspamd clamav-daemon clamav-freshclam
  victoria-metrics prometheus-alertmanager
  util-linux procps ca-certificates
  openssl
)
TEST_PACKAGES=(sudo swaks prometheus unbound bind9-dnsutils pebble clamav clamav-testfiles python3-dkim)
ANCHOR_PACKAGES=(prometheus-postfix-exporter postfwd policyd-rate-limit)

packages=("${RUNTIME_PACKAGES[@]}")
for arg in "$@"; do
  case "$arg" in
    --with-tests) packages+=("${TEST_PACKAGES[@]}") ;;
    --with-anchors) packages+=("${ANCHOR_PACKAGES[@]}") ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" -ne 0 ]; then
  echo "mailfleet: installing Debian packages needs root (run with sudo)" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "mailfleet: installing ${missing[*]}" >&2
# Keep package scripts from starting system services: mailfleet runs every daemon itself.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod 755 "$policy"
  created_policy=1
fi
trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT

debconf-set-selections <<'SEL'
postfix postfix/main_mailer_type select No configuration
slapd slapd/no_configuration boolean true
SEL
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
