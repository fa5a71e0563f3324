# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fetching a large template from a local HTTP repository vs. ``curl -o`` of the same file.

Builds a template image itself (random data, then zeros; written out, not
sparse), serves it with tests/repo_server.py on 127.0.0.1 from a separate
process, then alternates: ``curl -o`` to disk, and template_store.fetch into an
empty store (repository JSON, .hash, .metadata, the .xz probe, the image,
sha1 verification and the rename). Prints each run, the medians and their
ratio (target: <= 1.3). Removes everything it made.

    python bench/bench_fetch.py [--size-mib 512] [--runs 3]
"""

from __future__ import absolute_import, division, print_function

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, '.collections'))

from ansible_collections.lago.lago.plugins.module_utils import template_repo, template_store  # noqa: E402

MIB = 1 << 20


def make_template(root, size_mib):
    """``<root>/big/v1.img``: half random, half zeros, with its sha1 .hash and .metadata."""
    os.makedirs(os.path.join(root, 'big'))
    image = os.path.join(root, 'big', 'v1.img')
    digest = hashlib.sha1()
    with open(image, 'wb') as out:
        for number in range(size_mib):
            block = os.urandom(MIB) if number < size_mib // 2 else bytes(MIB)
            digest.update(block)
            out.write(block)
    with open(image + '.hash', 'w') as out:
        out.write(digest.hexdigest())
    with open(image + '.metadata', 'w') as out:
        json.dump({'distro': 'bench'}, out)
    return image


def start_server(root):
    server = subprocess.Popen([sys.executable, os.path.join(REPO, 'tests', 'repo_server.py'), root],
                              stdout=subprocess.PIPE, universal_newlines=True)
    port = int(server.stdout.readline())
    return server, 'http://127.0.0.1:%d' % port


def time_curl(url, dest):
    start = time.perf_counter()
    subprocess.run(['curl', '-sS', '-f', '-o', dest, url], check=True)
    elapsed = time.perf_counter() - start
    os.unlink(dest)
    return elapsed


def time_fetch(repo_url, store):
    start = time.perf_counter()
    entry = template_store.fetch(store, template_repo.load_repository(repo_url).version('big'))
    elapsed = time.perf_counter() - start
    shutil.rmtree(store)
    return elapsed, entry


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size-mib', type=int, default=512, help='template size in MiB (default 512)')
    parser.add_argument('--runs', type=int, default=3, help='runs per side (default 3)')
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix='lago-bench-fetch-')
    server = None
    try:
        root = os.path.join(work, 'repo')
        start = time.perf_counter()
        image = make_template(root, args.size_mib)
        print('template: %d MiB (%.0f MB), built in %.1f s'
              % (args.size_mib, os.path.getsize(image) / 1e6, time.perf_counter() - start))
        server, url = start_server(root)
        with open(os.path.join(root, 'repo.json'), 'w') as out:
            json.dump(dict(name='bench', sources=dict(web=dict(type='http', args=dict(baseurl=url))),
                           templates=dict(big=dict(versions=dict(v1=dict(
                               source='web', handle='big/v1.img', timestamp=1))))), out)
        curl_times, fetch_times = [], []
        time_curl(url + '/big/v1.img', os.path.join(work, 'warm'))  # page cache of the served file
        for number in range(args.runs):
            curl_times.append(time_curl(url + '/big/v1.img', os.path.join(work, 'curl.img')))
            elapsed, entry = time_fetch(url + '/repo.json', os.path.join(work, 'store'))
            fetch_times.append(elapsed)
            assert entry['downloaded'] and entry['hash'] == open(image + '.hash').read()
            print('run %d: curl -o %.3f s, fetch into store %.3f s' % (number + 1, curl_times[-1], elapsed))
        curl, fetch = statistics.median(curl_times), statistics.median(fetch_times)
        size_mb = os.path.getsize(image) / 1e6
        print('median curl -o:          %.3f s (%.0f MB/s)' % (curl, size_mb / curl))
        print('median fetch (verified): %.3f s (%.0f MB/s)' % (fetch, size_mb / fetch))
        print('ratio fetch/curl:        %.3f (target <= 1.3)' % (fetch / curl))
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
