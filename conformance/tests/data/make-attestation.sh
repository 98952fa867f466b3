#!/usr/bin/env bash
# Makes the attestation identity the in-process fido-authenticator signs with (issue 10,
# docs/conformance.md): a test CA and a FIDO packed-profile leaf (v3, C/O/OU/CN, CA=false, the
# AAGUID extension). Test-only material for a software authenticator: never a real key's.
# Run from this folder; it rewrites attestation-{ca.der,cert.der,key.raw}.
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
aaguid=$(printf %s "keyward-conform." | od -An -tx1 | tr -d " \n") # 16 bytes
openssl ecparam -name prime256v1 -genkey -noout -out "$work/ca.key"
openssl req -x509 -new -key "$work/ca.key" -days 10950 -sha256 -out "$work/ca.pem" \
  -subj "/C=ZZ/O=keyward conformance tests/CN=keyward conformance attestation CA" \
  -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign"
openssl ecparam -name prime256v1 -genkey -noout -out "$work/leaf.key"
openssl req -new -key "$work/leaf.key" -out "$work/leaf.csr" \
  -subj "/C=ZZ/O=keyward conformance tests/OU=Authenticator Attestation/CN=fido-authenticator under test"
cat > "$work/leaf.ext" <<EXT
# The AAGUID extension holds a 16-byte OCTET STRING: 04 10 <aaguid>.
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
1.3.6.1.4.1.45724.1.1.4=DER:0410${aaguid}
EXT
openssl x509 -req -in "$work/leaf.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
  -CAcreateserial -days 10950 -sha256 -extfile "$work/leaf.ext" -outform DER -out attestation-cert.der
openssl x509 -in "$work/ca.pem" -outform DER -out attestation-ca.der
# The raw 32-byte P-256 scalar, as trussed stores a key's material.
openssl ec -in "$work/leaf.key" -outform DER 2>/dev/null | head -c 39 | tail -c 32 > attestation-key.raw
test "$(stat -c %s attestation-key.raw)" = 32
