# -*- coding: utf-8 -*-
"""Bad input to lago_prefix: a clear message naming the problem, and nothing
left behind (no prefix files, no lease, no libvirt object)."""

from __future__ import absolute_import, division, print_function

import os

import pytest

from prefixlib import leases, libvirt_objects

pytestmark = pytest.mark.lab

VM = '''
    domains:
      {name}:
        memory: 512
        nics: [{{net: {net}{ip}}}]
        disks: [{{template_name: {template}, type: template, name: root, dev: vda, format: qcow2}}]{extra}
      {other}
    nets:
      lan: {{type: nat, management: true}}
'''


def init_text(name='vm01', net='lan', ip='', template='debian12', extra='', other=''):
    return VM.format(name=name, net=net, ip=ip, template=template, extra=extra, other=other)


CASES = {
    'unknown net': (init_text(net='lan2'), ["domains.vm01.nics[0].net", "unknown net 'lan2'"]),
    'two management nics': (
        init_text().replace('nics: [{net: lan}]', 'nics: [{net: lan}, {net: lan}]'),
        ['domains.vm01.nics', 'lan']),
    'duplicate static ip': (
        init_text(ip=', ip: 192.168.200.10', other='vm02: {memory: 512, nics: [{net: lan, ip: 192.168.200.10}], '
                  'disks: [{template_name: debian12, type: template, name: root, dev: vda, format: qcow2}]}'),
        ['192.168.200.10', 'vm01', 'vm02']),
    'unknown template': (init_text(template='nosuchtemplate'), ['nosuchtemplate', 'debian12']),
    'invalid vm name': (init_text(name='vm_01'), ['vm_01']),
    'missing deploy script': (
        init_text(extra='\n        metadata: {deploy-scripts: [$LAGO_INITFILE_PATH/missing.sh]}'),
        ['missing.sh', 'vm01']),
    'pinned to a hypervisor without hypervisors': (
        init_text(extra='\n        hypervisor: hv1'),
        ["domains.vm01.hypervisor: VM vm01 is pinned to unknown hypervisor 'hv1'", 'no hypervisors are named']),
}


def assert_nothing_left(prefix_vars, before_objects):
    path = prefix_vars['lago_prefix_path']
    assert not os.path.exists(path), os.listdir(path)
    assert leases(prefix_vars['lago_lease_dir']) == []
    assert libvirt_objects('') == before_objects


def module_args(prefix_vars, **extra):
    args = dict(path=prefix_vars['lago_prefix_path'], template_repo=prefix_vars['lago_template_repo'],
                template_store=prefix_vars['lago_template_store'], lease_dir=prefix_vars['lago_lease_dir'],
                virt_type='qemu')
    args.update(extra)
    return args


@pytest.mark.parametrize('case', sorted(CASES))
def test_bad_init_file(case, prefix_vars, write_init_file, ansible_module):
    text, must_contain = CASES[case]
    before = libvirt_objects('')
    result = ansible_module('lago.lago.lago_prefix', module_args(prefix_vars, init_file=write_init_file(text)))
    assert result.get('failed'), result
    for fragment in must_contain:
        assert fragment in result['msg'], (fragment, result['msg'])
    assert_nothing_left(prefix_vars, before)


def test_unknown_template_rolls_back_leases_and_files(prefix_vars, write_init_file, ansible_module):
    """A template is looked up after the subnet was leased: the lease must go again."""
    before = libvirt_objects('')
    result = ansible_module('lago.lago.lago_prefix',
                            module_args(prefix_vars, init_file=write_init_file(init_text(template='nosuch'))))
    assert result.get('failed')
    assert 'step "disks of vm01"' in result['msg'], result['msg']
    assert 'was removed again' in result['msg']
    assert_nothing_left(prefix_vars, before)


def test_init_file_not_yaml(prefix_vars, write_init_file, ansible_module):
    path = write_init_file('domains: {vm01: [unclosed\n')
    result = ansible_module('lago.lago.lago_prefix', module_args(prefix_vars, init_file=path))
    assert result.get('failed')
    assert path in result['msg'] and 'line' in result['msg'], result['msg']
    assert not os.path.exists(prefix_vars['lago_prefix_path'])


def test_started_on_uninitialized_prefix(prefix_vars, ansible_module):
    result = ansible_module('lago.lago.lago_prefix', module_args(prefix_vars, state='started'))
    assert result.get('failed')
    assert 'not an initialized lago prefix' in result['msg'], result['msg']
    assert not os.path.exists(prefix_vars['lago_prefix_path'])


def test_absent_leaves_a_directory_that_is_not_a_prefix_alone(prefix_vars, ansible_module):
    os.makedirs(prefix_vars['lago_prefix_path'])
    keep = os.path.join(prefix_vars['lago_prefix_path'], 'precious.txt')
    open(keep, 'w').close()
    result = ansible_module('lago.lago.lago_prefix', module_args(prefix_vars, state='absent'))
    assert not result.get('failed') and not result['changed'], result
    assert any('not a lago prefix' in warning for warning in result.get('warnings', [])), result
    assert os.listdir(prefix_vars['lago_prefix_path']) == ['precious.txt']


def test_interrupted_init_is_finished_by_the_next_run(prefix_vars, write_init_file, ansible_module):
    """An init killed half way leaves state.json with status 'initializing'; the
    next run takes apart what it recorded and builds the prefix afresh."""
    import json
    args = module_args(prefix_vars, init_file=write_init_file(init_text()))
    first = ansible_module('lago.lago.lago_prefix', args)
    assert first['changed'] and not first.get('failed'), first
    state_file = os.path.join(prefix_vars['lago_prefix_path'], 'state.json')
    with open(state_file) as handle:
        state = json.load(handle)
    state['status'] = 'initializing'  # as if the process died before the end
    with open(state_file, 'w') as handle:
        json.dump(state, handle)
    second = ansible_module('lago.lago.lago_prefix', args)
    try:
        assert second['changed'] and not second.get('failed'), second
        assert libvirt_objects(second['prefix']['short_id']) == sorted(
            '%s-%s' % (second['prefix']['short_id'], name) for name in ('lan', 'vm01'))
        assert len(leases(prefix_vars['lago_lease_dir'])) == 1
        third = ansible_module('lago.lago.lago_prefix', args)
        assert not third['changed'], third
    finally:
        gone = ansible_module('lago.lago.lago_prefix', dict(path=prefix_vars['lago_prefix_path'], state='absent'))
    assert gone['changed']
    assert leases(prefix_vars['lago_lease_dir']) == []
    assert libvirt_objects(state['short_id']) == []
