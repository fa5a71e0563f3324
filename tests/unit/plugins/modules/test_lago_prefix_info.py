# -*- coding: utf-8 -*-
"""lago_prefix_info's execute(): the prefix with the live state of its VMs and nets, no change."""

from __future__ import absolute_import, division, print_function

import os

import pytest

from ansible_collections.lago.lago.plugins.module_utils import errors
from ansible_collections.lago.lago.plugins.modules import lago_prefix, lago_prefix_info
from ansible_collections.lago.lago.tests.unit.plugins.fake_libvirt import FakeConn
from ansible_collections.lago.lago.tests.unit.plugins.modules.module_helpers import listing, module_params
from ansible_collections.lago.lago.tests.unit.plugins.modules.test_lago_prefix import SPEC


@pytest.fixture
def conn(monkeypatch):
    fake = FakeConn()
    monkeypatch.setattr(lago_prefix, 'connect', lambda uri: fake)
    monkeypatch.setattr(lago_prefix_info, 'connect', lambda uri: fake)
    return fake


def info(make_run, path, check_mode=False, diff=False):
    run = make_run(check_mode=check_mode, diff=diff, **module_params(lago_prefix_info.ARGUMENT_SPEC, path=str(path)))
    return run.result(lago_prefix_info.execute(run))


@pytest.fixture
def prefix(make_run, conn, tmp_path):
    path = tmp_path / 'prefix'
    args = module_params(lago_prefix.ARGUMENT_SPEC, path=str(path), spec=SPEC, virt_type='qemu',
                         lease_dir=str(tmp_path / 'subnets'), template_store=str(tmp_path / 'store'))
    run = make_run(**args)
    return run.result(lago_prefix.execute(run))['prefix']


@pytest.mark.parametrize('check_mode, diff', [(False, False), (True, True)])
def test_describes_the_prefix_and_changes_nothing(make_run, conn, prefix, check_mode, diff):
    before = listing(prefix['path'])
    result = info(make_run, prefix['path'], check_mode=check_mode, diff=diff)
    assert result['changed'] is False and result['prefix'] == prefix
    assert result['prefix']['vms']['vm01']['state'] == 'shut off'
    assert result['prefix']['nets']['lan']['state'] == 'inactive'
    assert result.get('diff', {'before': {}, 'after': {}}) == {'before': {}, 'after': {}}
    assert listing(prefix['path']) == before


def test_live_state_follows_libvirt(make_run, conn, prefix):
    conn.domains['%s-vm01' % prefix['short_id']].running = True
    del conn.networks['%s-lan' % prefix['short_id']]
    described = info(make_run, prefix['path'])['prefix']
    assert described['vms']['vm01']['state'] == 'running' and described['nets']['lan']['state'] == 'absent'


def test_missing_prefix_is_named(make_run, conn, tmp_path):
    with pytest.raises(errors.PrefixError) as err:
        info(make_run, tmp_path / 'nowhere')
    assert '%s is not an initialized lago prefix' % (tmp_path / 'nowhere') in str(err.value)
    assert not os.path.exists(str(tmp_path / 'nowhere'))


def test_damaged_state_is_named(make_run, conn, prefix):
    with open(os.path.join(prefix['path'], 'state.json'), 'w') as handle:
        handle.write('{not json')
    with pytest.raises(errors.PrefixError) as err:
        info(make_run, prefix['path'])
    assert 'state.json is damaged (not valid JSON' in str(err.value)
