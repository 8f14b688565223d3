#!/bin/sh
# Generate a throw-away CA and a server certificate for localhost,
# 127.0.0.1, ::1 and alerts.example.org (the host name in
# scripts/nginx/twitch-webhookd.conf) into DIR (default ./certs): ca.pem, ca.key,
# server.pem, server.key, and bundle.pem (server cert + CA).
# Tests trust ca.pem through SSL_CERT_FILE, so TLS is really verified.
set -eu
dir=${1:-certs}
mkdir -p "$dir"
cd "$dir"
[ -s server.pem ] && [ -s ca.pem ] && exit 0
umask 077
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -sha256 \
	-subj "/CN=servitor test CA" -keyout ca.key -out ca.pem \
	-addext basicConstraints=critical,CA:TRUE \
	-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=localhost" \
	-keyout server.key -out server.csr 2>/dev/null
cat >server.ext <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:localhost,DNS:alerts.example.org,IP:127.0.0.1,IP:::1
EXT
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key \
	-CAcreateserial -days 2 -sha256 -extfile server.ext \
	-out server.pem 2>/dev/null
cat server.pem ca.pem >bundle.pem
chmod 0644 ca.pem server.pem bundle.pem
rm -f server.csr server.ext ca.srl
echo "$dir"
