# -*- coding: utf-8 -*-
"""prefix_power's SSH wait on a multi-host prefix: through the jump, without the controller's libvirt."""

from __future__ import absolute_import, division, print_function

import json
import os

import pytest

from ansible_collections.lago.lago.plugins.module_utils import prefix_power, ssh
from ansible_collections.lago.lago.plugins.module_utils.errors import PrefixError
from ansible_collections.lago.lago.plugins.module_utils.hypervisor_watch import HypervisorWatch
from ansible_collections.lago.lago.tests.unit.plugins.module_utils.test_prefix_state import _multihost


class _NoLibvirt(object):
    """The controller's libvirtd: a multi-host prefix's domains are not there, and it must not be asked."""

    def __getattr__(self, name):
        raise AssertionError('the controller asked its libvirtd for %s' % name)


def _seeded(state, **bootstrap):
    """The controller's init spec (its VMs have no seed: those are on the hypervisors)."""
    domains = dict((name, dict(bootstrap=bootstrap.get(name, True))) for name in state.vm_names)
    with open(state.layout.spec_file, 'w') as handle:
        json.dump(dict(domains=domains, nets={}), handle)
    return state


def test_a_slice_of_the_wait_logs_in_through_the_jump_and_reports_where_the_vm_runs(tmp_path, monkeypatch):
    state = _seeded(_multihost(tmp_path))
    seen = {}

    def logins(targets, **kwargs):
        seen.update(targets=targets, watch=kwargs['watch'])
        return {'vm01': 3.0}, ['vm02']
    monkeypatch.setattr(prefix_power, 'wait_for_logins', logins)
    looks = prefix_power.look_for_ssh(state, _NoLibvirt(), timeout=300, since=None, wait=1)
    assert seen['targets']['vm02'][4] == state.jump_for('vm02') and isinstance(seen['targets']['vm02'][4], ssh.Jump)
    # the watch looks at each VM on its own hypervisor: its domain, its console in that hypervisor's part
    watch = seen['watch']
    assert isinstance(watch, HypervisorWatch)
    assert watch.vms['vm02'] == (state.jump_to('hv2'), 'aaaaaaaa-vm02', os.path.join(state.path, 'logs', 'vm02.console.log'),
                                 state.jump_for('vm02'))
    assert watch.vms['vm01'][0] == state.jump_to('hv1') and watch.vms['vm01'][3] == state.jump_for('vm01')
    assert looks['vm01'] == dict(reachable=True, waited=3.0)
    assert looks['vm02']['reachable'] is False and looks['vm02']['console'] == ''
    assert looks['vm02']['progress'] == 'not watched yet, on hv2'


def test_a_vm_that_never_answers_names_its_hypervisor_and_part(tmp_path, monkeypatch):
    state = _seeded(_multihost(tmp_path, path='/var/lib/libvirt/parts/p'))
    state.vm('vm02').hypervisor = 'hv1'

    def logins(targets, **kwargs):
        kwargs['why']['vm02'] = 'cannot reach hypervisor hv2'
        kwargs['given_up'].add('vm02')
        return {'vm01': 1.0}, ['vm02']
    monkeypatch.setattr(prefix_power, 'wait_for_logins', logins)
    with pytest.raises(PrefixError, match=r'(?s)no SSH login within 300s \(vm02\).*cannot reach hypervisor hv2\n'
                                          r'\(its console is on hypervisor hv1, in its part /var/lib/libvirt/parts/p\)'):
        prefix_power.look_for_ssh(state, _NoLibvirt(), timeout=300, wait=1)


def test_a_vm_without_bootstrap_is_not_waited_for(tmp_path, monkeypatch):
    state = _seeded(_multihost(tmp_path), vm02=False)
    seen = {}

    def logins(targets, **kwargs):
        seen.update(targets)
        return dict((name, 1.0) for name in targets), []
    monkeypatch.setattr(prefix_power, 'wait_for_logins', logins)
    assert sorted(prefix_power.look_for_ssh(state, _NoLibvirt(), wait=1)) == ['vm01'] and sorted(seen) == ['vm01']
