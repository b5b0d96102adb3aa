# tests/integration/tls_lib.sh — a throwaway certificate authority for the
# TLS tests, made with the openssl command line in the test's temp dir.
# Source after lib.sh.
#
#   make_ca NAME                     NAME.key, NAME.pem: a self-signed CA
#   make_cert CA NAME CN [SAN] [PASS]
#                                    NAME.key, NAME.pem signed by CA, with
#                                    subjectAltName SAN (e.g. IP:127.0.0.1)
#                                    and the key encrypted with PASS if given
#   start_tls_proxy NAME PORT CERT [CLIENT_CA [PROXY_OPTIONS...]]
#                                    kafka_tls_proxy.py in front of
#                                    $BOOTSTRAP on PORT (0: ephemeral); sets
#                                    PROXY_PID, PROXY_PORT, PROXY_LOG
#
# EC P-256 keys: quick to make on a loaded machine.

command -v openssl >/dev/null || fail "openssl is not installed (contrib/deps.sh)"

make_ca() {
    local n=$1
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$PW_TMP/$n.key" -out "$PW_TMP/$n.pem" -days 2 \
        -subj "/CN=pipewatch test CA $n" 2>"$PW_TMP/openssl.err" ||
        fail "openssl could not make CA $n: $(cat "$PW_TMP/openssl.err")"
}

make_cert() {
    local ca=$1 n=$2 cn=$3 san=${4:-} pass=${5:-} keyopt=(-nodes)
    [[ -n $pass ]] && keyopt=(-passout "pass:$pass")
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "${keyopt[@]}" \
        -keyout "$PW_TMP/$n.key" -out "$PW_TMP/$n.csr" -subj "/CN=$cn" \
        2>"$PW_TMP/openssl.err" || fail "openssl could not make a key for $n"
    local ext=$PW_TMP/$n.ext
    : >"$ext"
    [[ -n $san ]] && echo "subjectAltName=$san" >"$ext"
    openssl x509 -req -in "$PW_TMP/$n.csr" -CA "$PW_TMP/$ca.pem" \
        -CAkey "$PW_TMP/$ca.key" -CAcreateserial -out "$PW_TMP/$n.pem" -days 2 \
        -extfile "$ext" 2>"$PW_TMP/openssl.err" ||
        fail "openssl could not sign $n: $(cat "$PW_TMP/openssl.err")"
}

start_tls_proxy() {
    local name=$1 port=$2 cert=$3 client_ca=${4:-} extra=()
    shift 4 2>/dev/null || shift $#
    [[ -n $client_ca ]] && extra=(--client-ca "$PW_TMP/$client_ca.pem")
    extra+=("$@")
    rm -f "$PW_TMP/$name.port"
    start_bg "$name" python3 "$PW_SOURCE_DIR/tests/integration/kafka_tls_proxy.py" \
        --upstream "$BOOTSTRAP" --cert "$PW_TMP/$cert.pem" --key "$PW_TMP/$cert.key" \
        --port "$port" --port-file "$PW_TMP/$name.port" "${extra[@]}"
    PROXY_PID=$BG_PID
    PROXY_LOG=$PW_TMP/$name.err
    wait_for_file "$PW_TMP/$name.port" 20 "$PROXY_PID" ||
        { cat "$PROXY_LOG" >&2; fail "the TLS proxy $name did not start"; }
    PROXY_PORT=$(<"$PW_TMP/$name.port")
    info "TLS proxy $name pid $PROXY_PID on 127.0.0.1:$PROXY_PORT ($cert)"
}
