#!/usr/bin/env bash
# Makes a throwaway certificate authority for trying TLS and X.509 auth, in DIR (default
# ./pki): a CA in an X509_CERT_DIR-style directory (DIR/certificates, hashed names), a
# server certificate for 127.0.0.1 and localhost (DIR/server.pem, DIR/server.key), and for
# each NAME given a user certificate (DIR/NAME.pem, DIR/NAME.key, subject
# /DC=org/DC=example/CN=NAME) and an RFC 3820 proxy of it valid one day (DIR/x509up_NAME, as
# grid-proxy-init writes one: proxy, key, user certificate). Needs the openssl command.
#   scripts/demo-pki.sh pki alice
set -euo pipefail
dir=${1:-pki}
shift || true
command -v openssl >/dev/null || { echo "needs the openssl command (apt-get install openssl)" >&2; exit 1; }
mkdir -p "$dir/certificates"
cd "$dir"
base="/DC=org/DC=example"
if [ ! -f ca.key ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 365 \
    -subj "$base/CN=Example CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  cp ca.pem "certificates/$(openssl x509 -hash -noout -in ca.pem).0"
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > server.ext
  openssl req -new -newkey rsa:2048 -nodes -keyout server.key -subj "$base/CN=localhost" 2>/dev/null |
    openssl x509 -req -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 -extfile server.ext -out server.pem 2>/dev/null
  echo "CA in $dir/certificates, server certificate $dir/server.pem"
fi
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' > user.ext
printf 'proxyCertInfo=critical,language:id-ppl-inheritAll\nkeyUsage=critical,digitalSignature,keyEncipherment\n' > proxy.ext
for name in "$@"; do
  openssl req -new -newkey rsa:2048 -nodes -keyout "$name.key" -subj "$base/CN=$name" 2>/dev/null |
    openssl x509 -req -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 -extfile user.ext -out "$name.pem" 2>/dev/null
  chmod 600 "$name.key"
  serial=$RANDOM$RANDOM
  openssl req -new -newkey rsa:2048 -nodes -keyout proxy.key -subj "$base/CN=$name/CN=$serial" 2>/dev/null |
    openssl x509 -req -CA "$name.pem" -CAkey "$name.key" -set_serial "$serial" -days 1 -extfile proxy.ext -out proxy.pem 2>/dev/null
  cat proxy.pem proxy.key "$name.pem" > "x509up_$name"
  chmod 600 "x509up_$name"
  rm -f proxy.pem proxy.key
  echo "user $name: $dir/$name.pem (subject $base/CN=$name), proxy $dir/x509up_$name"
done
