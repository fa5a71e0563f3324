# -*- coding: utf-8 -*-
"""reposetup as one step: which flavours to index."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.lago.lago.plugins.module_utils import repo_setup
from ansible_collections.lago.lago.plugins.module_utils.errors import RepoError


def test_resolve_flavours():
    assert repo_setup.resolve_flavours('auto', True, False) == ['rpm']
    assert repo_setup.resolve_flavours('auto', False, True) == ['deb']
    assert repo_setup.resolve_flavours('auto', True, True) == ['rpm', 'deb']
    assert repo_setup.resolve_flavours('both', False, False) == ['rpm', 'deb']
    assert repo_setup.resolve_flavours('deb', True, False) == ['deb']
    with pytest.raises(RepoError, match='nothing to build'):
        repo_setup.resolve_flavours('auto', False, False)
    with pytest.raises(RepoError, match="flavour 'apk'"):
        repo_setup.resolve_flavours('apk', True, True)
