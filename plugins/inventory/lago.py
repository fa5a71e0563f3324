# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: lago
short_description: The VMs of Lago prefixes as hosts
version_added: 0.1.0
author:
  - Lago developers (@lago-project)
description:
  - Reads the C(state.json) of one or more Lago prefixes (directories made by
    M(lago.lago.lago_prefix)) and makes every VM a host, reachable over SSH with
    the prefix's own key.
  - SSH checks each VM's host key strictly against the prefix's own
    C(<prefix>/known_hosts) (looked up under the VM's name through C(HostKeyAlias));
    the user's C(~/.ssh/known_hosts) is neither read nor written, and nothing is
    trusted on first use.
  - Reading the prefixes' files is enough; libvirt is asked for the VMs' live
    state only with O(running_only=true).
  - The configuration file must end in C(.lago.yml) or C(.lago.yaml).
  - 'Groups made for every host: C(lago) (the parent of all the C(lago_*) groups
    below), C(lago_<prefix>) (the prefix directory''s name), C(lago_vm_type_<vm-type>),
    C(lago_net_<net>) for each net the VM has a NIC on, and one group per entry of
    the VM''s C(groups) in the init file, named as given. Characters a group name
    cannot hold become C(_).'
  - 'Host variables: C(ansible_host) (the management address), C(ansible_user),
    C(ansible_ssh_private_key_file), C(ansible_ssh_common_args), C(ansible_control_path)
    (SSH connection sharing per prefix), and C(lago_vm_name),
    C(lago_libvirt_name), C(lago_vm_type), C(lago_groups), C(lago_nets) (per net:
    C(ip), C(mac) of the VM''s first NIC on it), C(lago_nics), C(lago_management_net),
    C(lago_metadata), C(lago_deploy_scripts), C(lago_artifacts), C(lago_disks),
    C(lago_prefix) (the prefix path), C(lago_prefix_uuid), C(lago_distro) (the init file''s distro, or null),
    C(lago_hypervisor) (the hypervisor a VM of a multi-host prefix runs on, null on a single host).'
  - 'A VM of a multi-host prefix (docs/MULTIHOST.md) is reached through the first hypervisor of its
    management net (the one with the net''s gateway): C(ansible_ssh_common_args) also holds a
    C(ProxyCommand) running C(ssh -W %h:%p) to that hypervisor with the key, port, user and
    C(known_hosts) recorded for it in C(state.json), host keys checked strictly on both hops
    (a ProxyCommand, not ProxyJump, to which command-line options do not apply). VMs of a
    single-host prefix are reached directly.'
  - The group C(lago) carries C(ansible_python_interpreter=/usr/bin/python3) as a
    group variable, so C(group_vars), C(host_vars) or O(compose) can override it.
extends_documentation_fragment:
  - constructed
  - inventory_cache
options:
  plugin:
    description: Marks the file as a configuration of this plugin.
    type: str
    required: true
    choices: [lago.lago.lago]
  prefixes:
    description:
      - Prefix directories to read, as paths or shell globs.
      - C(~) and environment variables are expanded; a relative path is relative
        to the directory of this configuration file.
      - A plain path must be an initialized prefix (a directory with a C(state.json)),
        otherwise the inventory fails and names the path.
      - A glob takes the directories it matches that hold a C(state.json) and skips
        the rest; a glob matching no prefix is only a warning.
      - A prefix matched twice (by two entries) is read once.
    type: list
    elements: str
    required: true
  host_name:
    description:
      - How a VM's host is named.
      - V(vm) uses the VM's name from the init file. Two listed prefixes with a VM of
        the same name are an error that names both prefixes.
      - V(prefixed) uses C(<prefix directory name>-<vm>), for several prefixes built
        from the same init file.
    type: str
    choices: [vm, prefixed]
    default: vm
  running_only:
    description:
      - Ask libvirt for each VM's live state and leave out the VMs that are not running.
    type: bool
    default: false
  libvirt_uri:
    description:
      - The libvirt connection URI used with O(running_only=true).
      - By default each prefix's own URI (the one it was built with, recorded in its
        C(state.json)), else V(qemu:///system).
    type: str
requirements:
  - libvirt-python (only for O(running_only=true))
notes:
  - Two listed prefixes with the same directory name would share their C(lago_<prefix>)
    group (and their host names with O(host_name=prefixed)); that is an error naming both.
  - With O(cache=true) the VMs read from the prefixes (after O(running_only) filtering)
    are cached; C(ansible-inventory --flush-cache) or the C(refresh_inventory) meta task
    reads the prefixes again.
seealso:
  - module: lago.lago.lago_prefix
'''

EXAMPLES = r'''
# Each document below is one configuration file.
---
# lab.lago.yml -- the VMs of one prefix
plugin: lago.lago.lago
prefixes:
  - ~/labs/ovirt

---
# all.lago.yml -- every prefix under a directory, named apart, only running VMs,
# with a group per distro taken from the VMs' metadata
plugin: lago.lago.lago
prefixes:
  - /var/lib/lago/prefixes/*
host_name: prefixed
running_only: true
keyed_groups:
  - key: lago_metadata.distro | default('unknown')
    prefix: distro
compose:
  ansible_python_interpreter: "'/usr/libexec/platform-python' if lago_vm_type == 'ovirt-engine' else '/usr/bin/python3'"
groups:
  engines: lago_vm_type == 'ovirt-engine'

---
# cached.lago.yml -- cache what was read for an hour
plugin: lago.lago.lago
prefixes: [prefix]
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/lago-inventory
cache_timeout: 3600
'''

import os

from ansible.errors import AnsibleParserError
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.lago.lago.plugins.module_utils import host_view
from ansible_collections.lago.lago.plugins.module_utils.errors import LagoError
from ansible_collections.lago.lago.plugins.module_utils.prefix_state import STATE_FILE

CONFIG_SUFFIXES = ('.lago.yml', '.lago.yaml')
# Ansible reads any word it does not know as false; for these a typo must not
# silently turn a feature off.
STRICT_BOOLEANS = ('running_only', 'strict', 'cache')


class InventoryOptions(object):
    """The plugin's options, read in one place once the configuration is parsed.

    ``config_dir`` is the directory of the configuration file: relative
    ``prefixes`` entries are taken relative to it.
    """

    def __init__(self, plugin, config, path):
        refuse_loose_booleans(config)
        self.config_dir = os.path.dirname(os.path.abspath(path))
        self.prefixes = plugin.get_option('prefixes')
        self.prefixed = plugin.get_option('host_name') == 'prefixed'
        self.running_only = plugin.get_option('running_only')
        self.libvirt_uri = plugin.get_option('libvirt_uri')
        self.cache = plugin.get_option('cache')
        self.strict = plugin.get_option('strict')
        self.compose = plugin.get_option('compose')
        self.groups = plugin.get_option('groups')
        self.keyed_groups = plugin.get_option('keyed_groups')


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):

    NAME = 'lago.lago.lago'

    def verify_file(self, path):
        return super(InventoryModule, self).verify_file(path) and path.endswith(CONFIG_SUFFIXES)

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        opts = InventoryOptions(self, self._read_config_data(path), path)
        # The documented cache flow: read the cache only when both the user and
        # the caller allow it; refill it when it was skipped or missed.
        cache_key = self.get_cache_key(path)
        read_cache = opts.cache and cache
        update_cache = opts.cache and not cache
        records = None
        if read_cache:
            try:
                records = self._cache[cache_key]
            except KeyError:
                update_cache = True
        if records is None:
            records = self._read_records(opts)
        if update_cache:
            self._cache[cache_key] = records
        self._populate(records, opts)

    # Reading: prefixes -> VM records (plain dicts: what the cache holds)

    def _read_records(self, opts):
        try:
            prefixes, empty_globs = host_view.find_prefixes(opts.prefixes, opts.config_dir)
            for pattern in empty_globs:
                self.display.warning('lago inventory: %s matches no prefix (no directory with a %s)'
                                     % (pattern, STATE_FILE))
            records = []
            for prefix in prefixes:
                records.extend(host_view.read_prefix(prefix))
        except LagoError as err:
            raise AnsibleParserError('lago inventory: %s' % to_native(err))
        if opts.running_only:
            records = [record for record in records if self._is_running(record, opts)]
        return records

    def _is_running(self, record, opts):
        try:
            return host_view.is_running(record, opts.libvirt_uri)
        except LagoError as err:
            raise AnsibleParserError('lago inventory: running_only: %s' % to_native(err))

    # Populating: VM records -> hosts, variables, groups

    def _populate(self, records, opts):
        try:
            hosts = host_view.hosts(records, prefixed=opts.prefixed, sanitize=self._sanitize_group_name)
        except LagoError as err:
            raise AnsibleParserError('lago inventory: %s' % to_native(err))
        self.inventory.add_group(host_view.PARENT_GROUP)
        self.inventory.set_variable(host_view.PARENT_GROUP, 'ansible_python_interpreter', host_view.PYTHON_INTERPRETER)
        for host in hosts:
            self.inventory.add_host(host.name)
            for name, value in host.variables.items():
                self.inventory.set_variable(host.name, name, value)
            for group in host.lago_groups:
                self.inventory.add_group(group)
                self.inventory.add_child(host_view.PARENT_GROUP, group)
                self.inventory.add_child(group, host.name)
            for group in host.groups:
                group = self.inventory.add_group(group)
                self.inventory.add_child(group, host.name)
            self._construct(host.name, opts)

    def _construct(self, host, opts):
        variables = self.inventory.get_host(host).get_vars()
        self._set_composite_vars(opts.compose, variables, host, strict=opts.strict)
        self._add_host_to_composed_groups(opts.groups, variables, host, strict=opts.strict)
        self._add_host_to_keyed_groups(opts.keyed_groups, variables, host, strict=opts.strict)


def refuse_loose_booleans(config):
    for option in STRICT_BOOLEANS:
        if option in config:
            try:
                boolean(config[option], strict=True)
            except TypeError:
                raise AnsibleParserError('lago inventory: %s must be a boolean (true or false), not %r'
                                         % (option, config[option]))
