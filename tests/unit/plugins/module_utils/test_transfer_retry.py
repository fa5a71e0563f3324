# -*- coding: utf-8 -*-
"""Downloads that break: retried with backoff, resumed with Range (206) or started over (200),
hashed whole after a resume - against a real HTTP server on 127.0.0.1 (tests/repo_server.py)
that drops the connection mid-file."""

from __future__ import absolute_import, division, print_function

import hashlib
import lzma
import os

import pytest

from ansible_collections.lago.lago.plugins.module_utils import template_repo, transfer
from ansible_collections.lago.lago.plugins.module_utils.errors import TemplateError
from ansible_collections.lago.lago.tests.repo_server import start_in_thread

DATA = os.urandom(5 * transfer.CHUNK + 123)
PACKED = []  # DATA compressed, once (xz of random data is slow on a loaded host)


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A repository server serving ``tmp_path/www`` with img (plain) and packed.xz; retries wait 10 ms, 20 ms..."""
    waits = []
    monkeypatch.setattr(transfer, 'BACKOFF', 0.01)
    real_sleep = transfer.time.sleep
    monkeypatch.setattr(transfer.time, 'sleep', lambda seconds: waits.append(seconds) or real_sleep(seconds))
    www = tmp_path / 'www'
    www.mkdir()
    (www / 'img').write_bytes(DATA)
    if not PACKED:
        PACKED.append(lzma.compress(DATA, preset=0))
    (www / 'packed.xz').write_bytes(PACKED[0])
    running = start_in_thread(str(www))
    running.waits = waits
    yield running
    running.shutdown()
    running.server_close()


def fetch(server, name, tmp_path, progress=None):
    provider = template_repo.HttpProvider(server.url)
    download = provider.open_image(name)
    out = str(tmp_path / 'out')
    digest = transfer.stream_to_file(download, out, 'sha256', progress)
    with open(out, 'rb') as handle:
        return digest, handle.read()


def ranges(server, path):
    return [header for asked, header in server.range_requests if asked == path]


def test_a_dropped_connection_resumes_with_range_and_the_whole_file_is_hashed(server, tmp_path):
    server.cut_once['/img'] = [transfer.CHUNK + 5, 2 * transfer.CHUNK]
    reports = []
    digest, data = fetch(server, 'img', tmp_path, lambda *args: reports.append(args))
    assert data == DATA and digest == hashlib.sha256(DATA).hexdigest()
    # .xz tried first (404), then the image, cut twice: resumed where each cut left it.
    assert ranges(server, '/img') == [None, 'bytes=%d-' % (transfer.CHUNK + 5),
                                      'bytes=%d-' % (3 * transfer.CHUNK + 5)]
    assert server.waits == [0.01, 0.02], 'exponential backoff between the retries'
    notes = [report[3] for report in reports if report[3]]
    assert len(notes) == 2 and notes[0].startswith('retry 1 of %d in 0.01s' % transfer.RETRIES)
    assert reports[-1][:3] == (len(DATA), len(DATA), 3), 'the last report: every byte, on the third attempt'


def test_a_server_that_ignores_range_makes_the_download_start_over(server, tmp_path):
    server.ranges = False
    server.cut_once['/img'] = [3 * transfer.CHUNK]
    digest, data = fetch(server, 'img', tmp_path)
    assert data == DATA and digest == hashlib.sha256(DATA).hexdigest()
    assert ranges(server, '/img') == [None, 'bytes=%d-' % (3 * transfer.CHUNK)]


def test_a_compressed_stream_resumes_inside_the_xz_stream(server, tmp_path):
    server.cut_once['/packed.xz'] = [2 * transfer.CHUNK + 7]
    digest, data = fetch(server, 'packed', tmp_path)
    assert data == DATA and digest == hashlib.sha256(DATA).hexdigest()
    assert ranges(server, '/packed.xz') == [None, 'bytes=%d-' % (2 * transfer.CHUNK + 7)]


def test_server_errors_are_retried_with_backoff_then_reported_with_the_count(server, tmp_path):
    server.errors['/img'] = [503, 502]
    digest, _data = fetch(server, 'img', tmp_path)
    assert digest == hashlib.sha256(DATA).hexdigest()
    assert server.count('/img') == 3 and server.waits == [0.01, 0.02]

    server.errors['/img'] = [503] * (transfer.RETRIES + 1)
    with pytest.raises(TemplateError) as err:
        fetch(server, 'img', tmp_path)
    assert 'failed %d times' % (transfer.RETRIES + 1) in str(err.value) and 'HTTP 503' in str(err.value)


def test_a_client_error_is_not_retried(server, tmp_path):
    server.errors['/img'] = [403]
    with pytest.raises(TemplateError) as err:
        fetch(server, 'img', tmp_path)
    assert 'HTTP 403' in str(err.value) and server.count('/img') == 1 and server.waits == []


def test_a_file_cut_short_every_time_fails_after_the_retries_naming_the_cut(server, tmp_path):
    server.truncate['/img'] = 1000
    server.ranges = False
    with pytest.raises(TemplateError) as err:
        fetch(server, 'img', tmp_path)
    message = str(err.value)
    assert 'cut short' in message and 'after %d attempts' % (transfer.RETRIES + 1) in message
    assert server.count('/img') == transfer.RETRIES + 1
    assert len(server.waits) == transfer.RETRIES
    assert server.waits == [0.01 * 2 ** number for number in range(transfer.RETRIES)]


def test_an_unreachable_server_is_retried_then_named(tmp_path, monkeypatch):
    monkeypatch.setattr(transfer, 'BACKOFF', 0.001)
    with pytest.raises(TemplateError) as err:
        template_repo.load_repository('http://127.0.0.1:9/repo.json')
    assert 'cannot reach http://127.0.0.1:9/repo.json' in str(err.value)
    assert 'failed %d times' % (transfer.RETRIES + 1) in str(err.value)
