#!/bin/sh
# Deploy script of the demo lab: runs on every VM over SSH.
set -e
{
    echo "deployed on $(hostname) at $(date -u +%FT%TZ)"
    echo "prefix: ${LAGO_PREFIX_PATH:-unknown}"
    getent hosts web01 db01
} >/var/log/lago-demo.log
