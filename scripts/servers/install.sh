#!/usr/bin/env bash
# Installs the real servers that the distributed backends and their tests run against:
# Apache Kafka (KRaft, jars from Maven Central), an S3-compatible server (s3proxy, Maven Central),
# Redis (Debian package) and checks for PostgreSQL 15 (Debian package).
#
# Idempotent and cached: jars go to $STREAMREC_CACHE_DIR/servers (default ~/.cache/streamrec/servers,
# Maven's own cache ~/.m2 behind it), so a second run is a fast no-op.
# streamrec.testing.servers reads the same layout:
#   servers/kafka/libs/*.jar + servers/kafka/VERSION
#   servers/s3proxy/s3proxy.jar + servers/s3proxy/VERSION
set -euo pipefail

KAFKA_VERSION="${STREAMREC_KAFKA_VERSION:-4.1.1}"
S3PROXY_VERSION="${STREAMREC_S3PROXY_VERSION:-4.1.0}"
PG_MAJOR=15

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${STREAMREC_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/streamrec}/servers"
mkdir -p "$cache"

log() { printf 'install-servers: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else die "need root (or sudo) to run: $*"
    fi
}

# apt-get update only when the package index does not know the package (fresh image).
apt_install() {
    local pkg="$1"
    if ! apt-cache policy "$pkg" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        log "apt-get update (no candidate for $pkg)"
        as_root apt-get update -q >/dev/null
    fi
    log "apt-get install $pkg"
    # policy-rc.d on containers keeps the Debian service from starting; tests start their own.
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "$pkg" >/dev/null
}

require_java() {
    command -v java >/dev/null || die "java (17+) not found: apt-get install openjdk-17-jre-headless"
    command -v mvn >/dev/null || die "mvn not found: apt-get install maven"
}

# Maven, quiet, with its colour escapes stripped (it prints them even in batch mode); errors
# still reach stderr and still fail the script (pipefail).
mvn_quiet() {
    mvn -q -B -Dstyle.color=never "$@" 2>&1 | sed -e 's/\x1b\[[0-9;]*m//g' -e '/^$/d' >&2
}

# $1 = directory, $2 = wanted version: true when that directory already holds that version.
cached() { [ -f "$1/VERSION" ] && [ "$(cat "$1/VERSION")" = "$2" ]; }

install_kafka() {
    local dest="$cache/kafka"
    if cached "$dest" "$KAFKA_VERSION"; then return; fi
    require_java
    log "resolving Apache Kafka $KAFKA_VERSION from Maven Central"
    local tmp="$cache/kafka.tmp"
    rm -rf "$tmp"
    mvn_quiet -f "$here/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp/libs"
    [ -f "$tmp/libs/kafka_2.13-$KAFKA_VERSION.jar" ] || die "kafka_2.13-$KAFKA_VERSION.jar missing"
    echo "$KAFKA_VERSION" >"$tmp/VERSION"
    rm -rf "$dest"
    mv "$tmp" "$dest"
}

install_s3proxy() {
    local dest="$cache/s3proxy"
    if cached "$dest" "$S3PROXY_VERSION"; then return; fi
    require_java
    log "resolving s3proxy $S3PROXY_VERSION from Maven Central"
    local tmp="$cache/s3proxy.tmp"
    rm -rf "$tmp"
    mvn_quiet dependency:copy \
        -Dartifact="org.gaul:s3proxy:$S3PROXY_VERSION:jar:jar-with-dependencies" \
        -DoutputDirectory="$tmp"
    mv "$tmp/s3proxy-$S3PROXY_VERSION-jar-with-dependencies.jar" "$tmp/s3proxy.jar"
    echo "$S3PROXY_VERSION" >"$tmp/VERSION"
    rm -rf "$dest"
    mv "$tmp" "$dest"
}

install_redis() {
    command -v redis-server >/dev/null && return
    apt_install redis-server
}

install_postgres() {
    [ -x "/usr/lib/postgresql/$PG_MAJOR/bin/initdb" ] && return
    apt_install "postgresql-$PG_MAJOR"
}

main() {
    local what=("$@")
    [ ${#what[@]} -gt 0 ] || what=(kafka s3proxy redis postgres)
    for name in "${what[@]}"; do
        case "$name" in
            kafka) install_kafka ;;
            s3proxy | s3) install_s3proxy ;;
            redis) install_redis ;;
            postgres | postgresql) install_postgres ;;
            *) die "unknown server '$name' (kafka, s3proxy, redis, postgres)" ;;
        esac
    done
    log "ready in $cache (kafka $KAFKA_VERSION, s3proxy $S3PROXY_VERSION)"
}

main "$@"
