#!/usr/bin/env bash
# Installs every Debian package vl3 needs to build, test and run. Idempotent: re-running is cheap.
# Recommended packages are kept on purpose: libtorch only *recommends* OpenBLAS, and without it
# libtorch falls back to the reference BLAS (60x slower). libopenblas0-pthread is also named explicitly.
set -euo pipefail

PKGS=(
  liblzma-dev
  build-essential cmake ninja-build pkg-config xz-utils ca-certificates
  libtorch-dev libopenblas0-pthread libopenblas-dev libgloo-dev libdnnl-dev
  libavformat-dev libavcodec-dev libavfilter-dev libswscale-dev libavutil-dev ffmpeg
  libpcre2-dev libutf8proc-dev nlohmann-json3-dev libcli11-dev libcpp-httplib-dev
  libgtest-dev libgmock-dev libbenchmark-dev clang
  libpng-dev libjpeg62-turbo-dev libwebp-dev
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup: all ${#PKGS[@]} packages already installed"
  exit 0
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
echo "setup: done"
