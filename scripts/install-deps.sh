#!/usr/bin/env bash
# install-deps.sh: installs what kiroku needs to build and test, from Debian 12's packages.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  build-essential cmake ninja-build pkg-config ca-certificates openssl \
  libsqlite3-dev libcbor-dev libmbedtls-dev libcurl4-openssl-dev libhttp-parser-dev libinih-dev libcmocka-dev \
  sqlite3 python3 python3-cbor2 chromium fonts-noto-cjk poppler-utils >/dev/null
