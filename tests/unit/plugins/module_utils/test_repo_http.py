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


def _raw(url, request):
    """Send ``request`` (bytes, as written, nothing normalized by a client library) to the
    server of ``url``; the status code of its answer."""
    host, port = url.split('//')[1].rstrip('/').split(':')
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        answer = b''
        while b'\r\n' not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return int(answer.split(b' ')[1])


@pytest.mark.parametrize('target', [b'/../secret', b'/el8/../../secret', b'//etc/passwd', b'/%2e%2e/%2e%2e/secret',
                                    b'/el8/%2e%2e/%2e%2e/secret', b'http://127.0.0.1/../secret', b'/etc/passwd',
                                    b'/./el8/', b'/el8/repodata'])
def test_raw_paths_out_of_the_root_or_to_directories_are_not_found(served, target):
    # urllib normalizes nothing, but a client may send anything: these go out on the wire as written.
    assert _raw(served, b'GET ' + target + b' HTTP/1.0\r\n\r\n') == 404, target


@pytest.mark.parametrize('method', [b'POST', b'PUT', b'DELETE'])
def test_only_get_and_head(served, method):
    assert _raw(served, method + b' /el8/pkg.rpm HTTP/1.0\r\nContent-Length: 0\r\n\r\n') == 501
    assert _raw(served, b'HEAD /el8/pkg.rpm HTTP/1.0\r\n\r\n') == 200


def test_what_is_not_a_regular_file_is_not_found(served, tmp_path):
    root = tmp_path / 'internal_repo'
    os.mkfifo(str(root / 'el8' / 'fifo'))  # read by a server that follows it, it would hang
    os.symlink(str(root / 'el8' / 'repodata'), str(root / 'inner'))  # a link to a directory inside the root
    for path in ('el8/fifo', 'inner/', 'inner', 'inner/repomd.xml'):
        status, _body = _status(served + path)
        assert status == (200 if path == 'inner/repomd.xml' else 404), path
