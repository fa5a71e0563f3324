# -*- coding: utf-8 -*-
"""repo_http: the repository server serves regular files under its root and nothing else.

The server runs exactly as reposerver starts it (its argv), on 127.0.0.1.
"""

from __future__ import absolute_import, division, print_function

import os
import socket
import subprocess
import time

import pytest

from ansible_collections.lago.lago.plugins.module_utils import reposerver

try:
    from urllib.request import urlopen
    from urllib.error import HTTPError
except ImportError:  # pragma: no cover
    pytest.skip('python 3 only', allow_module_level=True)


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.fixture
def served(tmp_path):
    root = tmp_path / 'internal_repo'
    (root / 'el8' / 'repodata').mkdir(parents=True)
    (root / 'el8' / 'repodata' / 'repomd.xml').write_text('<repomd/>')
    (root / 'el8' / 'pkg.rpm').write_bytes(b'rpm' * 100)
    secret = tmp_path / 'secret'
    secret.write_text('private key')
    os.symlink(str(secret), str(root / 'el8' / 'escape'))
    os.symlink(str(root / 'el8' / 'pkg.rpm'), str(root / 'el8' / 'alias.rpm'))
    os.symlink('/etc', str(root / 'etc'))
    port = _free_port()
    proc = subprocess.Popen(reposerver.server_argv(str(root), '127.0.0.1', port), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(('127.0.0.1', port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.05)
    yield 'http://127.0.0.1:%d/' % port
    proc.terminate()
    proc.wait(10)


def _status(url):
    try:
        with urlopen(url, timeout=10) as answer:
            return answer.status, answer.read()
    except HTTPError as err:
        return err.code, b''


def test_regular_files_are_served(served):
    assert _status(served + 'el8/repodata/repomd.xml') == (200, b'<repomd/>')
    assert _status(served + 'el8/alias.rpm')[0] == 200  # a link that stays inside the root


@pytest.mark.parametrize('path', ['', 'el8/', 'el8', 'el8/repodata/', 'el8/escape', 'etc/passwd', 'etc/',
                                  '../secret', '%2e%2e/secret', 'nothing-here'])
def test_listings_and_escapes_are_not_found(served, path):
    status, body = _status(served + path)
    assert status == 404, (path, status, body[:200])
