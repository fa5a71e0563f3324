# -*- coding: utf-8 -*-
"""A changed init file on an existing prefix: safe changes applied with a
diff, the rest refused with a message; check mode changes nothing."""

from __future__ import absolute_import, division, print_function

import json
import os

import pytest

from prefixlib import leases, libvirt_objects

pytestmark = pytest.mark.lab

BASE = '''
    domains:
      vm01: &vm
        memory: 512
        nics: [{net: lan}]
        disks: [{template_name: debian12, type: template, name: root, dev: vda, format: qcow2}]
%s
    nets:
      lan: {type: nat, management: true}
'''


def args_for(prefix_vars, init_file, **extra):
    args = dict(path=prefix_vars['lago_prefix_path'], init_file=init_file,
                template_repo=prefix_vars['lago_template_repo'], template_store=prefix_vars['lago_template_store'],
                lease_dir=prefix_vars['lago_lease_dir'], virt_type='qemu')
    args.update(extra)
    return args


def test_changes_to_an_existing_prefix(prefix_vars, write_init_file, ansible_module):
    path = prefix_vars['lago_prefix_path']
    first = write_init_file(BASE % '', name='one.yml')
    try:
        created = ansible_module('lago.lago.lago_prefix', args_for(prefix_vars, first))
        assert created['changed'] and not created.get('failed'), created
        short_id = created['prefix']['short_id']

        # A new VM and more memory for a stopped one: shown in check mode, then applied.
        grown = write_init_file(BASE.replace('memory: 512', 'memory: 640') % '      vm02: *vm', name='two.yml')
        preview = ansible_module('lago.lago.lago_prefix', args_for(prefix_vars, grown), check=True, diff=True)
        assert preview['changed'] and preview['changes']['vms']['added'] == ['vm02'], preview
        assert 'vm02' in json.dumps(preview['diff']['after'])
        with open(os.path.join(path, 'state.json')) as handle:
            assert sorted(json.load(handle)['vms']) == ['vm01'], 'check mode must change nothing'
        applied = ansible_module('lago.lago.lago_prefix', args_for(prefix_vars, grown), diff=True)
        assert applied['changed'], applied
        assert sorted(applied['prefix']['vms']) == ['vm01', 'vm02']
        assert applied['prefix']['vms']['vm01']['memory'] == 640
        assert applied['prefix']['vms']['vm02']['address'] != applied['prefix']['vms']['vm01']['address']
        assert sorted(libvirt_objects(short_id)) == sorted(['%s-%s' % (short_id, n) for n in ('lan', 'vm01', 'vm02')])
        again = ansible_module('lago.lago.lago_prefix', args_for(prefix_vars, grown))
        assert not again['changed'], again

        # A NIC moved to another net is refused, and nothing changes.
        moved = write_init_file(BASE.replace('nics: [{net: lan}]', 'nics: [{net: lan}, {net: other}]')
                                .replace('lan: {type: nat, management: true}',
                                         'lan: {type: nat, management: true}\n      other: {type: nat}')
                                % '      vm02: *vm', name='three.yml')
        refused = ansible_module('lago.lago.lago_prefix', args_for(prefix_vars, moved))
        assert refused.get('failed')
        assert 'net other would be added' in refused['msg'] and 'cannot change' in refused['msg'], refused['msg']
        with open(os.path.join(path, 'state.json')) as handle:
            assert sorted(json.load(handle)['nets']) == ['lan']
    finally:
        gone = ansible_module('lago.lago.lago_prefix', dict(path=path, state='absent'))
    assert gone['changed'] and not os.path.exists(path)
    assert leases(prefix_vars['lago_lease_dir']) == []
    assert libvirt_objects(short_id) == []
