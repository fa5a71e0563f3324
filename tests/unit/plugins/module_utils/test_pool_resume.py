# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waiting for resumed guests: one login at a time per VM, each given time to finish."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import threading

import pytest

from ansible_collections.lago.lago.plugins.module_utils import pool_resume
from ansible_collections.lago.lago.plugins.module_utils.errors import PrefixError

from ansible_collections.lago.lago.tests.unit.plugins.offline_prefix import fake_libvirt, make_prefix


def test_one_login_at_a_time_each_with_a_long_try(tmp_path, monkeypatch):
    state = make_prefix(tmp_path / 'prefix', fake_libvirt(monkeypatch), vms=('vm01', 'vm02'), data=False)
    state.vm('vm02').address = '10.0.0.3'
    calls, busy, lock = [], {}, threading.Lock()

    def try_login(user, address, key, known_hosts, timeout):
        with lock:
            assert not busy.get(address), 'never two logins to one VM at once'
            busy[address] = True
            calls.append((address, timeout))
        try:
            if address == '10.0.0.3':
                return 'banner timeout'
            return None if sum(1 for item in calls if item[0] == address) > 1 else 'refused'
        finally:
            busy[address] = False
    monkeypatch.setattr(pool_resume, 'try_login', try_login)
    monkeypatch.setattr(pool_resume.time, 'sleep', lambda seconds: None)
    assert list(pool_resume.wait_for_logins(state, ['vm01'], timeout=30)) == ['vm01']
    assert 29 < calls[0][1] <= 30, 'a try may take the whole budget, up to LOGIN_TRY'
    with pytest.raises(PrefixError) as err:
        pool_resume.wait_for_logins(state, ['vm02'], timeout=0.2)
    assert 'vm02 (10.0.0.3): banner timeout' in str(err.value)
