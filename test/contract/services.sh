#!/usr/bin/env bash
# Contract-test services on loopback: PostgreSQL (MLflow backend store), moto (S3 emulator for the
# artifact store) and a Python venv with the pinned MLflow server/client.
#
#   test/contract/services.sh          start (idempotent; a second run only checks and reuses)
#   test/contract/services.sh stop     stop PostgreSQL and moto (state and venv are kept)
#   test/contract/services.sh status   print env.json if everything answers, else exit 1
#
# Everything lives under $ROOT/.contract/ (git-ignored). Endpoints are written to
# $ROOT/.contract/env.json, which test/contract/mlflow.contract.spec.ts reads.
# Ports can be moved with CONTRACT_PG_PORT / CONTRACT_S3_PORT.
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="$ROOT/.contract"
VENV="$STATE/venv"
set_pg_dir() {
    PG_DIR="$1"
    PG_DATA="$PG_DIR/data"
    PG_SOCK="$PG_DIR/run"
    PG_LOG="$PG_DIR/postgres.log"
}
# Follow the link left by an earlier run that had to place the cluster elsewhere.
set_pg_dir "$(readlink -f "$STATE/pg" 2>/dev/null || echo "$STATE/pg")"
PG_PORT="${CONTRACT_PG_PORT:-55432}"
PG_DB=mlflow
PG_USER=mlflow
S3_PORT="${CONTRACT_S3_PORT:-55900}"
S3_BUCKET="${CONTRACT_S3_BUCKET:-mlops-contract-artifacts}"
S3_REGION=us-east-1
MOTO_PID="$STATE/moto.pid"
MOTO_LOG="$STATE/moto.log"
REQS="$ROOT/test/contract/requirements.txt"
VERSIONS="$ROOT/components/python-packages.json"
# Newest MLflow 3.x that installs on Python 3.11 from PyPI here (3.18.0's mlflow-skinny is not
# installable for 3.11); only used when components/python-packages.json does not exist yet.
DEFAULT_MLFLOW_VERSION=3.17.2

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }
trap 'die "failed at line $LINENO: $BASH_COMMAND"' ERR

APT_UPDATED=0
apt_install() {
    command -v apt-get >/dev/null || die "need to install $* but apt-get is not available"
    [ "$(id -u)" = 0 ] || die "need to install $* (apt-get) but not running as root"
    export DEBIAN_FRONTEND=noninteractive
    if [ "$APT_UPDATED" = 0 ]; then
        log "apt-get update"
        apt-get update -qq || die "apt-get update failed"
        APT_UPDATED=1
    fi
    log "apt-get install -y $*"
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null || die "apt-get install $* failed"
}

# ---------------------------------------------------------------- PostgreSQL

pg_bindir() {
    local d
    d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [ -n "$d" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return; fi
    if command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
        dirname "$(command -v pg_ctl)"; return
    fi
    return 1
}

# Runs a command as the OS user that owns the cluster: postgres refuses to run as root.
as_pg() {
    if [ "$(id -u)" = 0 ]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

ensure_postgres_installed() {
    if ! PG_BIN="$(pg_bindir)"; then
        apt_install postgresql
        PG_BIN="$(pg_bindir)" || die "PostgreSQL installed but pg_ctl/initdb not found under /usr/lib/postgresql"
    fi
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' OS user to run the server as"
        if ! runuser -u postgres -- test -x "$STATE"; then
            # e.g. a checkout under /root: the server (user postgres) cannot reach $STATE, so the
            # cluster lives in postgres' home, one per checkout; $STATE/pg links to it.
            local home
            home="$(getent passwd postgres | cut -d: -f6)"
            [ -n "$home" ] && [ -d "$home" ] || die "postgres cannot reach $STATE and has no home directory"
            set_pg_dir "$home/mlops-contract-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
            mkdir -p "$PG_DIR"
            ln -sfn "$PG_DIR" "$STATE/pg"
            log "postgres cannot reach $STATE; cluster in $PG_DIR (linked from $STATE/pg)"
        fi
    fi
}

pg_running() {
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1
}

psql_super() {
    as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U postgres -d postgres "$@"
}

start_postgres() {
    ensure_postgres_installed
    mkdir -p "$PG_DIR"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$PG_DIR"; fi
    chmod 700 "$PG_DIR"
    if [ ! -s "$PG_DATA/PG_VERSION" ]; then
        log "initdb $PG_DATA"
        rm -rf "$PG_DATA"
        # Local socket: trust, but the socket directory is private to the cluster owner.
        # TCP (127.0.0.1 only): password (scram-sha-256), as the MLflow server will use.
        as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
            --auth-local=trust --auth-host=scram-sha-256 >"$PG_DIR/initdb.log" 2>&1 ||
            { cat "$PG_DIR/initdb.log" >&2; die "initdb failed"; }
    fi
    as_pg mkdir -p "$PG_SOCK"
    as_pg chmod 700 "$PG_SOCK"
    # TLS as on RDS: a private CA (the stand-in for the RDS CA bundle) signs the server certificate
    # for 127.0.0.1/localhost, so clients connect with sslmode=verify-full against $PG_DIR/ca.crt.
    if [ ! -s "$PG_DIR/ca.crt" ] || [ ! -s "$PG_DIR/server.key" ] || [ ! -s "$PG_DIR/server.crt" ]; then
        command -v openssl >/dev/null || apt_install openssl
        as_pg sh -c '
            set -e
            cd "$1"
            openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=mlops contract test CA" \
                -keyout ca.key -out ca.crt
            openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server.key -out server.csr
            printf "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n" >server.ext
            openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
                -extfile server.ext -out server.crt
            chmod 600 server.key ca.key
            chmod 644 ca.crt
            rm -f server.csr server.ext
        ' sh "$PG_DIR" >/dev/null 2>&1 || die "openssl could not create the PostgreSQL CA and server certificate"
        if pg_running; then
            as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null || die "pg_ctl stop (new certificate) failed"
        fi
    fi
    if pg_running; then
        log "PostgreSQL already running ($PG_DATA)"
    else
        log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
        if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=$PG_SOCK -c unix_socket_permissions=0700 -c fsync=off -c ssl=on -c ssl_cert_file=$PG_DIR/server.crt -c ssl_key_file=$PG_DIR/server.key" \
            start >/dev/null; then
            tail -n 20 "$PG_LOG" >&2 || true
            die "PostgreSQL did not start on 127.0.0.1:$PG_PORT (log: $PG_LOG)"
        fi
    fi
    local i
    for i in $(seq 1 30); do
        as_pg "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break
        [ "$i" = 30 ] && die "PostgreSQL not accepting connections on 127.0.0.1:$PG_PORT after 30s (log: $PG_LOG)"
        sleep 1
    done

    if [ ! -s "$PG_DIR/password" ]; then
        (umask 077; od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$PG_DIR/password")
    fi
    PG_PASSWORD="$(cat "$PG_DIR/password")"
    # The stand-in for the RDS master user: not a superuser, CREATEDB (the contract spec creates a
    # fresh, empty database per run) and CREATEROLE (the bootstrap creates MLflow's own role), as
    # the RDS master user has.
    psql_super -v pw="$PG_PASSWORD" <<'SQL' >/dev/null
SELECT format('CREATE ROLE mlflow LOGIN CREATEDB CREATEROLE PASSWORD %L', :'pw')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mlflow') \gexec
SELECT format('ALTER ROLE mlflow LOGIN CREATEDB CREATEROLE PASSWORD %L', :'pw') \gexec
-- RDS's master user may read every session's statistics (rds_superuser); specs check who connects.
GRANT pg_read_all_stats TO mlflow;
SELECT 'CREATE DATABASE mlflow OWNER mlflow'
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'mlflow') \gexec
SQL
}

stop_postgres() {
    if PG_BIN="$(pg_bindir)" && [ -s "$PG_DATA/PG_VERSION" ] && pg_running; then
        log "stopping PostgreSQL"
        as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null || die "pg_ctl stop failed"
    fi
}

# ---------------------------------------------------------------- Python venv

mlflow_version() {
    if [ ! -f "$VERSIONS" ]; then
        log "creating $VERSIONS with mlflow $DEFAULT_MLFLOW_VERSION"
        mkdir -p "$(dirname "$VERSIONS")"
        printf '{\n    "mlflow": "%s"\n}\n' "$DEFAULT_MLFLOW_VERSION" >"$VERSIONS"
    fi
    python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))["mlflow"]; assert isinstance(v,str) and v; print(v)' \
        "$VERSIONS" 2>/dev/null || die "$VERSIONS has no string key \"mlflow\""
}

ensure_venv() {
    command -v python3 >/dev/null || die "python3 not found"
    local version stamp want
    version="$(mlflow_version)"
    # [auth]: the basic-auth app's extra (Flask-WTF), as the image installs it (images/mlflow/requirements.txt).
    want="mlflow[auth]==$version $(sha256sum "$REQS" | cut -d' ' -f1) $(python3 -c 'import sys; print(sys.version.split()[0])')"
    stamp="$VENV/.contract-installed"
    if [ -x "$VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        log "venv up to date (mlflow $version)"
        return
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating venv $VENV"
        if ! python3 -m venv "$VENV" 2>/dev/null; then
            rm -rf "$VENV"
            # Debian's python3 ships venv/ensurepip separately.
            apt_install python3-venv
            python3 -m venv "$VENV" || die "python3 -m venv failed"
        fi
    fi
    log "pip install mlflow[auth]==$version -r test/contract/requirements.txt (first run takes ~1-2 min)"
    "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q --retries 5 --timeout 60 \
        "mlflow[auth]==$version" -r "$REQS" || die "pip install into $VENV failed"
    "$VENV/bin/mlflow" --version >/dev/null || die "mlflow CLI not runnable from $VENV"
    echo "$want" >"$stamp"
}

# ---------------------------------------------------------------- moto (S3)

s3_ready() {
    "$VENV/bin/python" - "$S3_PORT" <<'PY' >/dev/null 2>&1
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=2).read()
PY
}

moto_pid_alive() {
    [ -s "$MOTO_PID" ] || return 1
    local pid
    pid="$(cat "$MOTO_PID")"
    [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q moto_server
}

start_moto() {
    if moto_pid_alive && s3_ready; then
        log "moto already running on 127.0.0.1:$S3_PORT"
    else
        if s3_ready; then
            die "port $S3_PORT answers but is not our moto (pid file $MOTO_PID); set CONTRACT_S3_PORT"
        fi
        log "starting moto S3 on 127.0.0.1:$S3_PORT"
        setsid nohup "$VENV/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" >"$MOTO_LOG" 2>&1 </dev/null &
        echo $! >"$MOTO_PID"
        local i
        for i in $(seq 1 60); do
            s3_ready && break
            if ! moto_pid_alive; then tail -n 20 "$MOTO_LOG" >&2 || true; die "moto exited (log: $MOTO_LOG)"; fi
            [ "$i" = 60 ] && die "moto not answering on 127.0.0.1:$S3_PORT after 30s (log: $MOTO_LOG)"
            sleep 0.5
        done
    fi
    # moto keeps state in memory: (re)create the bucket on every start.
    AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "$VENV/bin/python" - \
        "http://127.0.0.1:$S3_PORT" "$S3_BUCKET" "$S3_REGION" <<'PY' || die "could not create bucket $S3_BUCKET"
import sys, boto3
endpoint, bucket, region = sys.argv[1:4]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name=region)
if bucket not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
    s3.create_bucket(Bucket=bucket)
PY
}

stop_moto() {
    if moto_pid_alive; then
        local pid
        pid="$(cat "$MOTO_PID")"
        log "stopping moto (pid $pid)"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$MOTO_PID"
}

# ---------------------------------------------------------------- env.json

write_env_json() {
    "$VENV/bin/python" - "$STATE/env.json" <<PY
import json, sys
env = {
    "mlflowVersion": "$(mlflow_version)",
    "postgres": {
        "host": "127.0.0.1",
        "port": $PG_PORT,
        "user": "$PG_USER",
        "password": "$PG_PASSWORD",
        "database": "$PG_DB",
        "sslmode": "require",
        # CA that signs the server certificate (IP 127.0.0.1): sslmode=verify-full works with it.
        "sslrootcert": "$PG_DIR/ca.crt",
    },
    "s3": {
        "endpointUrl": "http://127.0.0.1:$S3_PORT",
        "bucket": "$S3_BUCKET",
        "region": "$S3_REGION",
        "accessKeyId": "testing",
        "secretAccessKey": "testing",
    },
    "venv": {
        "dir": "$VENV",
        "python": "$VENV/bin/python",
        "mlflow": "$VENV/bin/mlflow",
    },
    "logs": {"postgres": "$PG_LOG", "moto": "$MOTO_LOG"},
}
with open(sys.argv[1] + ".tmp", "w") as f:
    json.dump(env, f, indent=2)
    f.write("\n")
PY
    mv "$STATE/env.json.tmp" "$STATE/env.json"
    chmod 600 "$STATE/env.json"
}

cmd="${1:-start}"
case "$cmd" in
start)
    start_ts=$(date +%s)
    mkdir -p "$STATE"
    chmod 755 "$STATE"
    start_postgres
    ensure_venv
    start_moto
    write_env_json
    cat "$STATE/env.json"
    log "ready in $(($(date +%s) - start_ts))s"
    ;;
stop)
    rm -f "$STATE/env.json"
    stop_moto
    stop_postgres
    ;;
status)
    PG_BIN="$(pg_bindir)" || die "PostgreSQL not installed"
    pg_running || die "PostgreSQL not running"
    moto_pid_alive && s3_ready || die "moto not running"
    [ -f "$STATE/env.json" ] || die "no $STATE/env.json"
    cat "$STATE/env.json"
    ;;
*)
    die "usage: $0 [start|stop|status]"
    ;;
esac
