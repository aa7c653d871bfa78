#!/usr/bin/env bash
# Starts a real WebDAV server (rclone from Debian's packages) on loopback for the tests and for
# trying WebDAV storage elements by hand:
#   scripts/webdav-server.sh DIR [PORT]   serves DIR on PORT (default 9015); prints the URL
#   scripts/webdav-server.sh --install    only installs rclone
# Installs rclone with apt-get when it is missing (needs root or sudo).
set -euo pipefail
if ! command -v rclone >/dev/null; then
  echo "installing rclone (apt-get install rclone)..." >&2
  if [ "$(id -u)" = 0 ]; then apt-get install -y rclone >&2; else sudo apt-get install -y rclone >&2; fi
fi
[ "${1:-}" = --install ] && exit 0   # only make sure rclone is there
dir=${1:?usage: scripts/webdav-server.sh DIR [PORT] | --install}
port=${2:-9015}
mkdir -p "$dir"
echo "WebDAV endpoint http://127.0.0.1:$port"
exec rclone serve webdav --addr "127.0.0.1:$port" "$dir"
