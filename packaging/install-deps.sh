#!/usr/bin/env bash
# Installs, from Debian 12's packages, whatever Outpost needs to build, test and run and is missing.
# Safe to run again: it only calls apt-get when a package is not installed yet.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake ninja-build pkg-config ccache
  # core, storage, client
  libsqlite3-dev sqlite3 nlohmann-json3-dev libsodium-dev libcli11-dev
  # sync and HQ: libcurl, Boost.Beast/Asio (HQ's HTTP server), OpenSSL, zstd, PostgreSQL (client
  # library and server)
  libcurl4-openssl-dev libboost1.81-dev libssl-dev libzstd-dev libpq-dev postgresql
  # the field client's window
  libimgui-dev libglfw3-dev libstb-dev libgl-dev libgl1-mesa-dri fonts-noto-core fonts-dejavu-core
  # tests: Catch2, and a virtual display for the GUI tests
  catch2 xvfb xauth
  # fuzzing and sanitizers: clang with libFuzzer and the sanitizer runtimes (make fuzz, make tsan)
  clang libclang-rt-14-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
