# -*- coding: utf-8 -*-
"""template_store: users of an entry, the entry's view, plans of using and removing it."""

from __future__ import absolute_import, division, print_function

import os

import pytest

from ansible_collections.lago.lago.plugins.module_utils import template_store
from ansible_collections.lago.lago.plugins.module_utils.errors import TemplateError


def test_users_are_live_only_while_their_uuid_file_holds_the_same_uuid(tmp_path):
    store = str(tmp_path / 'store')
    os.makedirs(store)
    name = 'r:t:v'
    open(os.path.join(store, name), 'w').close()
    alive, gone, reused = (str(tmp_path / n) for n in ('alive', 'gone', 'reused'))
    for path in (alive, gone, reused):
        with open(path, 'w') as handle:
            handle.write('uuid-of-%s\n' % os.path.basename(path))
    for path in (alive, gone, reused):
        assert template_store.add_user(store, name, path) is True
    assert template_store.add_user(store, name, alive) is False
    os.unlink(gone)
    with open(reused, 'w') as handle:
        handle.write('another-prefix')
    assert template_store.live_users(store, name) == [alive]
    assert template_store.remove_user(store, name, alive) is True
    assert template_store.live_users(store, name) == []


def test_add_user_needs_a_uuid_file(tmp_path):
    store = str(tmp_path)
    open(os.path.join(store, 'r:t:v'), 'w').close()
    with pytest.raises(TemplateError, match='uuid file'):
        template_store.add_user(store, 'r:t:v', str(tmp_path / 'missing'))
