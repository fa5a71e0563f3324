# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Moving template images: streaming a download to a file (xz decompressed on the fly,
hashed on a second thread), and writing a copy, optionally xz-compressed."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import hashlib
import http.client
import lzma
import os
import queue
import threading

from ansible_collections.lago.lago.plugins.module_utils.errors import TemplateError
from ansible_collections.lago.lago.plugins.module_utils.files import remove_path
from ansible_collections.lago.lago.plugins.module_utils.runner import run

CHUNK = 1 << 20
# Lets one compressed chunk of zeros inflate without taking all memory at once.
INFLATE_LIMIT = 16 * CHUNK


class Download:
    """An open image stream: ``reader`` (has readinto), ``length`` (or None), ``compressed``."""

    def __init__(self, reader, where, length=None, compressed=False):
        self.reader = reader
        self.where = where
        self.length = length
        self.compressed = compressed


class _Inflater:
    """Decompresses an xz stream fed in pieces (concatenated streams included)."""

    def __init__(self):
        self._decompressor = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)

    @property
    def complete(self):
        return self._decompressor.eof

    # (pylint takes LZMADecompressor's eof and needs_input for constants: hence the disables)
    def feed(self, data):
        """Yield the decompressed pieces of ``data``, at most INFLATE_LIMIT bytes each."""
        if self._decompressor.eof:  # pylint: disable=using-constant-test
            data = bytes(data).lstrip(b'\0')  # stream padding between streams
            if not data:
                return
            self._decompressor = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
        while True:
            piece = self._decompressor.decompress(data, max_length=INFLATE_LIMIT)
            data = b''
            if piece:
                yield piece
            if self._decompressor.eof:  # pylint: disable=using-constant-test
                data = self._decompressor.unused_data.lstrip(b'\0')
                if not data:
                    return
                self._decompressor = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
            elif self._decompressor.needs_input:  # pylint: disable=using-constant-test
                return


class _BackgroundHash:
    """Hashes on a second thread what the caller writes (hashlib releases the GIL).

    Hashing then overlaps receiving and writing instead of adding to them;
    buffers come from a small pool and go back to it once hashed.
    """

    def __init__(self, algorithm, buffers=4):
        self._digest = hashlib.new(algorithm)
        self._free = queue.Queue()
        for _unused in range(buffers):
            self._free.put(bytearray(CHUNK))
        self._todo = queue.Queue()
        self._thread = threading.Thread(target=self._run, name='lago-hash', daemon=True)
        self._thread.start()

    def _run(self):
        while True:
            item = self._todo.get()
            if item is None:
                return
            data, recycled = item
            self._digest.update(data)
            if recycled is not None:
                self._free.put(recycled)

    def buffer(self):
        """A free buffer to read into (waits while all are being hashed)."""
        return self._free.get()

    def add(self, data, recycled=None):
        """Hash ``data`` (bytes-like); ``recycled`` goes back to the pool afterwards."""
        self._todo.put((data, recycled))

    def recycle(self, buf):
        self._free.put(buf)

    def hexdigest(self):
        """Wait for what is queued; the hasher stops."""
        self.stop()
        return self._digest.hexdigest()

    def stop(self):
        if self._thread.is_alive():
            self._todo.put(None)
            self._thread.join()


def _copy_hashed(download, out, hasher):
    """Copy ``download`` to ``out`` (decompressing an xz one) while ``hasher`` hashes it; bytes received."""
    inflater = _Inflater() if download.compressed else None
    received = 0
    while True:
        buf = hasher.buffer()
        size = download.reader.readinto(buf)
        if not size:
            hasher.recycle(buf)
            return received, inflater
        received += size
        data = memoryview(buf)[:size]
        if inflater is None:
            out.write(data)
            hasher.add(data, buf)
            continue
        for piece in inflater.feed(data):
            out.write(piece)
            hasher.add(piece)
        hasher.recycle(buf)


def stream_to_file(download, path, algorithm):
    """Write ``download`` (decompressed) to ``path``; return the hex digest of what was written."""
    hasher = _BackgroundHash(algorithm)
    try:
        with contextlib.closing(download.reader), open(path, 'wb') as out:
            received, inflater = _copy_hashed(download, out, hasher)
    except lzma.LZMAError as err:
        raise TemplateError('%s is not a valid xz stream: %s' % (download.where, err))
    except (OSError, http.client.HTTPException) as err:
        raise TemplateError('download of %s failed: %s' % (download.where, err))
    finally:
        hasher.stop()
    if download.length is not None and received < download.length:
        raise TemplateError('download of %s was cut short: got %d of %d bytes'
                            % (download.where, received, download.length))
    if inflater and not inflater.complete:
        raise TemplateError('download of %s was cut short: the xz stream ends early (%d bytes received)'
                            % (download.where, received))
    return hasher.hexdigest()


def write_copy(image, target, compress):
    """Copy ``image`` to ``target`` (``target.xz`` with ``compress``) through a temp file; returns the file written."""
    final = target + '.xz' if compress else target
    tmp = final + '.tmp'
    try:
        if compress:
            with open(tmp, 'wb') as out:
                run(['xz', '--threads=0', '--stdout', '--', image], stdout=out)
        else:
            run(['cp', '--sparse=always', '--reflink=auto', '--', image, tmp])
        os.rename(tmp, final)
    except BaseException:
        remove_path(tmp)
        raise
    # Providers try <handle>.xz first: an older variant must not shadow this one.
    remove_path(target if compress else target + '.xz')
    return final
