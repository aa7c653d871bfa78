#!/usr/bin/env bash
# Installs what the build needs beyond Rust and a C compiler: OpenSSL's headers and
# pkg-config (TLS, X.509 and proxy certificates use the system OpenSSL), from Debian's
# packages, only when they are missing.
set -euo pipefail
if pkg-config --exists openssl 2>/dev/null; then
  exit 0
fi
echo "installing OpenSSL headers and pkg-config (apt-get install libssl-dev pkg-config)..." >&2
if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
$sudo apt-get update -qq
$sudo apt-get install -y -qq libssl-dev pkg-config
