# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The init-file keys Lago took that are applied, never silently ignored: cpu_model /
cpu_custom (the domain's <cpu>, checked against libvirt's domain capabilities),
root-password (a SHA-512 crypt hash in the seed, the clear one kept nowhere),
boot_time_sec (the VM's own SSH budget), distro (recorded); ssh-password is refused."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import importlib.machinery
import importlib.util
import json
import os

import pytest
from lxml import etree

from ansible_collections.lago.lago.plugins.module_utils import (
    _runtime, domain, domain_cpu, passwords, prefix_vms, seed, ssh)
from ansible_collections.lago.lago.plugins.module_utils.errors import SpecError
from ansible_collections.lago.lago.plugins.module_utils.spec_normalize import normalize_spec
from ansible_collections.lago.lago.plugins.module_utils.spec_secrets import seal_passwords
from ansible_collections.lago.lago.tests.unit.plugins.fake_libvirt import FakeConn

TEMPLATE = {'type': 'template', 'template_name': 'debian12'}


def raw_spec(**vms):
    base = {'nics': [{'net': 'lan'}], 'disks': [dict(TEMPLATE)]}
    return {'domains': dict((name, dict(copy.deepcopy(base), **keys)) for name, keys in vms.items()),
            'nets': {'lan': {'management': True}}}


def vm_of(**keys):
    return normalize_spec(raw_spec(vm01=keys))['domains']['vm01']


# --- accepted forms -------------------------------------------------------------------

@pytest.mark.parametrize('model', ['host-passthrough', 'host-model', 'Westmere', 'qemu64', 'Skylake-Client-IBRS'])
def test_cpu_model_forms_are_kept(model):
    assert vm_of(cpu_model=model)['cpu_model'] == model


def test_cpu_custom_is_the_cpu_element_as_lago_took_it():
    custom = {'@mode': 'custom', '@match': 'exact', 'model': {'@fallback': 'allow', '#text': 'Westmere'},
              'feature': [{'@policy': 'require', '@name': 'vmx'}, {'@policy': 'disable', '@name': 'svm'}],
              'topology': {'@sockets': 1, '@cores': 2, '@threads': 1}}
    vm = vm_of(cpu_custom=custom)
    assert vm['cpu_custom'] == custom
    node = domain_cpu.cpu_element(cpu_custom=vm['cpu_custom'])
    assert node.get('mode') == 'custom' and node.get('match') == 'exact'
    assert node.find('model').text == 'Westmere' and node.find('model').get('fallback') == 'allow'
    assert [(f.get('policy'), f.get('name')) for f in node.findall('feature')] == [('require', 'vmx'),
                                                                                   ('disable', 'svm')]
    assert node.find('topology').attrib == {'sockets': '1', 'cores': '2', 'threads': '1'}


def test_the_other_keys_are_kept():
    vm = vm_of(**{'root-password': 123456, 'boot_time_sec': '90', 'distro': 'el8'})
    assert vm['root-password'] == '123456' and vm['boot_time_sec'] == 90 and vm['distro'] == 'el8'
    hashed = passwords.sha512_crypt('x')
    assert vm_of(**{'root-password': hashed})['root-password'] == hashed


# --- every problem at once, each with its place ----------------------------------------

def test_every_problem_of_the_new_keys_is_reported_at_once():
    raw = raw_spec(vm01={'cpu_model': 'host passthrough', 'ssh-password': 'pw', 'boot_time_sec': 0},
                   vm02={'root-password': 'pw', 'bootstrap': False, 'cpu_custom': {'@mode': 'host'},
                         'distro': ''})
    with pytest.raises(SpecError) as caught:
        normalize_spec(raw)
    problems = caught.value.problems
    places = sorted(problem.split(': ')[0] for problem in problems)
    assert places == ['domains.vm01.boot_time_sec', 'domains.vm01.cpu_model', 'domains.vm01.ssh-password',
                      'domains.vm02.cpu_custom.@mode', 'domains.vm02.distro', 'domains.vm02.root-password']
    assert str(caught.value).startswith('6 problems: ')
    assert 'pw' not in str(caught.value).replace('ssh-password', '').replace('root-password', '')


# --- cpu_model / cpu_custom against libvirt's domain capabilities ------------------------

CAPS = domain_cpu.capabilities(FakeConn(), 'qemu')


def test_capabilities_read_modes_and_models():
    assert CAPS['modes'] == {'host-passthrough': False, 'maximum': True, 'host-model': True, 'custom': True}
    assert CAPS['models'] == {'qemu64': True, 'Westmere': True, 'Skylake-Client': False, 'Nehalem': True}


@pytest.mark.parametrize('vm, fragment', [
    ({'cpu_model': 'host-passthrough'},
     'domains.vm01.cpu_model: host-passthrough is not possible with virt_type qemu (TCG emulates the CPU'),
    ({'cpu_model': 'Haswell9'}, "domains.vm01.cpu_model: libvirt knows no CPU model 'Haswell9' for virt_type qemu"),
    ({'cpu_model': 'Skylake-Client'}, 'domains.vm01.cpu_model: CPU model Skylake-Client is not usable'),
    ({'cpu_custom': {'@mode': 'host-passthrough'}}, 'domains.vm01.cpu_custom: host-passthrough is not possible'),
    ({'cpu_custom': {'model': {'#text': 'Haswell9'}}}, "domains.vm01.cpu_custom: libvirt knows no CPU model 'Haswell9'"),
])
def test_what_libvirt_cannot_give_is_refused_naming_vm_key_and_why(vm, fragment):
    found = domain_cpu.problems(CAPS, vm, 'domains.vm01', 'qemu')
    assert len(found) == 1 and found[0].startswith(fragment), found
    assert 'it offers' in found[0] or 'libvirt offers' in found[0]
    assert 'Westmere' in found[0] and 'host-model' in found[0]


@pytest.mark.parametrize('vm', [{'cpu_model': 'host-model'}, {'cpu_model': 'Westmere'}, {},
                                {'cpu_custom': {'model': 'Nehalem'}}, {'cpu_custom': {'@mode': 'host-model'}}])
def test_what_libvirt_can_give_passes(vm):
    assert domain_cpu.problems(CAPS, vm, 'domains.vm01', 'qemu') == []


@pytest.mark.parametrize('cpu_model, virt_type, expected', [
    ('Westmere', 'qemu', b'<cpu mode="custom" match="exact"><model fallback="forbid">Westmere</model></cpu>'),
    ('host-model', 'qemu', b'<cpu mode="host-model"/>'),
    ('host-passthrough', 'kvm', b'<cpu mode="host-passthrough"/>'),
    (None, 'kvm', b'<cpu mode="host-passthrough"/>'),
    (None, 'qemu', None),
])
def test_the_domain_xml_carries_the_cpu(cpu_model, virt_type, expected):
    xml = domain.build_domain_xml('vm', 512, 1, [dict(path='/x.qcow2', format='qcow2', dev='vda')], [],
                                  virt_type=virt_type, cpu_model=cpu_model)
    node = etree.fromstring(xml.encode('utf-8'), etree.XMLParser(remove_blank_text=True)).find('cpu')
    assert (None if node is None else etree.tostring(node).strip()) == expected


# --- root-password ----------------------------------------------------------------------

def test_a_clear_password_becomes_a_salted_sha512_hash():
    spec = normalize_spec(raw_spec(vm01={'root-password': 'hunter2'}, vm02={}))
    sealed = seal_passwords(spec)
    hashed = sealed['domains']['vm01']['root-password']
    assert hashed.startswith('$6$') and passwords.verify('hunter2', hashed)
    assert 'hunter2' not in json.dumps(sealed) and 'root-password' not in sealed['domains']['vm02']
    assert spec['domains']['vm01']['root-password'] == 'hunter2', 'the given spec is not changed'


def test_an_unchanged_password_keeps_its_hash_and_a_changed_one_gets_a_new_one():
    old = seal_passwords(normalize_spec(raw_spec(vm01={'root-password': 'hunter2'})))
    same = seal_passwords(normalize_spec(raw_spec(vm01={'root-password': 'hunter2'})), old)
    other = seal_passwords(normalize_spec(raw_spec(vm01={'root-password': 'hunter3'})), old)
    assert same == old
    assert other['domains']['vm01']['root-password'] != old['domains']['vm01']['root-password']
    assert passwords.verify('hunter3', other['domains']['vm01']['root-password'])


def test_a_given_hash_is_kept():
    hashed = passwords.sha512_crypt('hunter2')
    assert seal_passwords(normalize_spec(raw_spec(vm01={'root-password': hashed})))['domains']['vm01'][
        'root-password'] == hashed


def test_the_seed_sets_roots_password_from_the_hash():
    hashed = passwords.sha512_crypt('hunter2')
    files = seed.render_seed('vm01', 'id', ['ssh-rsa AAAA x'], [], root_password_hash=hashed)
    config = json.loads(files['user-data'].split('\n', 1)[1])
    assert config['chpasswd'] == {'expire': False, 'users': [{'name': 'root', 'password': hashed, 'type': 'hash'}]}
    assert config['ssh_pwauth'] is False
    assert 'chpasswd' not in json.loads(seed.render_seed('vm01', 'id', [], [])['user-data'].split('\n', 1)[1])


def _nocloud():
    path = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'roles', 'template_build', 'files',
                        'lago-nocloud')
    loader = importlib.machinery.SourceFileLoader('lago_nocloud', path)
    spec = importlib.util.spec_from_loader('lago_nocloud', loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_lago_nocloud_feeds_the_passwords_to_chpasswd_on_stdin(monkeypatch):
    nocloud = _nocloud()
    hashed = passwords.sha512_crypt('hunter2')
    calls = []
    monkeypatch.setattr(nocloud.subprocess, 'run', lambda argv, **kwargs: calls.append((argv, kwargs)))
    nocloud.apply_passwords({'chpasswd': {'expire': False, 'users': [
        {'name': 'root', 'password': hashed, 'type': 'hash'}, {'name': 'cloud', 'password': 'pw', 'type': 'text'}],
        'list': 'admin:%s\n' % hashed}})
    assert [(argv, kwargs['input']) for argv, kwargs in calls] == [
        (['chpasswd', '-e'], 'root:%s\nadmin:%s\n' % (hashed, hashed)), (['chpasswd'], 'cloud:pw\n')]
    assert 'chpasswd' in nocloud.SUPPORTED


def test_secret_values_of_module_parameters_are_found_at_any_depth():
    params = {'path': '/p', 'spec': {'domains': {'vm01': {'root-password': 123456, 'memory': 512},
                                                 'vm02': {'root-password': 'hunter2'}}}}
    assert _runtime.secret_values(params) == {'123456', 'hunter2'}


# --- boot_time_sec and distro -----------------------------------------------------------

def test_boot_time_sec_and_distro_and_the_cpu_go_into_the_vm_record():
    vm_spec = vm_of(cpu_model='Westmere', boot_time_sec=90, distro='el8', **{'root-password': 'x'})
    record = dict((key.replace('-', '_'), vm_spec[key]) for key in prefix_vms.OPTIONAL_VM_KEYS if key in vm_spec)
    assert record == {'cpu_model': 'Westmere', 'boot_time_sec': 90, 'distro': 'el8'}


def test_each_vm_waits_for_its_own_ssh_budget(monkeypatch):
    monkeypatch.setattr(ssh, 'open_ssh', lambda address, timeout=1.0: None)
    targets = dict((name, ('root', '192.0.2.1', '/k', '/kh')) for name in ('fast', 'slow'))
    why = {}
    ready, pending = ssh.wait_for_logins(targets, timeout=0.5, poll=0.05, why=why, budgets={'slow': 1.5})
    assert ready == {} and pending == ['fast', 'slow']
    assert 'its budget of 0.5s ran out' in why['fast'] and 'its budget of 1.5s ran out' in why['slow']


def _module_args(monkeypatch, args):
    """AnsibleModule's parameters for this test, on ansible-core 2.19 (patch_module_args) and before."""
    try:
        from ansible.module_utils.testing import patch_module_args
    except ImportError:
        from ansible.module_utils import basic
        monkeypatch.setattr(basic, '_ANSIBLE_ARGS', json.dumps({'ANSIBLE_MODULE_ARGS': args}).encode('utf-8'))
        return None
    return patch_module_args(args)


def test_a_specs_root_password_is_masked_in_the_logged_invocation_and_the_result(monkeypatch, capsys):
    from ansible.module_utils import basic
    logged = []
    monkeypatch.setattr(basic.AnsibleModule, 'log', lambda self, msg, log_args=None: logged.append((msg, log_args)))
    patched = _module_args(monkeypatch, {'spec': {'domains': {'vm01': {'root-password': 'hunter2-secret'}}}})
    if patched is not None:
        patched.__enter__()
    try:
        module = _runtime._Module(argument_spec=dict(spec=dict(type='dict')))
        assert logged and 'hunter2-secret' not in repr(logged)
        with pytest.raises(SystemExit):
            module.exit_json(echo=module.params['spec'])
    finally:
        if patched is not None:
            patched.__exit__(None, None, None)
    out = capsys.readouterr().out
    assert 'hunter2-secret' not in out and json.loads(out)['invocation']['module_args']['spec']
