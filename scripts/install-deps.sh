#!/usr/bin/env bash
# Installs the Debian packages `npm run demo` needs when any is missing (CI installs the tests'
# full list itself): iproute2 builds the lab's namespaces, tcpdump and ping watch the VIP from
# the client's side, curl fetches a page through it.
set -euo pipefail
missing=()
for pair in ip:iproute2 tcpdump:tcpdump ping:iputils-ping curl:curl; do
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
