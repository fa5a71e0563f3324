# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small HTTP server for template repositories, shared by tests and benchmarks.

It serves a directory on 127.0.0.1, counts the requests it answers, can cut
chosen files short (to test interrupted downloads) and sends file bodies with
sendfile so that the server is never what a benchmark measures.

    python tests/repo_server.py DIR      # prints the port, serves until killed
"""

from __future__ import absolute_import, division, print_function

import collections
import functools
import http.server
import sys
import threading


class RepoHandler(http.server.SimpleHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        """Quiet: tests read ``server.requests`` instead."""

    def do_GET(self):
        with self.server.counter_lock:
            self.server.requests[self.path] += 1
        super().do_GET()

    def copyfile(self, source, outputfile):
        limit = self.server.truncate.get(self.path)
        if limit is None:
            self.connection.sendfile(source)
            return
        # Content-Length promised the whole file: send less and hang up.
        outputfile.write(source.read(limit))
        self.close_connection = True


class RepoServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, directory, port=0):
        handler = functools.partial(RepoHandler, directory=directory)
        super().__init__(('127.0.0.1', port), handler)
        self.requests = collections.Counter()
        self.counter_lock = threading.Lock()
        self.truncate = {}

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.server_address[1]

    def count(self, path):
        """How many GET requests asked for ``path`` (URL path, leading slash)."""
        with self.counter_lock:
            return self.requests[path]


def start_in_thread(directory):
    """A running RepoServer on a free port; call ``server.shutdown()`` to stop it."""
    server = RepoServer(directory)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


def main(argv):
    server = RepoServer(argv[1])
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == '__main__':
    main(sys.argv)
