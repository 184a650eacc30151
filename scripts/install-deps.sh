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
  libqrencode-dev \
  sqlite3 python3 python3-cbor2 chromium fonts-noto-cjk poppler-utils >/dev/null
# The web form's browser test (tests/web): Chromium's Japanese locale, so that date fields look as on a
# Japanese PC, and curl for the requests the end-to-end tests send by hand; node and npm for playwright-core,
# Debian's unless a node is there already (a NodeSource node brings its own npm, which Debian's would conflict
# with).
$SUDO apt-get install -y -qq --no-install-recommends chromium-l10n curl >/dev/null
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
