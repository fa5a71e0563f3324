# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Moving template images: streaming a download to a file (xz decompressed on the fly,
hashed on a second thread), and writing a copy, optionally xz-compressed.

A download that fails in a way that may pass (``TransferError``: a broken
connection, an HTTP 5xx, a stream cut short) is tried again up to ``RETRIES``
times, waiting ``BACKOFF`` seconds before the first retry and twice as long
before each next one. A stream that broke resumes where it broke when its
source can reopen it at an offset (HTTP ``Range``) and the server answers 206;
it starts again from byte 0 when the server answers 200. After a resume the
whole file is hashed again from the disk.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import hashlib
import http.client
import lzma
import os
import queue
import threading
import time

from ansible_collections.lago.lago.plugins.module_utils.errors import TemplateError, TransferError
from ansible_collections.lago.lago.plugins.module_utils.files import hash_file, remove_path
from ansible_collections.lago.lago.plugins.module_utils.runner import run

CHUNK = 1 << 20
# Lets one compressed chunk of zeros inflate without taking all memory at once.
INFLATE_LIMIT = 16 * CHUNK
# Retries after the first attempt, and the wait before the first retry (doubled for each next one):
# 1 + 2 + 4 + 8 s, so a server that restarts or a link that drops for a few seconds is ridden out.
RETRIES = 4
BACKOFF = 1.0
# Seconds between two progress reports of one download.
PROGRESS_EVERY = 1.0


def retrying(what, attempt, on_retry=None):
    """``attempt()``, called again after a TransferError up to RETRIES times with exponential backoff.

    ``on_retry(failures, why)`` is told of each failure before the wait.
    When every try failed: TemplateError naming ``what``, the count and the last error.
    """
    failures = 0
    while True:
        try:
            return attempt()
        except TransferError as err:
            failures += 1
            if failures > RETRIES:
                raise TemplateError('%s failed %d times (retried %d times with backoff from %ss): %s'
                                    % (what, failures, RETRIES, BACKOFF, err))
            if on_retry is not None:
                on_retry(failures, str(err))
            time.sleep(BACKOFF * 2 ** (failures - 1))


class Download:
    """An open image stream: ``reader`` (has readinto), ``length`` (or None), ``compressed``.

    ``reopen(offset)``, when the source has one, opens the stream again and returns
    ``(reader, start)``: ``start`` is ``offset`` when it resumes there, 0 when it
    starts over; it raises TransferError on a failure that may pass.
    """

    def __init__(self, reader, where, length=None, compressed=False, reopen=None):
        self.reader = reader
        self.where = where
        self.length = length
        self.compressed = compressed
        self.reopen = reopen


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


class _Sink:
    """What a download wrote so far: the output file, the hash and the inflater, and the progress reports."""

    def __init__(self, download, out, algorithm, progress):
        self.download = download
        self.out = out
        self.algorithm = algorithm
        self.progress = progress
        self.hasher = _BackgroundHash(algorithm)
        self.inflater = _Inflater() if download.compressed else None
        self.received = 0
        self.attempt = 1
        self.reported_at = None

    def restart(self):
        """The source starts over from byte 0: so does the file, its hash and the inflater."""
        self.hasher.stop()
        self.hasher = _BackgroundHash(self.algorithm)
        self.inflater = _Inflater() if self.download.compressed else None
        self.out.seek(0)
        self.out.truncate()
        self.received = 0

    def report(self, note=None, force=False):
        if self.progress is None:
            return
        now = time.monotonic()
        if force or note or self.reported_at is None or now - self.reported_at >= PROGRESS_EVERY:
            self.reported_at = now
            self.progress(self.received, self.download.length, self.attempt, note)

    def _write(self, buf, size):
        data = memoryview(buf)[:size]
        if self.inflater is None:
            self.out.write(data)
            self.hasher.add(data, buf)
            return
        for piece in self.inflater.feed(data):
            self.out.write(piece)
            self.hasher.add(piece)
        self.hasher.recycle(buf)

    def copy(self, reader):
        """Copy ``reader`` to the end; None when the download is complete, else why it is not."""
        where = self.download.where
        try:
            with contextlib.closing(reader):
                while True:
                    buf = self.hasher.buffer()
                    size = reader.readinto(buf)
                    if not size:
                        self.hasher.recycle(buf)
                        break
                    self.received += size
                    self._write(buf, size)
                    self.report()
        except lzma.LZMAError as err:
            raise TemplateError('%s is not a valid xz stream: %s' % (where, err))
        except (OSError, http.client.HTTPException) as err:
            return 'download of %s failed after %d bytes: %s' % (where, self.received, err or type(err).__name__)
        length = self.download.length
        if length is not None and self.received < length:
            return 'download of %s was cut short: got %d of %d bytes' % (where, self.received, length)
        if self.inflater and not self.inflater.complete:
            return ('download of %s was cut short: the xz stream ends early (%d bytes received)'
                    % (where, self.received))
        return None


def _resume(sink):
    """Open the download again where ``sink`` stopped; True when it resumes, False when it starts over."""
    reader, start = sink.download.reopen(sink.received)
    if start != sink.received:
        sink.restart()
    return reader, start > 0


def stream_to_file(download, path, algorithm, progress=None):
    """Write ``download`` (decompressed) to ``path``; return the hex digest of the whole file.

    A stream that breaks is reopened (see the module's doc) when the download
    has ``reopen``; otherwise, or once the retries are spent, TemplateError.
    ``progress(received, length, attempt, note)`` is called along the way (at
    most every PROGRESS_EVERY seconds, at each retry and at the end).
    """
    resumed = False
    with open(path, 'wb') as out:
        sink = _Sink(download, out, algorithm, progress)
        try:
            reader, failures = download.reader, 0
            while True:
                if reader is None:
                    try:
                        reader, resumed_now = _resume(sink)
                        resumed = resumed or resumed_now
                    except TransferError as err:
                        why = str(err)
                if reader is not None:
                    why = sink.copy(reader)
                    reader = None
                    if why is None:
                        break
                failures += 1
                if download.reopen is None or failures > RETRIES:
                    raise TemplateError(why if failures == 1 else '%s (after %d attempts with backoff from %ss)'
                                        % (why, failures, BACKOFF))
                sink.attempt = failures + 1
                sink.report('retry %d of %d in %ss: %s' % (failures, RETRIES, BACKOFF * 2 ** (failures - 1), why))
                time.sleep(BACKOFF * 2 ** (failures - 1))
        finally:
            if reader is not None:
                reader.close()
            digest = sink.hasher.hexdigest()
        sink.report(force=True)
    # After a resume the file is two streams glued at an offset: check the glue, hash what is on disk.
    return hash_file(path, algorithm) if resumed else digest


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
