# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small HTTP server for template repositories, shared by tests and benchmarks.

It serves a directory on 127.0.0.1, counts the requests it answers, can cut
chosen files short (always, or only their next responses, to test interrupted
and resumed downloads), answers chosen requests with an error status first
(``server.errors[path] = [503, ...]``), honours ``Range: bytes=N-`` with a 206
unless ``server.ranges`` is False, and sends file bodies with sendfile so
that the server is never what a benchmark measures.

    python tests/repo_server.py DIR      # prints the port, serves until killed
"""

from __future__ import absolute_import, division, print_function

import collections
import functools
import http.server
import os
import re
import sys
import threading
import time

RANGE_RE = re.compile(r'^bytes=(\d+)-$')


class RepoHandler(http.server.SimpleHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        """Quiet: tests read ``server.requests`` instead."""

    def _send_slowly(self, source, outputfile, rate, limit):
        """At about ``rate`` bytes a second (a slow link, for progress reports), ``limit`` bytes at most."""
        left = limit
        while left is None or left > 0:
            block = source.read(rate // 10 if left is None else min(rate // 10, left))
            if not block:
                return
            outputfile.write(block)
            left = None if left is None else left - len(block)
            time.sleep(0.1)
        self.close_connection = True

    def do_GET(self):
        with self.server.counter_lock:
            self.server.requests[self.path] += 1
            self.server.range_requests.append((self.path, self.headers.get('Range')))
            errors = self.server.errors.get(self.path)
            status = errors.pop(0) if errors else None
        if status is not None:
            self.send_error(status)
            return
        wanted = RANGE_RE.match(self.headers.get('Range') or '')
        if wanted and self.server.ranges:
            self._send_range(int(wanted.group(1)))
            return
        super().do_GET()

    def _send_range(self, start):
        path = self.translate_path(self.path)
        if not os.path.isfile(path):
            self.send_error(404)
            return
        size = os.path.getsize(path)
        if start >= size:
            self.send_error(416)
            return
        self.send_response(206)
        self.send_header('Content-Type', 'application/octet-stream')
        self.send_header('Content-Length', str(size - start))
        self.send_header('Content-Range', 'bytes %d-%d/%d' % (start, size - 1, size))
        self.end_headers()
        with open(path, 'rb') as source:
            source.seek(start)
            self.copyfile(source, self.wfile)

    def _cut_at(self):
        """Bytes of this response to send before hanging up, or None for all of them."""
        with self.server.counter_lock:
            once = self.server.cut_once.get(self.path)
            if once:
                return once.pop(0)
        return self.server.truncate.get(self.path)

    def copyfile(self, source, outputfile):
        limit = self._cut_at()
        rate = self.server.rate.get(self.path)
        if rate:
            self._send_slowly(source, outputfile, rate, limit)
            return
        if limit is None:
            self.connection.sendfile(source, source.tell())
            return
        # Content-Length promised the whole file: send less and hang up.
        outputfile.write(source.read(limit))
        self.close_connection = True


class RepoServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, directory, port=0, host='127.0.0.1'):
        handler = functools.partial(RepoHandler, directory=directory)
        super().__init__((host, port), handler)
        self.requests = collections.Counter()
        self.counter_lock = threading.Lock()
        self.truncate = {}     # URL path -> bytes each response sends before it hangs up
        self.cut_once = {}     # URL path -> [bytes of the next response, of the one after, ...]
        self.errors = {}       # URL path -> [HTTP status of the next response, ...]
        self.rate = {}         # URL path -> bytes a second to send it at
        self.ranges = True     # honour Range: bytes=N- (else answer 200 with the whole file)
        self.range_requests = []  # (path, Range header or None) of every GET, in order

    @property
    def url(self):
        return 'http://%s:%d' % self.server_address[:2]

    def count(self, path):
        """How many GET requests asked for ``path`` (URL path, leading slash)."""
        with self.counter_lock:
            return self.requests[path]


def start_in_thread(directory, host='127.0.0.1'):
    """A running RepoServer on a free port of ``host``; call ``server.shutdown()`` to stop it."""
    server = RepoServer(directory, host=host)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


def main(argv):
    server = RepoServer(argv[1])
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == '__main__':
    main(sys.argv)
