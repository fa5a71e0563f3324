# -*- coding: utf-8 -*-
"""The lookup lago.lago.lago_hosts: the inventory plugin's hosts as arguments of add_host.

Run directly (LookupModule with its documented options) and through a play
(query() in ansible-playbook), against synthetic prefixes.
"""

from __future__ import absolute_import, division, print_function

import ast

import pytest
import yaml

from ansible import constants as C
from ansible.errors import AnsibleError, AnsibleLookupError

from ansible_collections.lago.lago.plugins.lookup import lago_hosts as lookup_plugin
from ansible_collections.lago.lago.plugins.module_utils import host_view
from ansible_collections.lago.lago.tests.unit.plugins.synthetic_prefix import (
    hosts_of, hostvars, make_prefix, ok, vm_state)

LOAD_NAME = 'lago.lago.lago_hosts'


@pytest.fixture
def lookup():
    """The lookup as the plugin loader gives it: its options defined from its DOCUMENTATION."""
    C.config.initialize_plugin_configuration_definitions(
        'lookup', LOAD_NAME, yaml.safe_load(lookup_plugin.DOCUMENTATION)['options'])
    plugin = lookup_plugin.LookupModule()
    plugin._load_name = LOAD_NAME
    return plugin


# --- direct -------------------------------------------------------------------------

def test_one_entry_per_vm_with_name_groups_and_the_host_views_variables(lookup, two_vm_prefix):
    hosts = lookup.run([two_vm_prefix], variables={})
    assert [host['name'] for host in hosts] == ['vm01', 'vm02']
    vm01 = hosts[0]
    assert vm01['groups'] == ['lago', 'lago_lab', 'lago_vm_type_ovirt_engine', 'lago_net_lan', 'lago_net_storage',
                              'engines', 'web_servers']
    assert hosts[1]['groups'] == ['lago', 'lago_lab', 'lago_vm_type_ovirt_host', 'lago_net_lan']
    expected = host_view.host_vars(host_view.read_prefix(two_vm_prefix)[0])
    variables = dict((key, value) for key, value in vm01.items() if key not in ('name', 'groups'))
    # the inventory plugin sets the interpreter on the group lago; add_host has no group variables
    assert variables == dict(expected, ansible_python_interpreter='/usr/bin/python3')
    assert vm01['ansible_host'] == '192.168.200.2'
    assert hosts[1]['ansible_user'] == 'cloud'


def test_prefixed_names(lookup, tmp_path):
    one, two = str(tmp_path / 'one'), str(tmp_path / 'two')
    make_prefix(one, {'vm01': vm_state('ffff0001', 'vm01', 1)})
    make_prefix(two, {'vm01': vm_state('ffff0002', 'vm01', 1)})
    assert [host['name'] for host in lookup.run([one, two], variables={}, host_name='prefixed')] == [
        'one-vm01', 'two-vm01']


def test_errors_are_lookup_errors_naming_the_prefix(lookup, tmp_path):
    with pytest.raises(AnsibleLookupError, match='lago_hosts: prefix %s does not exist' % (tmp_path / 'nowhere')):
        lookup.run([str(tmp_path / 'nowhere')], variables={})
    (tmp_path / 'empty').mkdir()
    with pytest.raises(AnsibleLookupError, match=r'lago_hosts: %s is not an initialized lago prefix \(no state.json\)'
                       % (tmp_path / 'empty')):
        lookup.run([str(tmp_path / 'empty')], variables={})
    with pytest.raises(AnsibleLookupError, match='give at least one prefix path'):
        lookup.run([], variables={})


def test_two_prefixes_with_one_directory_name_are_refused(lookup, tmp_path):
    one, two = str(tmp_path / 'a' / 'lab'), str(tmp_path / 'b' / 'lab')
    make_prefix(one, {'vm01': vm_state('ffff0003', 'vm01', 1)})
    make_prefix(two, {'vm02': vm_state('ffff0004', 'vm02', 1)})
    with pytest.raises(AnsibleLookupError, match='prefixes %s and %s would share the group lago_lab' % (one, two)):
        lookup.run([one, two], variables={})


def test_an_unknown_host_name_is_refused(lookup, two_vm_prefix):
    with pytest.raises(AnsibleError, match="Invalid value 'libvirt' for config 'host_name'"):
        lookup.run([two_vm_prefix], variables={}, host_name='libvirt')


def test_the_lookup_imports_no_inventory_plugin():
    with open(lookup_plugin.__file__) as handle:
        tree = ast.parse(handle.read())
    imported = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert 'ansible_collections.lago.lago.plugins.module_utils' in imported
    assert [name for name in imported if '.plugins.inventory' in name] == []


# --- through a play -------------------------------------------------------------------

def test_lookup_gives_add_host_the_inventory_plugins_hosts(inventory, lago_hosts, two_vm_prefix):
    listing = ok(inventory({'prefixes': [two_vm_prefix]}))
    rc, hosts, output = lago_hosts([two_vm_prefix])
    assert rc == 0, output
    assert [host['name'] for host in hosts] == ['vm01', 'vm02']
    for host in hosts:
        name = host.pop('name')
        groups = host.pop('groups')
        assert host == hostvars(listing)[name]
        assert set(groups) == {group for group in listing if group != '_meta' and name in hosts_of(listing, group)
                               and group not in ('all', 'ungrouped')}
    assert hosts[0]['lago_deploy_scripts'] == ['/p/scripts/vm01/01-setup.sh']


def test_lookup_names_prefixed_hosts_and_refuses_clashes(lago_hosts, tmp_path):
    one, two = str(tmp_path / 'one'), str(tmp_path / 'two')
    make_prefix(one, {'vm01': vm_state('ffff0001', 'vm01', 1)})
    make_prefix(two, {'vm01': vm_state('ffff0002', 'vm01', 1)})
    rc, _hosts, output = lago_hosts([one, two])
    assert rc != 0 and 'host vm01 would be VM vm01 of prefix %s and VM vm01 of prefix %s' % (one, two) in output
    rc, hosts, output = lago_hosts([one, two], host_name='prefixed')
    assert rc == 0, output
    assert [host['name'] for host in hosts] == ['one-vm01', 'two-vm01']


def test_lookup_of_a_missing_prefix_is_an_error_naming_it(lago_hosts, tmp_path):
    rc, _hosts, output = lago_hosts([str(tmp_path / 'nowhere')])
    assert rc != 0 and 'prefix %s does not exist' % (tmp_path / 'nowhere') in output
