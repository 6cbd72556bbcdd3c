#!/usr/bin/env bash
# DEVELOPMENT PKI ONLY. NEVER PRODUCTION KEYS.
#
# Generates, into certs/dev/, the CA hierarchies, enterprise certificates, private keys and CRLs the
# certificate-login tests use. Every private key written here is public (it is committed): nothing
# signed by these keys may ever be trusted outside tests.
#
# Requires OpenSSL 3 (for `openssl ca -crl_lastupdate/-crl_nextupdate` and SM2/SM3).
# Re-running replaces certs/dev/ entirely (keys and serials change, so commit the result with the
# tests that use it).
set -euo pipefail

cd "$(dirname "$0")"
OUT="$PWD/dev"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# Fixed validity windows, so the output does not depend on the day the script runs.
VALID_FROM=20250101000000Z
VALID_TO=20450101000000Z
EXPIRED_FROM=20200101000000Z
EXPIRED_TO=20210101000000Z
CRL_LAST=20250101000000Z
CRL_NEXT=20450101000000Z
STALE_CRL_LAST=20240101000000Z
STALE_CRL_NEXT=20240201000000Z
# Tests rewrite this base to their local CRL server (config `crl_url_rewrite`).
CRL_BASE="http://127.0.0.1:18080/crl"

rm -rf "$OUT"
mkdir -p "$OUT"

# key <name> <rsa|p256|p384|sm2>: PKCS#8 PEM key in $OUT/<name>.key.pem (+ DER PKCS#8 .key.der).
key() {
    local name="$1" kind="$2"
    case "$kind" in
        rsa) openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$OUT/$name.key.pem" ;;
        p256) openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
                  -pkeyopt ec_param_enc:named_curve -out "$OUT/$name.key.pem" ;;
        p384) openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-384 \
                  -pkeyopt ec_param_enc:named_curve -out "$OUT/$name.key.pem" ;;
        sm2) openssl genpkey -quiet -algorithm SM2 -out "$OUT/$name.key.pem" ;;
        *) echo "unknown key kind $kind" >&2; exit 1 ;;
    esac
    # `openssl pkey -outform DER` would write the traditional format; ring and sm2 take PKCS#8.
    openssl pkcs8 -topk8 -nocrypt -in "$OUT/$name.key.pem" -outform DER -out "$OUT/$name.key.der"
}

# Signing options per signer key kind: SM2 signs with SM3 and the GM/T 0009 default ID.
sign_opts() {
    case "$1" in
        sm2) echo "-md sm3 -sigopt distid:1234567812345678 -vfyopt distid:1234567812345678" ;;
        p384) echo "-md sha384" ;;
        *) echo "-md sha256" ;;
    esac
}
req_opts() {
    case "$1" in
        sm2) echo "-sm3 -sigopt distid:1234567812345678" ;;
        *) echo "-sha256" ;;
    esac
}

# ca_dir <ca>: the `openssl ca` state (index, serial) of one CA.
ca_init() {
    local ca="$1"
    mkdir -p "$WORK/$ca/new"
    : > "$WORK/$ca/index.txt"
    openssl rand -hex 16 > "$WORK/$ca/serial"
    echo 1000 > "$WORK/$ca/crlnumber"
    cat > "$WORK/$ca/ca.cnf" <<EOF
[ca]
default_ca = this
[this]
dir = $WORK/$ca
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
crlnumber = \$dir/crlnumber
certificate = $OUT/$ca.pem
private_key = $OUT/$ca.key.pem
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
copy_extensions = none
default_crl_days = 3650
crl_extensions = crl_ext
[policy_any]
commonName = optional
[crl_ext]
authorityKeyIdentifier = keyid:always
EOF
}

# sign <issuer-ca> <issuer-kind> <name> <subject-kind> <subject> <extensions> [startdate enddate] [selfsign]
# Issues $OUT/<name>.pem from a fresh key, with the given extension section text.
sign() {
    local issuer="$1" issuer_kind="$2" name="$3" kind="$4" subject="$5" ext="$6"
    local from="${7:-$VALID_FROM}" to="${8:-$VALID_TO}" selfsign="${9:-}"
    key "$name" "$kind"
    # shellcheck disable=SC2046
    openssl req -new -utf8 -key "$OUT/$name.key.pem" -subj "$subject" $(req_opts "$kind") \
        -out "$WORK/$name.csr"
    printf '[ext]\n%s\n' "$ext" > "$WORK/$name.ext"
    local extra=()
    if [ -n "$selfsign" ]; then
        extra=(-selfsign -keyfile "$OUT/$name.key.pem")
    fi
    # shellcheck disable=SC2046
    openssl ca -batch -notext -utf8 -preserveDN -config "$WORK/$issuer/ca.cnf" \
        -in "$WORK/$name.csr" -out "$OUT/$name.pem" -extfile "$WORK/$name.ext" -extensions ext \
        -startdate "$from" -enddate "$to" $(sign_opts "$issuer_kind") "${extra[@]}" 2> "$WORK/$name.log" \
        || { cat "$WORK/$name.log" >&2; exit 1; }
    openssl x509 -in "$OUT/$name.pem" -outform DER -out "$OUT/$name.der"
}

# root <name> <kind> <subject>: a self-signed root CA.
root() {
    local name="$1" kind="$2" subject="$3"
    ca_init "$name"
    # The CA config names $OUT/<name>.pem as its certificate; -selfsign only needs the key.
    sign "$name" "$kind" "$name" "$kind" "$subject" \
        "basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash" "$VALID_FROM" "$VALID_TO" selfsign
}

# crl <ca> <kind> <out-name> <lastupdate> <nextupdate>: PEM and DER CRLs of the CA's revocations.
crl() {
    local ca="$1" kind="$2" name="$3" last="$4" next="$5"
    # shellcheck disable=SC2046
    openssl ca -batch -gencrl -config "$WORK/$ca/ca.cnf" -out "$OUT/$name.crl.pem" \
        -crl_lastupdate "$last" -crl_nextupdate "$next" $(sign_opts "$kind") 2> "$WORK/$name.crl.log" \
        || { cat "$WORK/$name.crl.log" >&2; exit 1; }
    openssl crl -in "$OUT/$name.crl.pem" -outform DER -out "$OUT/$name.crl"
}

CA_EXT="keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always"

# leaf_ext <crl-name> <extra lines>: an enterprise end-entity certificate's extensions.
leaf_ext() {
    printf '%s\n%s\n%s' "basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints = URI:$CRL_BASE/$1.crl" "${2:-}" ""
}

# ---- The trusted RSA hierarchy: root -> intermediate (pathlen 0) -> enterprises ----
root root-ca rsa "/C=CN/O=Fingertip DEV ONLY/CN=Fingertip DEV Root CA (never production)"
sign root-ca rsa intermediate-ca rsa "/C=CN/O=Fingertip DEV ONLY/CN=Fingertip DEV Enterprise CA (never production)" \
    "basicConstraints = critical, CA:TRUE, pathlen:0
$CA_EXT
crlDistributionPoints = URI:$CRL_BASE/root.crl"
ca_init intermediate-ca

# 1. RSA-2048, CFCA-style CN, clientAuth EKU and a certificate policy.
sign intermediate-ca rsa enterprise-rsa-cfca rsa \
    "/C=CN/O=深圳市指尖测试科技有限公司/CN=041@N91440300MA5F3K7Q81@深圳市指尖测试科技有限公司@00000001" \
    "$(leaf_ext intermediate 'extendedKeyUsage = clientAuth
certificatePolicies = 1.2.156.112554.1.1')"

# 2. ECDSA P-256, USCC in the GM/T 0015 extension .4 (PrintableString) and in subject serialNumber.
sign intermediate-ca rsa enterprise-p256-gmt p256 \
    "/C=CN/O=北京指尖测试有限公司/serialNumber=91110108MA01T6X294/CN=北京指尖测试有限公司" \
    "$(leaf_ext intermediate 'extendedKeyUsage = clientAuth
1.2.156.10260.4.1.4 = ASN1:PRINTABLESTRING:91110108MA01T6X294')"

# 3. ECDSA P-384, USCC in subject OU only.
sign intermediate-ca rsa enterprise-p384-ou p384 \
    "/C=CN/O=上海指尖测试有限公司/OU=91310115MA1H8W3R5G/CN=上海指尖测试有限公司" \
    "$(leaf_ext intermediate 'extendedKeyUsage = clientAuth')"

# 4. RSA-2048, legacy 9-character organisation code (with hyphen) in 1.2.86.11.7.1 (UTF8String), no EKU.
sign intermediate-ca rsa enterprise-rsa-legacy rsa \
    "/C=CN/O=老代码测试有限公司/CN=老代码测试有限公司" \
    "$(leaf_ext intermediate '1.2.86.11.7.1 = ASN1:UTF8String:MA5D1234-0')"

# 5. Revoked (listed in the intermediate's CRL).
sign intermediate-ca rsa enterprise-revoked rsa \
    "/C=CN/O=苏州已吊销测试有限公司/CN=041@N91320500MA1N9C4D3M@苏州已吊销测试有限公司@00000001" \
    "$(leaf_ext intermediate 'extendedKeyUsage = clientAuth')"
openssl ca -batch -config "$WORK/intermediate-ca/ca.cnf" -revoke "$OUT/enterprise-revoked.pem" \
    -crl_reason keyCompromise 2> "$WORK/revoke.log" || { cat "$WORK/revoke.log" >&2; exit 1; }

# 6. Expired (2020-2021).
sign intermediate-ca rsa enterprise-expired p256 \
    "/C=CN/O=成都已过期测试有限公司/serialNumber=91510100MA6C5B2E3Y/CN=成都已过期测试有限公司" \
    "$(leaf_ext intermediate)" "$EXPIRED_FROM" "$EXPIRED_TO"

# 7. A check digit that fails: the standard's worked example (expected check 3).
sign intermediate-ca rsa enterprise-bad-code rsa \
    "/C=CN/O=福州校验位测试/CN=041@N91350100M000100Y4Z@福州校验位测试@00000001" \
    "$(leaf_ext intermediate)"

# 8. No enterprise code anywhere.
sign intermediate-ca rsa enterprise-no-code p256 \
    "/C=CN/O=无代码测试有限公司/CN=无代码测试有限公司" "$(leaf_ext intermediate)"

# 9. keyUsage without digitalSignature.
sign intermediate-ca rsa enterprise-no-digital-signature p256 \
    "/C=CN/O=密钥用途测试有限公司/serialNumber=91370200MA3C2D1F92/CN=密钥用途测试有限公司" \
    "basicConstraints = critical, CA:FALSE
keyUsage = critical, keyEncipherment
crlDistributionPoints = URI:$CRL_BASE/intermediate.crl"

# 10. A CA under the pathlen:0 intermediate, and a leaf under it (path length exceeded).
sign intermediate-ca rsa sub-ca p256 "/C=CN/O=Fingertip DEV ONLY/CN=Fingertip DEV Sub CA beyond pathlen (never production)" \
    "basicConstraints = critical, CA:TRUE
$CA_EXT
crlDistributionPoints = URI:$CRL_BASE/intermediate.crl"
ca_init sub-ca
sign sub-ca p256 enterprise-path-too-long p256 \
    "/C=CN/O=路径长度测试有限公司/serialNumber=91370200MA3C2D1F92/CN=路径长度测试有限公司" \
    "$(leaf_ext sub)"

# 11. An "intermediate" without CA basicConstraints, and a leaf under it.
sign root-ca rsa not-a-ca rsa "/C=CN/O=Fingertip DEV ONLY/CN=Fingertip DEV Not A CA (never production)" \
    "basicConstraints = critical, CA:FALSE
$CA_EXT
crlDistributionPoints = URI:$CRL_BASE/root.crl"
ca_init not-a-ca
sign not-a-ca rsa enterprise-under-not-a-ca p256 \
    "/C=CN/O=非CA签发测试有限公司/serialNumber=91370200MA3C2D1F92/CN=非CA签发测试有限公司" \
    "$(leaf_ext not-a-ca)"

# 12. A TLS server certificate for 127.0.0.1/localhost (the mTLS test's server side).
sign intermediate-ca rsa server-localhost rsa "/C=CN/O=Fingertip DEV ONLY/CN=localhost" \
    "basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
crlDistributionPoints = URI:$CRL_BASE/intermediate.crl"
cat "$OUT/server-localhost.pem" "$OUT/intermediate-ca.pem" > "$OUT/server-localhost.chain.pem"

crl root-ca rsa root "$CRL_LAST" "$CRL_NEXT"
crl intermediate-ca rsa intermediate "$CRL_LAST" "$CRL_NEXT"
crl intermediate-ca rsa intermediate-stale "$STALE_CRL_LAST" "$STALE_CRL_NEXT"
crl sub-ca p256 sub "$CRL_LAST" "$CRL_NEXT"
crl not-a-ca rsa not-a-ca "$CRL_LAST" "$CRL_NEXT"

# ---- An untrusted ("wrong") root with its own enterprise certificate ----
root wrong-root-ca rsa "/C=CN/O=Somebody Else DEV ONLY/CN=Untrusted DEV Root CA (never production)"
sign wrong-root-ca rsa enterprise-wrong-root p256 \
    "/C=CN/O=武汉错误根测试有限公司/serialNumber=91420100MA4K7P3H7D/CN=武汉错误根测试有限公司" \
    "$(leaf_ext wrong-root)"

# ---- An SM2/SM3 hierarchy: SM2 root -> SM2 intermediate -> SM2 enterprise ----
root sm2-root-ca sm2 "/C=CN/O=Fingertip DEV ONLY/CN=Fingertip DEV SM2 Root CA (never production)"
sign sm2-root-ca sm2 sm2-intermediate-ca sm2 "/C=CN/O=Fingertip DEV ONLY/CN=Fingertip DEV SM2 Enterprise CA (never production)" \
    "basicConstraints = critical, CA:TRUE, pathlen:0
$CA_EXT
crlDistributionPoints = URI:$CRL_BASE/sm2-root.crl"
ca_init sm2-intermediate-ca
sign sm2-intermediate-ca sm2 enterprise-sm2 sm2 \
    "/C=CN/O=杭州国密测试有限公司/serialNumber=91330106MA27Y8JK99/CN=杭州国密测试有限公司" \
    "$(leaf_ext sm2-intermediate 'extendedKeyUsage = clientAuth')"
crl sm2-root-ca sm2 sm2-root "$CRL_LAST" "$CRL_NEXT"
crl sm2-intermediate-ca sm2 sm2-intermediate "$CRL_LAST" "$CRL_NEXT"

# Chain files as a client would send them (leaf first, then intermediates), for TLS client identities.
for leaf in enterprise-rsa-cfca enterprise-p256-gmt enterprise-p384-ou enterprise-revoked; do
    cat "$OUT/$leaf.pem" "$OUT/intermediate-ca.pem" > "$OUT/$leaf.chain.pem"
done

cat "$OUT/enterprise-wrong-root.pem" "$OUT/wrong-root-ca.pem" > "$OUT/enterprise-wrong-root.chain.pem"

rm -f "$OUT"/*.srl
echo "DEVELOPMENT PKI ONLY - NEVER PRODUCTION KEYS. Generated by certs/make-dev-pki.sh." > "$OUT/NEVER-PRODUCTION-KEYS.txt"
echo "wrote $OUT"
