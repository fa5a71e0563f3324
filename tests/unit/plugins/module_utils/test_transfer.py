# -*- coding: utf-8 -*-
"""transfer: a stream written to a file decompressed and hashed on the way, and one cut short."""

from __future__ import absolute_import, division, print_function

import hashlib
import io
import lzma
import os

import pytest

from ansible_collections.lago.lago.plugins.module_utils import transfer
from ansible_collections.lago.lago.plugins.module_utils.errors import TemplateError

DATA = os.urandom(3 * transfer.CHUNK + 17) + b'\0' * (2 * transfer.CHUNK)


@pytest.mark.parametrize('compressed', [False, True])
def test_stream_to_file_writes_and_hashes_what_was_sent(tmp_path, compressed):
    # Two concatenated xz streams with padding between them, as xz --threads writes them.
    sent = lzma.compress(DATA[:transfer.CHUNK]) + b'\0' * 4 + lzma.compress(DATA[transfer.CHUNK:]) if compressed else DATA
    out = str(tmp_path / 'image')
    digest = transfer.stream_to_file(transfer.Download(io.BytesIO(sent), 'src', len(sent), compressed), out, 'sha256')
    assert digest == hashlib.sha256(DATA).hexdigest()
    assert open(out, 'rb').read() == DATA


def test_a_stream_cut_short_is_an_error_naming_where_it_came_from(tmp_path):
    out = str(tmp_path / 'image')
    with pytest.raises(TemplateError) as err:
        transfer.stream_to_file(transfer.Download(io.BytesIO(DATA[:100]), 'http://h/img', len(DATA)), out, 'sha1')
    assert 'http://h/img' in str(err.value) and 'cut short' in str(err.value)
    packed = lzma.compress(DATA)
    with pytest.raises(TemplateError) as err:
        transfer.stream_to_file(transfer.Download(io.BytesIO(packed[:1000]), 'h.xz', None, True), out, 'sha1')
    assert 'xz stream ends early' in str(err.value)


def test_write_copy_compressed_replaces_a_plain_variant(tmp_path):
    image = tmp_path / 'img'
    image.write_bytes(DATA[:4096])
    target = str(tmp_path / 'pub' / 'v1')
    os.makedirs(os.path.dirname(target))
    open(target, 'wb').close()
    assert transfer.write_copy(str(image), target, compress=True) == target + '.xz'
    assert lzma.decompress(open(target + '.xz', 'rb').read()) == DATA[:4096]
    assert sorted(os.listdir(os.path.dirname(target))) == ['v1.xz']
