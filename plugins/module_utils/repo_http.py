# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTTP server of a prefix's internal repository: regular files under its root, nothing else.

No directory listings, nothing a symlink (or ``..``) leads to outside the
root, GET and HEAD only. reposerver runs it as a detached process that
outlives the module, so the process carries its own code:
``<python> -c <this file's source> ROOT BIND PORT``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import functools
import http.server
import os
import socket
import sys


def servable(root, path):
    """True when ``path`` (already mapped under ``root``) is a regular file whose real path is under ``root``."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    return real.startswith(real_root + os.sep) and os.path.isfile(real)


class RepoRequestHandler(http.server.SimpleHTTPRequestHandler):
    """SimpleHTTPRequestHandler limited to the repository's own regular files."""

    def send_head(self):
        if not servable(self.directory, self.translate_path(self.path)):
            self.send_error(404, 'File not found')
            return None
        return super(RepoRequestHandler, self).send_head()

    def list_directory(self, path):
        self.send_error(404, 'File not found')
        return None


def serve(root, bind, port):
    family = socket.AF_INET6 if ':' in bind else socket.AF_INET

    class Server(http.server.ThreadingHTTPServer):
        address_family = family

    handler = functools.partial(RepoRequestHandler, directory=os.path.abspath(root))
    Server((bind, int(port)), handler).serve_forever()


if __name__ == '__main__':
    serve(*sys.argv[1:4])
