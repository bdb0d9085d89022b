#!/usr/bin/env bash
# Installs the Debian packages the lab needs when any is missing (the demo runs this first;
# CI installs the full list itself): iproute2 builds the namespaces, tcpdump and ping observe
# the VIP from the client's side, keepalived is the peer and comparator of the tests and
# benchmarks.
set -euo pipefail
missing=()
for pair in ip:iproute2 tcpdump:tcpdump ping:iputils-ping keepalived:keepalived; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
((${#missing[@]} == 0)) && exit 0
if [[ $(id -u) != 0 ]]; then
  echo "missing Debian packages: ${missing[*]} (run as root to install them)" >&2
  exit 1
fi
echo "installing ${missing[*]} ..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
