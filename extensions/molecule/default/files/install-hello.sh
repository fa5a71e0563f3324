#!/bin/sh
# Install lago-hello from the prefix's internal repository (LAGO_REPO_URL),
# reading no other apt source: the lab has no internet.
set -eu
echo "deb [trusted=yes] ${LAGO_REPO_URL} ./" > /etc/apt/sources.list.d/lago.list
apt_get() {
    apt-get -o Dir::Etc::SourceList=/etc/apt/sources.list.d/lago.list -o Dir::Etc::SourceParts=- \
        -o APT::Get::List-Cleanup=0 "$@"
}
export DEBIAN_FRONTEND=noninteractive
apt_get update
apt_get install -y --no-install-recommends lago-hello
