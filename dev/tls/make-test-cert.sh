#!/bin/sh
# Makes the loopback test CA and server certificate in this folder (see README.md). Test-only:
# the keys are committed on purpose, and nothing outside the tests trusts them.
set -eu
cd "$(dirname "$0")"
days=7305 # 20 years

openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$days" \
  -subj "/CN=gpu-chargeback loopback test CA" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout ca-key.pem -out ca.pem

openssl req -newkey rsa:2048 -nodes -sha256 \
  -subj "/CN=localhost" \
  -keyout server-key.pem -out server.csr

printf '%s\n' \
  "basicConstraints=critical,CA:FALSE" \
  "keyUsage=critical,digitalSignature,keyEncipherment" \
  "extendedKeyUsage=serverAuth" \
  "subjectAltName=IP:127.0.0.1,DNS:localhost" > server.ext

openssl x509 -req -sha256 -days "$days" -in server.csr -CA ca.pem -CAkey ca-key.pem \
  -CAcreateserial -extfile server.ext -out server.pem

# The CA's key signs nothing else: dropping it means no one can mint another certificate this CA vouches for.
rm -f ca-key.pem ca.srl server.csr server.ext
