# -*- coding: utf-8 -*-
"""The inventory plugin lago.lago.lago, run through ansible-inventory.

Prefixes are synthetic (synthetic_prefix.py): a state.json, a key pair and a
known_hosts in a temp dir. The lab test starts a real (disk-less) domain to
check running_only against libvirt.
"""

from __future__ import absolute_import, division, print_function

import os
import shlex
import subprocess
import sys

import pytest

from ansible_collections.lago.lago.tests.unit.plugins.synthetic_prefix import (
    failed, hosts_of, hostvars, make_prefix, ok, read_state, vm_state, write_state)


# --- hosts and variables -------------------------------------------------------

def test_each_vm_is_a_host_with_ssh_settings(inventory, two_vm_prefix):
    listing = ok(inventory({'prefixes': [two_vm_prefix]}))
    assert hosts_of(listing, 'all') == {'vm01', 'vm02'}
    vm01 = hostvars(listing)['vm01']
    assert vm01['ansible_host'] == '192.168.200.2'
    assert vm01['ansible_user'] == 'root'
    assert hostvars(listing)['vm02']['ansible_user'] == 'cloud'
    assert vm01['ansible_ssh_private_key_file'] == os.path.join(two_vm_prefix, 'id_rsa')
    assert vm01['ansible_python_interpreter'] == '/usr/bin/python3'


def test_ssh_checks_host_keys_against_the_prefix_known_hosts_only(inventory, two_vm_prefix):
    vm01 = hostvars(ok(inventory({'prefixes': [two_vm_prefix]})))['vm01']
    argv = shlex.split(vm01['ansible_ssh_common_args'])  # as the ssh connection plugin splits it
    options = dict(value.split('=', 1) for flag, value in zip(argv[::2], argv[1::2]) if flag == '-o')
    assert options == {
        'UserKnownHostsFile': '"%s"' % os.path.join(two_vm_prefix, 'known_hosts'),
        'GlobalKnownHostsFile': '/dev/null',
        'StrictHostKeyChecking': 'yes',
        'HostKeyAlias': 'vm01',
        'IdentitiesOnly': 'yes',
    }


def test_ssh_reads_the_known_hosts_path_as_one_file(inventory, tmp_path):
    prefix = str(tmp_path / 'my lab %d')
    make_prefix(prefix, {'vm01': vm_state('bbbb0000', 'vm01', 1)})
    vm01 = hostvars(ok(inventory({'prefixes': [prefix]})))['vm01']
    argv = ['ssh', '-G'] + shlex.split(vm01['ansible_ssh_common_args']) + ['vm01']
    config = subprocess.run(argv, stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    assert 'userknownhostsfile %s\n' % os.path.join(prefix, 'known_hosts') in config
    assert 'globalknownhostsfile /dev/null\n' in config
    assert 'stricthostkeychecking true\n' in config


def test_lago_hostvars(inventory, two_vm_prefix):
    state = read_state(two_vm_prefix)
    vm01 = hostvars(ok(inventory({'prefixes': [two_vm_prefix]})))['vm01']
    assert vm01['lago_vm_name'] == 'vm01'
    assert vm01['lago_libvirt_name'] == 'lago-aaaa0000-vm01'
    assert vm01['lago_vm_type'] == 'ovirt-engine'
    assert vm01['lago_groups'] == ['engines', 'web-servers']
    assert vm01['lago_nets'] == {
        'lan': {'ip': '192.168.200.2', 'mac': '52:54:00:aa:00:01'},
        'storage': {'ip': '192.168.201.2', 'mac': '52:54:00:aa:01:01'},
    }
    assert vm01['lago_nics'] == state['vms']['vm01']['nics']
    assert vm01['lago_management_net'] == 'lan'
    assert vm01['lago_metadata'] == {'deploy-scripts': ['/p/scripts/vm01/01-setup.sh'], 'distro': 'el8'}
    assert vm01['lago_deploy_scripts'] == ['/p/scripts/vm01/01-setup.sh']
    assert vm01['lago_artifacts'] == ['/var/log']
    assert vm01['lago_disks'] == state['vms']['vm01']['disks']
    assert vm01['lago_prefix'] == two_vm_prefix
    assert vm01['lago_prefix_uuid'] == state['uuid']


def test_values_from_state_json_are_not_templated(inventory, tmp_path):
    prefix = str(tmp_path / 'lab')
    make_prefix(prefix, {'vm01': vm_state('cccc0000', 'vm01', 1, metadata={'note': '{{ 1 + 1 }}'})})
    # compose evaluates its expression; a trusted result would be templated again
    vm01 = hostvars(ok(inventory({'prefixes': [prefix], 'compose': {'note': 'lago_metadata.note'}})))['vm01']
    assert vm01['lago_metadata'] == {'note': '{{ 1 + 1 }}'}
    assert vm01['note'] == '{{ 1 + 1 }}'
    assert vm01['lago_deploy_scripts'] == []


def test_ad_hoc_commands_see_the_hostvars_untemplated(inventory, tmp_path, collections_path):
    prefix = str(tmp_path / 'lab')
    make_prefix(prefix, {'vm01': vm_state('cccc0001', 'vm01', 1, metadata={'note': '{{ 1 + 1 }}'})})
    config = tmp_path / 'lab.lago.yml'
    config.write_text('plugin: lago.lago.lago\nprefixes: [lab]\n')
    # debug runs on the controller: no SSH to the (synthetic) VM is needed
    proc = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), 'ansible'), '-i', str(config), 'lago_lab',
         '-m', 'ansible.builtin.debug', '-a', '{"msg": "{{ lago_metadata.note }} {{ ansible_host }}"}'],
        env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path,
                 ANSIBLE_INVENTORY_ENABLED='lago.lago.lago', ANSIBLE_NOCOLOR='1'),
        cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
        timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert '"msg": "{{ 1 + 1 }} 192.168.200.2"' in proc.stdout


# --- groups ---------------------------------------------------------------------

def test_groups_per_prefix_vm_type_net_and_init_file_groups(inventory, two_vm_prefix):
    listing = ok(inventory({'prefixes': [two_vm_prefix]}))
    assert hosts_of(listing, 'lago') == {'vm01', 'vm02'}
    assert hosts_of(listing, 'lago_lab') == {'vm01', 'vm02'}
    assert hosts_of(listing, 'lago_vm_type_ovirt_engine') == {'vm01'}
    assert hosts_of(listing, 'lago_vm_type_ovirt_host') == {'vm02'}
    assert hosts_of(listing, 'lago_net_lan') == {'vm01', 'vm02'}
    assert hosts_of(listing, 'lago_net_storage') == {'vm01'}
    assert hosts_of(listing, 'engines') == {'vm01'}
    assert hosts_of(listing, 'web_servers') == {'vm01'}
    assert set(listing['lago']['children']) == {
        'lago_lab', 'lago_vm_type_ovirt_engine', 'lago_vm_type_ovirt_host', 'lago_net_lan', 'lago_net_storage'}


def test_prefix_group_name_is_made_safe(inventory, tmp_path):
    prefix = str(tmp_path / 'my-lab.1')
    make_prefix(prefix, {'vm01': vm_state('dddd0000', 'vm01', 1)})
    listing = ok(inventory({'prefixes': [prefix]}))
    assert hosts_of(listing, 'lago_my_lab_1') == {'vm01'}
    assert hosts_of(listing, 'lago_vm_type_default') == {'vm01'}


def test_compose_groups_and_keyed_groups(inventory, two_vm_prefix):
    listing = ok(inventory({
        'prefixes': [two_vm_prefix],
        'compose': {'ansible_port': '2222', 'distro': 'lago_metadata.distro'},
        'groups': {'engine_hosts': "lago_vm_type == 'ovirt-engine'"},
        'keyed_groups': [{'key': 'lago_metadata.distro', 'prefix': 'distro'}],
        'strict': True,
    }))
    assert hostvars(listing)['vm01']['ansible_port'] == 2222
    assert hostvars(listing)['vm02']['distro'] == 'debian'
    assert hosts_of(listing, 'engine_hosts') == {'vm01'}
    assert hosts_of(listing, 'distro_el8') == {'vm01'}
    assert hosts_of(listing, 'distro_debian') == {'vm02'}


def test_compose_can_override_the_python_interpreter(inventory, two_vm_prefix):
    listing = ok(inventory({'prefixes': [two_vm_prefix],
                            'compose': {'ansible_python_interpreter': "'/usr/libexec/platform-python'"}}))
    assert hostvars(listing)['vm01']['ansible_python_interpreter'] == '/usr/libexec/platform-python'


def test_strict_makes_a_bad_compose_expression_fatal(inventory, two_vm_prefix):
    config = {'prefixes': [two_vm_prefix], 'compose': {'x': 'lago_metadata.no_such_key.deeper'}}
    assert 'x' not in hostvars(ok(inventory(config)))['vm01']
    assert 'Could not set x for host vm01' in failed(inventory(dict(config, strict=True)))


# --- finding prefixes ------------------------------------------------------------

def test_relative_paths_globs_and_each_prefix_once(inventory, tmp_path):
    labs = tmp_path / 'labs'
    make_prefix(str(labs / 'one'), {'a1': vm_state('eeee0001', 'a1', 1)})
    make_prefix(str(labs / 'two'), {'b1': vm_state('eeee0002', 'b1', 1)})
    os.makedirs(str(labs / 'not-a-prefix'))
    listing = ok(inventory({'prefixes': ['labs/*', 'labs/one', '$LAGO_TEST_LABS/t*']},
                           env={'LAGO_TEST_LABS': str(labs)}))
    assert hosts_of(listing, 'all') == {'a1', 'b1'}
    assert hosts_of(listing, 'lago_one') == {'a1'}
    assert hosts_of(listing, 'lago_two') == {'b1'}


def test_home_is_expanded(inventory, tmp_path):
    make_prefix(str(tmp_path / 'home' / 'lab'), {'vm01': vm_state('eeee0003', 'vm01', 1)})
    listing = ok(inventory({'prefixes': ['~/lab']}, env={'HOME': str(tmp_path / 'home')}))
    assert hostvars(listing)['vm01']['lago_prefix'] == str(tmp_path / 'home' / 'lab')


def test_a_glob_matching_nothing_is_a_warning(inventory, tmp_path, two_vm_prefix):
    rc, listing, stderr = inventory({'prefixes': [two_vm_prefix, str(tmp_path / 'nothing-*')]})
    assert rc == 0, stderr
    assert hosts_of(listing, 'all') == {'vm01', 'vm02'}
    assert 'nothing-* matches no prefix' in stderr


# --- naming clashes ------------------------------------------------------------

def test_same_vm_name_in_two_prefixes_is_an_error_naming_both(inventory, tmp_path):
    one, two = str(tmp_path / 'one'), str(tmp_path / 'two')
    make_prefix(one, {'vm01': vm_state('ffff0001', 'vm01', 1)})
    make_prefix(two, {'vm01': vm_state('ffff0002', 'vm01', 1)})
    message = failed(inventory({'prefixes': [one, two]}))
    assert 'host vm01 would be VM vm01 of prefix %s and VM vm01 of prefix %s' % (one, two) in message
    assert 'host_name: prefixed' in message


def test_prefixed_host_names_tell_prefixes_apart(inventory, tmp_path):
    one, two = str(tmp_path / 'one'), str(tmp_path / 'two')
    make_prefix(one, {'vm01': vm_state('ffff0001', 'vm01', 1)})
    make_prefix(two, {'vm01': vm_state('ffff0002', 'vm01', 1)})
    listing = ok(inventory({'prefixes': [one, two], 'host_name': 'prefixed'}))
    assert hosts_of(listing, 'lago_one') == {'one-vm01'}
    assert hosts_of(listing, 'lago_two') == {'two-vm01'}
    assert hostvars(listing)['two-vm01']['lago_vm_name'] == 'vm01'
    # the host key is still looked up under the VM's own name
    assert '-o HostKeyAlias=vm01' in hostvars(listing)['two-vm01']['ansible_ssh_common_args']


def test_two_prefixes_with_one_directory_name_is_an_error(inventory, tmp_path):
    one, two = str(tmp_path / 'a' / 'lab'), str(tmp_path / 'b' / 'lab')
    make_prefix(one, {'vm01': vm_state('ffff0003', 'vm01', 1)})
    make_prefix(two, {'vm02': vm_state('ffff0004', 'vm02', 1)})
    message = failed(inventory({'prefixes': [one, two]}))
    assert 'prefixes %s and %s would share the group lago_lab' % (one, two) in message


# --- bad input -----------------------------------------------------------------

def test_missing_prefix_is_an_error_naming_it(inventory, tmp_path):
    missing = str(tmp_path / 'gone')
    assert 'prefix %s does not exist' % missing in failed(inventory({'prefixes': [missing]}))


def test_directory_without_state_is_an_error_naming_it(inventory, tmp_path):
    empty = tmp_path / 'empty'
    empty.mkdir()
    message = failed(inventory({'prefixes': [str(empty)]}))
    assert 'lago inventory: %s is not an initialized lago prefix (no state.json)' % empty in message


def test_unreadable_state_is_an_error_naming_the_file(inventory, tmp_path):
    prefix = tmp_path / 'lab'
    make_prefix(str(prefix), {})
    (prefix / 'state.json').write_text('{"version": 1, ')
    message = failed(inventory({'prefixes': [str(prefix)]}))
    assert 'lago inventory: %s is damaged (not valid JSON' % (prefix / 'state.json') in message


def test_other_state_version_is_an_error_naming_the_file(inventory, tmp_path):
    prefix = str(tmp_path / 'lab')
    state = make_prefix(prefix, {})
    write_state(prefix, dict(state, version=2))
    message = failed(inventory({'prefixes': [prefix]}))
    assert '%s: state.json version 2 is not supported (expected 1)' % os.path.join(prefix, 'state.json') in message


def test_vm_without_address_is_an_error(inventory, tmp_path):
    prefix = str(tmp_path / 'lab')
    vm = vm_state('abab0000', 'vm01', 1)
    del vm['address']
    make_prefix(prefix, {'vm01': vm})
    message = failed(inventory({'prefixes': [prefix]}))
    assert '%s: vms.vm01 has no address' % os.path.join(prefix, 'state.json') in message


@pytest.mark.parametrize('config, words', [
    ({'prefixes': [], 'running_only': True}, 'prefixes is empty'),
    ({'prefixes': ['x'], 'running_only': 'maybe'}, "running_only must be a boolean (true or false), not 'maybe'"),
    ({'prefixes': ['x'], 'host_name': 'libvirt'}, "Invalid value 'libvirt' for config 'host_name'"),
    ({'prefixes': 5}, "Config 'prefixes' for 'ansible_collections.lago.lago.plugins.inventory.lago' inventory "
                      "plugin from 'Direct' has an invalid value"),
    ({'prefixes': ['x'], 'cache_timeout': 'soon'}, "Invalid value provided for 'int': 'soon'"),
    ({'prefixes': [['x']]}, "prefixes entries must be paths, got ['x']"),
    ({}, 'prefixes'),
])
def test_bad_options_are_errors(inventory, config, words):
    assert words in failed(inventory(config))


def test_other_file_names_are_not_read(inventory, two_vm_prefix):
    stderr = failed(inventory({'prefixes': [two_vm_prefix]}, name='lab.yml'))
    assert 'Completely failed to parse inventory source' in stderr
    assert 'lago inventory' not in stderr  # the plugin did not even try


# --- cache ------------------------------------------------------------------------

def test_cache_returns_what_was_read_until_disabled_or_flushed(inventory, tmp_path, two_vm_prefix):
    config = {'prefixes': [two_vm_prefix], 'cache': True, 'cache_plugin': 'ansible.builtin.jsonfile',
              'cache_connection': str(tmp_path / 'cache')}
    assert hostvars(ok(inventory(config)))['vm01']['ansible_host'] == '192.168.200.2'
    assert os.listdir(str(tmp_path / 'cache'))

    state = read_state(two_vm_prefix)
    state['vms']['vm01']['address'] = '192.168.200.99'
    state['vms']['vm03'] = vm_state('aaaa0000', 'vm03', 3)
    write_state(two_vm_prefix, state)

    cached = ok(inventory(config))
    assert hostvars(cached)['vm01']['ansible_host'] == '192.168.200.2'
    assert hosts_of(cached, 'all') == {'vm01', 'vm02'}
    assert hosts_of(cached, 'lago_net_storage') == {'vm01'}  # groups are rebuilt from the cached data

    fresh = ok(inventory(dict(config, cache=False)))
    assert hostvars(fresh)['vm01']['ansible_host'] == '192.168.200.99'
    assert hosts_of(fresh, 'all') == {'vm01', 'vm02', 'vm03'}

    # --flush-cache reads the prefixes again and refills the cache
    flushed = ok(inventory(config, extra_args=['--flush-cache']))
    assert hosts_of(flushed, 'all') == {'vm01', 'vm02', 'vm03'}
    assert hosts_of(ok(inventory(config)), 'all') == {'vm01', 'vm02', 'vm03'}


# --- running_only (lab) -----------------------------------------------------------

@pytest.mark.lab
def test_running_only_follows_the_live_domain_state(inventory, tmp_path, unique_name):
    from ansible_collections.lago.lago.plugins.module_utils import domain
    from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import connect

    prefix = str(tmp_path / 'lab')
    short_id = unique_name[-6:] + '00'
    running, absent = vm_state(short_id, 'vm01', 1), vm_state(short_id, 'vm02', 2)
    running['libvirt_name'] = unique_name + '-vm01'
    absent['libvirt_name'] = unique_name + '-vm02'
    make_prefix(prefix, {'vm01': running, 'vm02': absent})

    conn = connect('qemu:///system')
    # A disk-less guest runs (it sits in the firmware looking for a boot device).
    xml = domain.build_domain_xml(running['libvirt_name'], 32, 1, disks=[], nics=[], virt_type='qemu')
    dom = conn.createXML(xml, 0)
    try:
        assert domain.state_name(dom) == 'running'
        assert hosts_of(ok(inventory({'prefixes': [prefix]})), 'all') == {'vm01', 'vm02'}
        assert hosts_of(ok(inventory({'prefixes': [prefix], 'running_only': True})), 'all') == {'vm01'}
        domain.destroy(dom)
        assert hosts_of(ok(inventory({'prefixes': [prefix], 'running_only': True})), 'all') == set()
    finally:
        domain.remove(conn, running['libvirt_name'])


def test_running_only_with_an_unreachable_libvirt_is_an_error(inventory, two_vm_prefix):
    pytest.importorskip('libvirt')
    message = failed(inventory({'prefixes': [two_vm_prefix], 'running_only': True,
                                'libvirt_uri': 'qemu+unix:///system?socket=/nonexistent/sock'}))
    assert 'running_only: cannot connect to libvirt at qemu+unix:///system?socket=/nonexistent/sock' in message
