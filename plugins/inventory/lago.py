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
    C(lago_prefix) (the prefix path), C(lago_prefix_uuid).'
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
# lab.lago.yml -- the VMs of one prefix
plugin: lago.lago.lago
prefixes:
  - ~/labs/ovirt

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

# cached.lago.yml -- cache what was read for an hour
plugin: lago.lago.lago
prefixes: [prefix]
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/lago-inventory
cache_timeout: 3600
'''

import glob
import os
import shlex

from ansible.errors import AnsibleParserError
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.lago.lago.plugins.module_utils.domain import state_name
from ansible_collections.lago.lago.plugins.module_utils.errors import LagoError
from ansible_collections.lago.lago.plugins.module_utils.files import read_json
from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import DEFAULT_URI, connect, lookup_domain

CONFIG_SUFFIXES = ('.lago.yml', '.lago.yaml')
STATE_FILE = 'state.json'
STATE_VERSION = 1
PARENT_GROUP = 'lago'
PYTHON_INTERPRETER = '/usr/bin/python3'
GLOB_CHARS = frozenset('*?[')
# Ansible reads any word it does not know as false; for these a typo must not
# silently turn a feature off.
STRICT_BOOLEANS = ('running_only', 'strict', 'cache')


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):

    NAME = 'lago.lago.lago'

    def verify_file(self, path):
        return super(InventoryModule, self).verify_file(path) and path.endswith(CONFIG_SUFFIXES)

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        refuse_loose_booleans(self._read_config_data(path))
        # The documented cache flow: read the cache only when both the user and
        # the caller allow it; refill it when it was skipped or missed.
        cache_key = self.get_cache_key(path)
        cache_enabled = self.get_option('cache')
        read_cache = cache_enabled and cache
        update_cache = cache_enabled and not cache
        vms = None
        if read_cache:
            try:
                vms = self._cache[cache_key]
            except KeyError:
                update_cache = True
        if vms is None:
            vms = self._read_vms(os.path.dirname(os.path.abspath(path)))
        if update_cache:
            self._cache[cache_key] = vms
        self._populate(vms)

    # Reading: prefixes -> a list of plain per-VM dicts (what the cache holds)

    def _read_vms(self, config_dir):
        vms = []
        for prefix in self._prefix_dirs(config_dir):
            vms.extend(read_prefix_vms(prefix))
        if self.get_option('running_only'):
            vms = [vm for vm in vms if self._is_running(vm)]
        return vms

    def _prefix_dirs(self, config_dir):
        """The prefix directories the ``prefixes`` entries name, in order, each once."""
        entries = self.get_option('prefixes')
        if not entries:
            raise AnsibleParserError('lago inventory: prefixes is empty; list at least one prefix directory')
        dirs = []
        seen = set()
        for entry in entries:
            if not isinstance(entry, str):
                raise AnsibleParserError('lago inventory: prefixes entries must be paths, got %r' % (entry,))
            for path in self._expand_entry(entry, config_dir):
                if os.path.realpath(path) not in seen:
                    seen.add(os.path.realpath(path))
                    dirs.append(path)
        return dirs

    def _expand_entry(self, entry, config_dir):
        path = os.path.join(config_dir, os.path.expandvars(os.path.expanduser(entry)))
        path = os.path.normpath(path)
        if not GLOB_CHARS.intersection(path):
            return [path]
        prefixes = [match for match in sorted(glob.glob(path))
                    if os.path.isfile(os.path.join(match, STATE_FILE))]
        if not prefixes:
            self.display.warning('lago inventory: %s matches no prefix (no directory with a %s)'
                                 % (path, STATE_FILE))
        return prefixes

    def _is_running(self, vm):
        uri = self.get_option('libvirt_uri') or vm['libvirt_uri'] or DEFAULT_URI
        try:
            dom = lookup_domain(connect(uri), vm['libvirt_name'])
            return dom is not None and state_name(dom) == 'running'
        except LagoError as err:
            raise AnsibleParserError('lago inventory: running_only: %s' % to_native(err))
        except Exception as err:  # libvirtError: the URI answers but refuses the lookup
            raise AnsibleParserError('lago inventory: running_only: cannot read the state of VM %s (%s) at %s: %s'
                                     % (vm['name'], vm['libvirt_name'], uri, to_native(err)))

    # Populating: per-VM dicts -> hosts, variables, groups

    def _populate(self, vms):
        hosts = self._host_names(vms)
        self._check_prefix_groups(vms)
        self.inventory.add_group(PARENT_GROUP)
        self.inventory.set_variable(PARENT_GROUP, 'ansible_python_interpreter', PYTHON_INTERPRETER)
        for host, vm in zip(hosts, vms):
            self.inventory.add_host(host)
            for name, value in host_vars(vm).items():
                self.inventory.set_variable(host, name, value)
            self._add_to_groups(host, vm)
            self._construct(host)

    def _host_names(self, vms):
        return host_names(vms, prefixed=self.get_option('host_name') == 'prefixed')

    def _check_prefix_groups(self, vms):
        owners = {}
        for vm in vms:
            group = self._prefix_group(vm)
            other = owners.setdefault(group, vm['prefix'])
            if other != vm['prefix']:
                raise AnsibleParserError(
                    'lago inventory: prefixes %s and %s would share the group %s (same directory name); '
                    'rename one of them' % (other, vm['prefix'], group))

    def _prefix_group(self, vm):
        return prefix_group(vm, self._sanitize_group_name)

    def _add_to_groups(self, host, vm):
        lago_groups, user_groups = vm_groups(vm, self._sanitize_group_name)
        for group in lago_groups:
            self.inventory.add_group(group)
            self.inventory.add_child(PARENT_GROUP, group)
            self.inventory.add_child(group, host)
        for group in user_groups:
            group = self.inventory.add_group(group)
            self.inventory.add_child(group, host)

    def _construct(self, host):
        strict = self.get_option('strict')
        variables = self.inventory.get_host(host).get_vars()
        self._set_composite_vars(self.get_option('compose'), variables, host, strict=strict)
        self._add_host_to_composed_groups(self.get_option('groups'), variables, host, strict=strict)
        self._add_host_to_keyed_groups(self.get_option('keyed_groups'), variables, host, strict=strict)


def refuse_loose_booleans(config):
    for option in STRICT_BOOLEANS:
        if option in config:
            try:
                boolean(config[option], strict=True)
            except TypeError:
                raise AnsibleParserError('lago inventory: %s must be a boolean (true or false), not %r'
                                         % (option, config[option]))


def prefix_name(path):
    return os.path.basename(os.path.normpath(path))


def host_names(vms, prefixed=False):
    """One host name per VM record; two VMs with one name is an error naming both prefixes."""
    owners = {}
    names = []
    for vm in vms:
        name = '%s-%s' % (prefix_name(vm['prefix']), vm['name']) if prefixed else vm['name']
        if name in owners:
            hint = ('rename one of the prefix directories' if prefixed
                    else 'set host_name: prefixed or list only one of them')
            raise AnsibleParserError(
                'lago inventory: host %s would be VM %s of prefix %s and VM %s of prefix %s; %s'
                % (name, owners[name]['name'], owners[name]['prefix'], vm['name'], vm['prefix'], hint))
        owners[name] = vm
        names.append(name)
    return names


def prefix_group(vm, sanitize):
    return sanitize('lago_%s' % prefix_name(vm['prefix']))


def vm_groups(vm, sanitize):
    """The groups of one VM record: (children of the group ``lago``, the init file's ``groups``)."""
    lago_groups = [prefix_group(vm, sanitize), sanitize('lago_vm_type_%s' % vm['vm_type'])]
    lago_groups.extend(sanitize('lago_net_%s' % nic['net']) for nic in vm['nics'])
    return lago_groups, [sanitize(group) for group in vm['groups']]


def read_prefix_vms(prefix):
    """The VMs of the prefix at ``prefix`` as plain dicts, from its state.json."""
    state = read_state(prefix)
    vms = state.get('vms')
    if not isinstance(vms, dict):
        raise AnsibleParserError('lago inventory: %s: "vms" must be a mapping of VM names'
                                 % os.path.join(prefix, STATE_FILE))
    return [vm_record(prefix, state, name, vms[name]) for name in sorted(vms)]


def read_state(prefix):
    state_path = os.path.join(prefix, STATE_FILE)
    if not os.path.isdir(prefix):
        raise AnsibleParserError('lago inventory: prefix %s does not exist' % prefix)
    if not os.path.isfile(state_path):
        raise AnsibleParserError('lago inventory: %s is not an initialized Lago prefix: it has no %s'
                                 % (prefix, STATE_FILE))
    try:
        state = read_json(state_path)
    except (IOError, OSError, ValueError) as err:
        raise AnsibleParserError('lago inventory: cannot read %s: %s' % (state_path, to_native(err)))
    if not isinstance(state, dict) or state.get('version') != STATE_VERSION:
        version = state.get('version') if isinstance(state, dict) else None
        raise AnsibleParserError('lago inventory: %s has state version %r; this plugin reads version %d'
                                 % (state_path, version, STATE_VERSION))
    return state


def vm_record(prefix, state, name, vm):
    """One VM as the plain dict the cache holds: what the host needs, nothing live."""
    place = '%s: vms.%s' % (os.path.join(prefix, STATE_FILE), name)
    if not isinstance(vm, dict):
        raise AnsibleParserError('lago inventory: %s must be a mapping' % place)
    for key in ('libvirt_name', 'address'):
        if not vm.get(key):
            raise AnsibleParserError('lago inventory: %s has no %s' % (place, key))
    metadata = vm.get('metadata') or {}
    return {
        'prefix': os.path.abspath(prefix),
        'prefix_uuid': state.get('uuid'),
        'libvirt_uri': state.get('libvirt_uri'),
        'name': name,
        'libvirt_name': vm['libvirt_name'],
        'address': vm['address'],
        'ssh_user': vm.get('ssh_user') or 'root',
        'vm_type': vm.get('vm_type') or 'default',
        'groups': list(vm.get('groups') or []),
        'management_net': vm.get('management_net'),
        'nics': [dict(nic) for nic in vm.get('nics') or []],
        'disks': [dict(disk) for disk in vm.get('disks') or []],
        'metadata': metadata,
        'artifacts': list(vm.get('artifacts') or []),
    }


def host_vars(vm):
    """The host variables of one VM record."""
    prefix = vm['prefix']
    nets = {}
    for nic in vm['nics']:
        nets.setdefault(nic['net'], {'ip': nic.get('ip'), 'mac': nic.get('mac')})
    return {
        'ansible_host': vm['address'],
        'ansible_user': vm['ssh_user'],
        'ansible_ssh_private_key_file': os.path.join(prefix, 'id_rsa'),
        'ansible_ssh_common_args': ssh_common_args(prefix, vm['name']),
        # Labs reuse addresses: a connection kept open to a destroyed prefix's VM
        # must never serve a new VM at the same address, so the control socket
        # carries the prefix's id.
        'ansible_control_path': '%%(directory)s/lago-%s-%%%%C' % vm['prefix_uuid'][:8],
        'lago_vm_name': vm['name'],
        'lago_libvirt_name': vm['libvirt_name'],
        'lago_vm_type': vm['vm_type'],
        'lago_groups': vm['groups'],
        'lago_nets': nets,
        'lago_nics': vm['nics'],
        'lago_management_net': vm['management_net'],
        'lago_metadata': vm['metadata'],
        'lago_deploy_scripts': list(vm['metadata'].get('deploy-scripts') or []),
        'lago_artifacts': vm['artifacts'],
        'lago_disks': vm['disks'],
        'lago_prefix': prefix,
        'lago_prefix_uuid': vm['prefix_uuid'],
    }


def ssh_common_args(prefix, vm_name):
    """SSH options that check the VM's host key against the prefix's known_hosts only.

    The key is looked up under the VM's name (HostKeyAlias), so it still matches
    when ansible_host is changed (a tunnel, a forwarded port). ssh_config
    expands %-tokens and splits unquoted values at blanks: hence %% and the quotes.
    """
    known_hosts = os.path.join(prefix, 'known_hosts').replace('%', '%%')
    options = [
        'UserKnownHostsFile="%s"' % known_hosts,
        'GlobalKnownHostsFile=/dev/null',
        'StrictHostKeyChecking=yes',
        'HostKeyAlias=%s' % vm_name,
        'IdentitiesOnly=yes',
    ]
    return ' '.join('-o %s' % shlex.quote(option) for option in options)
