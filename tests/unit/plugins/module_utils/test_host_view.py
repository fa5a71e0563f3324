# -*- coding: utf-8 -*-
"""host_view: the hosts of prefixes (VM records, names, groups, variables, SSH settings)."""

from __future__ import absolute_import, division, print_function

import json
import os
import re
import shlex
import subprocess

import pytest

from ansible_collections.lago.lago.plugins.module_utils import host_view, libvirt_conn
from ansible_collections.lago.lago.plugins.module_utils.errors import LagoError, PrefixError, SpecError
from ansible_collections.lago.lago.plugins.module_utils.prefix_state import Layout
from ansible_collections.lago.lago.tests.unit.plugins.synthetic_prefix import (
    make_prefix, make_two_vm_prefix, read_state, spread_over_hypervisors, vm_state, write_state)


def safe(name):
    return name.replace('-', '_').replace('.', '_')


@pytest.fixture
def lab(tmp_path):
    return make_two_vm_prefix(str(tmp_path / 'lab'))


# --- reading a prefix ------------------------------------------------------------------

def test_read_prefix_gives_one_plain_record_per_vm_sorted(lab):
    state = read_state(lab)
    records = host_view.read_prefix(lab)
    assert [record['name'] for record in records] == ['vm01', 'vm02']
    vm01 = records[0]
    assert vm01 == {
        'prefix': lab, 'prefix_uuid': state['uuid'], 'libvirt_uri': 'qemu:///system',
        'name': 'vm01', 'libvirt_name': 'lago-aaaa0000-vm01', 'address': '192.168.200.2',
        'ssh_user': 'root', 'vm_type': 'ovirt-engine', 'groups': ['engines', 'web-servers'],
        'management_net': 'lan', 'nics': state['vms']['vm01']['nics'], 'disks': state['vms']['vm01']['disks'],
        'metadata': {'deploy-scripts': ['/p/scripts/vm01/01-setup.sh'], 'distro': 'el8'},
        'artifacts': ['/var/log'], 'distro': None, 'hypervisor': None, 'jump': None,
    }
    assert records[1]['ssh_user'] == 'cloud'
    # what an inventory cache stores (JSON) gives the same records back
    assert json.loads(json.dumps(records)) == records


def test_records_are_copies_not_views_of_the_state(lab):
    records = host_view.read_prefix(lab)
    records[0]['nics'][0]['ip'] = '10.0.0.1'
    assert host_view.read_prefix(lab)[0]['nics'][0]['ip'] == '192.168.200.2'


def test_defaults_for_what_older_states_lack(tmp_path):
    prefix = str(tmp_path / 'lab')
    vm = vm_state('abab0001', 'vm01', 1)
    for key in ('ssh_user', 'vm_type', 'groups', 'metadata', 'artifacts', 'disks'):
        del vm[key]
    make_prefix(prefix, {'vm01': vm})
    record = host_view.read_prefix(prefix)[0]
    assert (record['ssh_user'], record['vm_type'], record['groups'], record['metadata'], record['artifacts'],
            record['disks']) == ('root', 'default', [], {}, [], [])


def test_a_relative_or_home_path_gives_the_absolute_prefix(tmp_path, monkeypatch):
    make_prefix(str(tmp_path / 'home' / 'lab'), {'vm01': vm_state('abab0002', 'vm01', 1)})
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    assert host_view.read_prefix('~/lab')[0]['prefix'] == str(tmp_path / 'home' / 'lab')
    monkeypatch.chdir(str(tmp_path / 'home'))
    assert host_view.read_prefix('lab')[0]['prefix'] == str(tmp_path / 'home' / 'lab')


def test_missing_prefix_names_the_path(tmp_path):
    with pytest.raises(PrefixError, match='^prefix %s does not exist$' % (tmp_path / 'gone')):
        host_view.read_prefix(str(tmp_path / 'gone'))


def test_directory_without_state_names_the_path(tmp_path):
    with pytest.raises(PrefixError, match=r'^%s is not an initialized lago prefix \(no state.json\)' % tmp_path):
        host_view.read_prefix(str(tmp_path))


def _broken(tmp_path, change):
    prefix = str(tmp_path / 'lab')
    state = make_prefix(prefix, {'vm01': vm_state('abab0003', 'vm01', 1)})
    change(state, state['vms']['vm01'])
    write_state(prefix, state)
    return prefix


@pytest.mark.parametrize('change, message', [
    (lambda state, vm: vm.pop('address'), 'vms.vm01 has no address'),
    (lambda state, vm: vm.update(libvirt_name=''), 'vms.vm01 has no libvirt_name'),
    (lambda state, vm: state['vms'].update(vm01=['not', 'a', 'mapping']), 'vms.vm01 must be a mapping'),
    (lambda state, vm: vm.update(nics=[{'mac': '52:54:00:00:00:01'}]), 'vms.vm01.nics must be a list of mappings, each with a net'),
    (lambda state, vm: vm.update(nics='lan'), 'vms.vm01.nics must be a list of mappings'),
    (lambda state, vm: vm.update(metadata=['x']), 'vms.vm01.metadata must be a mapping'),
    (lambda state, vm: state.update(version=2), 'state.json version 2 is not supported (expected 1)'),
    (lambda state, vm: state.update(vms=[]), 'is damaged (vms is not a mapping)'),
    (lambda state, vm: state.pop('uuid'), 'has no uuid'),
])
def test_a_damaged_state_names_the_file_and_the_key(tmp_path, change, message):
    prefix = _broken(tmp_path, change)
    with pytest.raises(PrefixError) as err:
        host_view.read_prefix(prefix)
    assert str(err.value).startswith(os.path.join(prefix, 'state.json'))
    assert message in str(err.value)


def test_invalid_json_names_the_file(tmp_path):
    prefix = tmp_path / 'lab'
    make_prefix(str(prefix), {})
    (prefix / 'state.json').write_text('{"version": 1, ')
    with pytest.raises(PrefixError, match=r'^%s is damaged \(not valid JSON' % (prefix / 'state.json')):
        host_view.read_prefix(str(prefix))


# --- finding prefixes -------------------------------------------------------------------

def test_find_prefixes_expands_globs_relative_paths_and_variables_each_once(tmp_path, monkeypatch):
    labs = tmp_path / 'labs'
    make_prefix(str(labs / 'one'), {})
    make_prefix(str(labs / 'two'), {})
    os.makedirs(str(labs / 'not-a-prefix'))
    os.symlink(str(labs / 'one'), str(tmp_path / 'alias'))
    monkeypatch.setenv('LAGO_TEST_LABS', str(labs))
    paths, empty = host_view.find_prefixes(['labs/*', 'labs/one', '$LAGO_TEST_LABS/t*', 'alias', 'nothing-*', 'plain'],
                                           str(tmp_path))
    # a plain path is kept (reading it tells what is wrong with it); a glob keeps prefixes only
    assert paths == [str(labs / 'one'), str(labs / 'two'), str(tmp_path / 'plain')]
    assert empty == [str(tmp_path / 'nothing-*')]


@pytest.mark.parametrize('entries, message', [
    ([], 'prefixes is empty; list at least one prefix directory'),
    (None, 'prefixes is empty'),
    ([['x']], "prefixes entries must be paths, got ['x']"),
])
def test_find_prefixes_refuses_bad_entries(tmp_path, entries, message):
    with pytest.raises(SpecError) as err:
        host_view.find_prefixes(entries, str(tmp_path))
    assert message in str(err.value)


# --- hosts --------------------------------------------------------------------------------

def test_hosts_names_groups_and_variables(lab):
    hosts = host_view.hosts(host_view.read_prefix(lab), sanitize=safe)
    assert [host.name for host in hosts] == ['vm01', 'vm02']
    assert hosts[0].lago_groups == ['lago_lab', 'lago_vm_type_ovirt_engine', 'lago_net_lan', 'lago_net_storage']
    assert hosts[0].groups == ['engines', 'web_servers']
    assert hosts[1].lago_groups == ['lago_lab', 'lago_vm_type_ovirt_host', 'lago_net_lan']
    assert hosts[1].groups == []
    assert hosts[0].variables == host_view.host_vars(hosts[0].record)


def test_groups_are_listed_once(tmp_path):
    prefix = str(tmp_path / 'lab')
    make_prefix(prefix, {'vm01': vm_state('abab0004', 'vm01', 1, groups=['web-1', 'web_1', 'db'])})
    host, = host_view.hosts(host_view.read_prefix(prefix), sanitize=safe)
    assert host.groups == ['web_1', 'db']


def test_one_vm_name_in_two_prefixes_is_an_error_naming_both_unless_prefixed(tmp_path):
    one, two = str(tmp_path / 'one'), str(tmp_path / 'two')
    make_prefix(one, {'vm01': vm_state('ffff0001', 'vm01', 1)})
    make_prefix(two, {'vm01': vm_state('ffff0002', 'vm01', 1)})
    records = host_view.read_prefix(one) + host_view.read_prefix(two)
    with pytest.raises(SpecError) as err:
        host_view.hosts(records)
    assert str(err.value) == ('host vm01 would be VM vm01 of prefix %s and VM vm01 of prefix %s; '
                              'set host_name: prefixed or list only one of them' % (one, two))
    assert [host.name for host in host_view.hosts(records, prefixed=True)] == ['one-vm01', 'two-vm01']


def test_two_prefixes_with_one_directory_name_is_an_error_naming_both(tmp_path):
    one, two = str(tmp_path / 'a' / 'lab'), str(tmp_path / 'b' / 'lab')
    make_prefix(one, {'vm01': vm_state('ffff0003', 'vm01', 1)})
    make_prefix(two, {'vm02': vm_state('ffff0004', 'vm02', 1)})
    with pytest.raises(SpecError, match='prefixes %s and %s would share the group lago_lab' % (one, two)):
        host_view.hosts(host_view.read_prefix(one) + host_view.read_prefix(two))


def test_host_vars_take_the_key_and_known_hosts_from_the_layout(lab):
    record = host_view.read_prefix(lab)[0]
    variables = host_view.host_vars(record)
    layout = Layout(lab)
    assert variables['ansible_ssh_private_key_file'] == layout.private_key == os.path.join(lab, 'id_rsa')
    assert 'UserKnownHostsFile="%s"' % layout.known_hosts in shlex.split(variables['ansible_ssh_common_args'])
    assert variables['ansible_control_path'] == '%%(directory)s/lago-%s-%%%%C' % record['prefix_uuid'][:8]
    assert variables['ansible_user'] == 'root'
    assert variables['lago_nets'] == {'lan': {'ip': '192.168.200.2', 'mac': '52:54:00:aa:00:01'},
                                      'storage': {'ip': '192.168.201.2', 'mac': '52:54:00:aa:01:01'}}
    assert variables['lago_deploy_scripts'] == ['/p/scripts/vm01/01-setup.sh']
    assert variables['lago_prefix'] == lab
    assert variables['lago_distro'] is None


def test_the_init_files_distro_is_the_host_variable_lago_distro(tmp_path):
    vm = dict(vm_state('abab0003', 'vm01', 1), distro='el8')
    make_prefix(str(tmp_path / 'lab'), {'vm01': vm})
    record = host_view.read_prefix(str(tmp_path / 'lab'))[0]
    assert record['distro'] == 'el8' and host_view.host_vars(record)['lago_distro'] == 'el8'


def test_ssh_common_args_keep_an_odd_known_hosts_path_whole(tmp_path):
    known_hosts = str(tmp_path / 'my lab %d' / 'known_hosts')
    args = host_view.ssh_common_args(known_hosts, 'vm01')
    config = subprocess.run(['ssh', '-G'] + shlex.split(args) + ['vm01'], stdout=subprocess.PIPE,
                            universal_newlines=True, check=True).stdout
    assert 'userknownhostsfile %s\n' % known_hosts in config
    assert 'globalknownhostsfile /dev/null\n' in config
    assert 'stricthostkeychecking true\n' in config
    assert 'hostkeyalias vm01\n' in config
    assert 'identitiesonly yes\n' in config


def _ssh_config(args, host='vm01'):
    """What ``ssh`` makes of ``args`` (a list) for ``host``: {keyword: value} (``ssh -G``)."""
    out = subprocess.run(['ssh', '-G'] + args + [host], stdout=subprocess.PIPE, universal_newlines=True,
                         check=True).stdout
    config = {}
    for line in out.splitlines():
        if ' ' in line:
            config.setdefault(*line.split(' ', 1))  # the first value: the command line's
    return config


def _expand_tokens(command, host, port):
    """What ssh does to a ProxyCommand before its shell runs it: %h, %p and %% expanded."""
    return re.sub('%[hp%]', lambda match: {'%h': host, '%p': str(port), '%%': '%'}[match.group(0)], command)


@pytest.fixture
def multihost(tmp_path):
    """vm01 on hv1, vm02 on hv2, the net lan on hv1 (its gateway) then hv2; odd hypervisor key paths."""
    prefix = make_two_vm_prefix(str(tmp_path / 'lab'))
    odd = tmp_path / 'hv keys %d'
    odd.mkdir()
    hypervisors = dict((name, dict(ssh_host='192.168.250.1%d' % index, ssh_user='root', ssh_port=2200 + index,
                                   ssh_key=str(odd / ('id %s' % name)), known_hosts=str(odd / "known 'hosts'")))
                       for index, name in ((1, 'hv1'), (2, 'hv2')))
    spread_over_hypervisors(prefix, {'vm01': 'hv1', 'vm02': 'hv2'}, hypervisors, {'lan': ['hv1', 'hv2'],
                                                                                  'storage': ['hv2', 'hv1']})
    return prefix, hypervisors


def test_a_vm_of_a_multi_host_prefix_is_reached_through_the_first_hypervisor_of_its_net(multihost):
    prefix, hypervisors = multihost
    records = host_view.read_prefix(prefix)
    # vm02 runs on hv2, but lan's gateway is on hv1: both are reached through hv1
    for record, hypervisor in zip(records, ('hv1', 'hv2')):
        assert record['hypervisor'] == hypervisor
        hv1 = hypervisors['hv1']
        assert record['jump'] == dict(name='hv1', host=hv1['ssh_host'], port=hv1['ssh_port'], user='root',
                                      key=hv1['ssh_key'], known_hosts=hv1['known_hosts'])
        assert host_view.host_vars(record)['lago_hypervisor'] == hypervisor
    assert json.loads(json.dumps(records)) == records  # an inventory cache holds them


def test_the_proxy_command_keeps_both_hops_strict_and_odd_paths_whole(multihost):
    prefix, hypervisors = multihost
    record = host_view.read_prefix(prefix)[1]
    hv1 = hypervisors['hv1']
    # Ansible splits ansible_ssh_common_args with shlex, then runs ssh with them
    outer = _ssh_config(shlex.split(host_view.host_vars(record)['ansible_ssh_common_args']))
    assert outer['userknownhostsfile'] == Layout(prefix).known_hosts and outer['hostkeyalias'] == 'vm02'
    assert outer['stricthostkeychecking'] == 'true'
    # the ProxyCommand as its shell runs it, once ssh expanded %h and %p
    inner_argv = shlex.split(_expand_tokens(outer['proxycommand'], record['address'], 22))
    assert inner_argv[0] == 'ssh' and inner_argv[inner_argv.index('-W') + 1] == '%s:22' % record['address']
    assert inner_argv[-2:] == ['--', 'root@%s' % hv1['ssh_host']]
    inner = _ssh_config(inner_argv[1:inner_argv.index('-W')], host=hv1['ssh_host'])
    assert inner['userknownhostsfile'] == hv1['known_hosts']
    # ssh -G shows IdentityFile before ssh expands its tokens (it does when loading the key)
    assert inner['identityfile'].replace('%%', '%') == hv1['ssh_key']
    assert inner['port'] == str(hv1['ssh_port'])
    assert (inner['stricthostkeychecking'], inner['globalknownhostsfile'], inner['batchmode'],
            inner['identitiesonly']) == ('true', '/dev/null', 'yes', 'yes')


def test_a_single_host_vm_has_no_proxy(lab):
    for record in host_view.read_prefix(lab):
        assert 'ProxyCommand' not in host_view.host_vars(record)['ansible_ssh_common_args']
        assert record['jump'] is None and host_view.host_vars(record)['lago_hypervisor'] is None


def test_a_vm_on_a_hypervisor_the_state_does_not_describe_names_it(multihost):
    prefix, _hypervisors = multihost
    state = read_state(prefix)
    del state['hypervisors']['hv1']
    write_state(prefix, state)
    with pytest.raises(PrefixError, match=r'VM vm01 is reached through hypervisor hv1: hypervisor hv1 is not in '
                                          r'.*state.json \(it has: hv2\)'):
        host_view.read_prefix(prefix)


# --- running -----------------------------------------------------------------------------

class FakeDom(object):
    def __init__(self, state, name='lago-aaaa0000-vm01'):
        self._state = state
        self._name = name

    def name(self):
        return self._name

    def state(self):
        return [self._state, 0]


@pytest.fixture
def libvirt_domains(monkeypatch):
    """{libvirt name: libvirt state number, or an exception to raise}; connect() records the URIs asked."""
    domains, uris = {}, []

    def lookup(_conn, name):
        value = domains.get(name)
        if isinstance(value, Exception):
            raise value
        return FakeDom(value) if value is not None else None

    monkeypatch.setattr(libvirt_conn, 'connect', lambda uri=None: uris.append(uri) or object())
    monkeypatch.setattr(libvirt_conn, 'lookup_domain', lookup)
    return domains, uris


def test_is_running_asks_the_given_uri_else_the_prefix_uri(lab, libvirt_domains):
    domains, uris = libvirt_domains
    vm01, vm02 = host_view.read_prefix(lab)
    domains[vm01['libvirt_name']] = 1  # VIR_DOMAIN_RUNNING
    domains[vm02['libvirt_name']] = 5  # VIR_DOMAIN_SHUTOFF
    assert host_view.is_running(vm01) is True
    assert host_view.is_running(vm02, 'qemu+ssh://hv/system') is False
    assert host_view.is_running(dict(vm01, libvirt_name='gone', libvirt_uri=None)) is False
    assert uris == ['qemu:///system', 'qemu+ssh://hv/system', 'qemu:///system']


def test_is_running_names_the_vm_and_uri_when_libvirt_refuses(lab, libvirt_domains):
    domains, _uris = libvirt_domains
    vm01 = host_view.read_prefix(lab)[0]
    domains[vm01['libvirt_name']] = RuntimeError('access denied')
    with pytest.raises(LagoError, match=r'cannot read the state of VM vm01 \(lago-aaaa0000-vm01\) at qemu:///system: '
                                        'access denied'):
        host_view.is_running(vm01)


# --- one view, no second copy ----------------------------------------------------------------

# Read, not imported: module_utils tests run where only ansible.module_utils is importable.
PLUGINS = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', '..', 'plugins')


@pytest.mark.parametrize('plugin', ['inventory/lago.py', 'lookup/lago_hosts.py'], ids=['inventory', 'lookup'])
def test_the_plugins_leave_prefix_files_to_the_host_view(plugin):
    plugin = os.path.join(PLUGINS, plugin)
    with open(plugin) as handle:
        code = handle.read().split("\n'''\n")[-1]  # after the documentation strings
    for word in ('id_rsa', "'known_hosts'", "'state.json'", 'read_json', 'json.load', 'STATE_VERSION'):
        assert word not in code, '%s in %s' % (word, plugin)
    assert 'host_view' in code
