# -*- coding: utf-8 -*-
"""reposerver: the server's argv and URL, a bad port."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.lago.lago.plugins.module_utils import reposerver
from ansible_collections.lago.lago.plugins.module_utils.errors import RepoError


def test_server_argv_and_url():
    argv = reposerver.server_argv('/p/internal_repo', '192.168.200.1', 8585, python='/usr/bin/python3')
    assert argv[:2] == ['/usr/bin/python3', '-c'] and 'class RepoRequestHandler' in argv[2]
    assert argv[3:] == ['/p/internal_repo', '192.168.200.1', '8585']
    assert reposerver.url_of('fd00::1', 8585) == 'http://[fd00::1]:8585/'


def test_server_bad_port(tmp_path):
    with pytest.raises(RepoError, match='port 70000 is not a TCP port'):
        reposerver.start(str(tmp_path), '127.0.0.1', 70000)
