# -*- coding: utf-8 -*-
"""Two lago_prefix runs on one path at the same time (two ansible-playbook processes):
the prefix lock makes the second wait, then converge (or fail naming the lock); the
prefix is intact afterwards, and destroy leaves no lease and no libvirt object.
And destroy keeps a directory the user made before init, with the user's files."""

from __future__ import absolute_import, division, print_function

import json
import os
import threading

import pytest

from prefixlib import leases, libvirt_objects

pytestmark = pytest.mark.lab

TWO_VMS = '''
    domains:
      vm01: &vm
        memory: 512
        nics: [{net: lan}]
        disks: [{template_name: debian12, type: template, name: root, dev: vda, format: qcow2}]
      vm02: *vm
    nets:
      lan: {type: nat, management: true}
'''


def module_args(prefix_vars, path, **extra):
    args = dict(path=path, template_repo=prefix_vars['lago_template_repo'],
                template_store=prefix_vars['lago_template_store'], lease_dir=prefix_vars['lago_lease_dir'],
                virt_type='qemu')
    args.update(extra)
    return args


def at_once(ansible_module, *args_list):
    """Run lago_prefix with each of ``args_list`` at the same time; their results in order."""
    results = [None] * len(args_list)

    def one(index, args):
        results[index] = ansible_module('lago.lago.lago_prefix', args)
    threads = [threading.Thread(target=one, args=(index, args)) for index, args in enumerate(args_list)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert all(result is not None for result in results), results
    return results


def test_two_inits_of_one_path_at_once(prefix_vars, write_init_file, ansible_module):
    path = prefix_vars['lago_prefix_path']
    args = module_args(prefix_vars, path, init_file=write_init_file(TWO_VMS))
    short_id = None
    try:
        first, second = at_once(ansible_module, args, args)
        ok = [result for result in (first, second) if not result.get('failed')]
        for result in (first, second):
            if result.get('failed'):
                assert 'prefix %s is busy: held by pid' % path in result['msg'], result
        assert ok, (first, second)
        assert sorted(result['changed'] for result in ok) == ([False, True] if len(ok) == 2 else [True]), \
            'exactly one run builds the prefix, the other finds it built: %s' % ok
        built = next(result for result in ok if result['changed'])['prefix']
        short_id = built['short_id']
        for result in ok:
            assert result['prefix'] == built, 'both runs report the one prefix'
        # The prefix is intact: state.json loads, and uuid, leases and libvirt objects match it.
        with open(os.path.join(path, 'state.json')) as handle:
            state = json.load(handle)
        with open(os.path.join(path, 'uuid')) as handle:
            assert handle.read().strip() == state['uuid'] == built['uuid']
        assert state['status'] == 'ready' and sorted(state['vms']) == ['vm01', 'vm02']
        lease = os.path.join(prefix_vars['lago_lease_dir'], leases(prefix_vars['lago_lease_dir'])[0])
        assert len(leases(prefix_vars['lago_lease_dir'])) == 1
        with open(lease) as handle:
            assert state['uuid'] in handle.read(), 'the lease belongs to the prefix that stayed'
        assert libvirt_objects(short_id) == sorted('%s-%s' % (short_id, name) for name in ('lan', 'vm01', 'vm02'))
        again = ansible_module('lago.lago.lago_prefix', args)
        assert not again.get('failed') and not again['changed'], again
    finally:
        gone = at_once(ansible_module, *[dict(path=path, state='absent', lease_dir=prefix_vars['lago_lease_dir'])] * 2)
    assert [result.get('failed', False) for result in gone] == [False, False], gone
    assert sorted(result['changed'] for result in gone) == [False, True], gone
    assert not os.path.exists(path)
    assert leases(prefix_vars['lago_lease_dir']) == []
    assert short_id is None or libvirt_objects(short_id) == []


def test_destroy_keeps_the_users_directory(prefix_vars, write_init_file, ansible_module, tmp_path):
    path = str(tmp_path / 'mine')
    os.makedirs(path)
    with open(os.path.join(path, 'notes.txt'), 'w') as handle:
        handle.write('my notes\n')
    made = ansible_module('lago.lago.lago_prefix',
                          module_args(prefix_vars, path, init_file=write_init_file(TWO_VMS.replace('vm02: *vm', ''))))
    assert made['changed'] and not made.get('failed'), made
    short_id = made['prefix']['short_id']
    gone = ansible_module('lago.lago.lago_prefix', dict(path=path, state='absent', lease_dir=prefix_vars['lago_lease_dir']))
    assert gone['changed'] and not gone.get('failed'), gone
    assert os.listdir(path) == ['notes.txt']
    with open(os.path.join(path, 'notes.txt')) as handle:
        assert handle.read() == 'my notes\n'
    assert leases(prefix_vars['lago_lease_dir']) == [] and libvirt_objects(short_id) == []
    again = ansible_module('lago.lago.lago_prefix', dict(path=path, state='absent', lease_dir=prefix_vars['lago_lease_dir']))
    assert not again.get('failed') and not again['changed'], again
    assert os.listdir(path) == ['notes.txt']
