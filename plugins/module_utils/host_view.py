# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hosts of Lago prefixes: which VMs, their addresses, groups and SSH settings.

The one view the inventory plugin (``lago.lago.lago``) and the ``lago_hosts``
lookup share; neither knows how a prefix is laid out. It reads prefixes only
through ``prefix_state`` (``Layout`` for file names, ``PrefixState`` and its
records for state.json) and knows nothing of Ansible's plugin classes: a caller
gives its group-name sanitizer and turns a ``LagoError`` into its own error.

Two steps, so an inventory cache can sit between them:

- ``read_prefix(path)`` -> one plain dict per VM (a *VM record*: what a host
  needs, nothing live; JSON-safe, so the inventory cache can hold it);
- ``hosts(records, prefixed, sanitize)`` -> one ``Host`` per VM record: its
  name, its groups and its host variables.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import glob
import os
import shlex

from ansible_collections.lago.lago.plugins.module_utils.errors import LagoError, PrefixError, SpecError
from ansible_collections.lago.lago.plugins.module_utils.prefix_state import Layout, PrefixState
from ansible_collections.lago.lago.plugins.module_utils.ssh import Jump, proxy_option

# The group every host is in, parent of all the lago_* groups.
PARENT_GROUP = 'lago'
# The inventory plugin sets it on PARENT_GROUP (so group_vars can override it);
# the lookup has no group to set it on and gives it to every host.
PYTHON_INTERPRETER = '/usr/bin/python3'
DEFAULT_SSH_USER = 'root'
DEFAULT_VM_TYPE = 'default'
GLOB_CHARS = frozenset('*?[')


# ------------------------------------------------------------------ finding prefixes

def find_prefixes(entries, base_dir):
    """The prefix directories ``entries`` (paths or shell globs) name, in order, each once.

    ``~`` and environment variables are expanded, a relative entry is taken
    relative to ``base_dir``. A plain path is kept as it is (reading it tells
    whether it is a prefix); a glob keeps the initialized prefixes it matches.
    Returns ``(paths, empty_globs)``: the globs that matched no prefix, for a warning.
    """
    if not entries:
        raise SpecError('prefixes is empty; list at least one prefix directory')
    paths, empty_globs, seen = [], [], set()
    for entry in entries:
        if not isinstance(entry, str):
            raise SpecError('prefixes entries must be paths, got %r' % (entry,))
        path = os.path.normpath(os.path.join(base_dir, os.path.expandvars(os.path.expanduser(entry))))
        if GLOB_CHARS.intersection(path):
            matches = [match for match in sorted(glob.glob(path)) if Layout(match).initialized]
            if not matches:
                empty_globs.append(path)
        else:
            matches = [path]
        for match in matches:
            real = os.path.realpath(match)
            if real not in seen:
                seen.add(real)
                paths.append(match)
    return paths, empty_globs


# ------------------------------------------------------------------ reading: prefix -> VM records

def read_prefix(path):
    """The VMs of the prefix at ``path`` as VM records (plain dicts), sorted by name.

    A missing directory, a directory that is not a prefix, a damaged or
    unsupported state.json, or a VM lacking what a host needs is a PrefixError
    naming the path (and, for a VM, the file and the key).
    """
    layout = Layout(path)
    if not os.path.isdir(layout.path):
        raise PrefixError('prefix %s does not exist' % layout.path)
    state = PrefixState.load(layout)
    if not state.uuid:
        raise PrefixError('%s has no uuid' % layout.state_file)
    return [vm_record(state, name) for name in state.vm_names]


def vm_record(state, name):
    """VM ``name`` of ``state`` (a PrefixState) as a VM record."""
    vm = state.vm(name)
    place = '%s: vms.%s' % (state.layout.state_file, name)
    if not isinstance(vm.data, dict):
        raise PrefixError('%s must be a mapping' % place)
    for key in ('libvirt_name', 'address'):
        if not getattr(vm, key):
            raise PrefixError('%s has no %s' % (place, key))
    nics = vm.data.get('nics') or []
    if not isinstance(nics, list) or not all(isinstance(nic, dict) and nic.get('net') for nic in nics):
        raise PrefixError('%s.nics must be a list of mappings, each with a net' % place)
    metadata = vm.metadata or {}
    if not isinstance(metadata, dict):
        raise PrefixError('%s.metadata must be a mapping' % place)
    jump = state.jump_for(vm)
    return {
        'prefix': state.path,
        'prefix_uuid': state.uuid,
        'libvirt_uri': state.libvirt_uri,
        'name': name,
        'libvirt_name': vm.libvirt_name,
        'address': vm.address,
        'ssh_user': vm.ssh_user or DEFAULT_SSH_USER,
        'vm_type': vm.vm_type or DEFAULT_VM_TYPE,
        'groups': list(vm.groups or []),
        'management_net': vm.management_net,
        'nics': [nic.to_dict() for nic in vm.nics],
        'disks': [disk.to_dict() for disk in vm.disks],
        'metadata': dict(metadata),
        'artifacts': list(vm.artifacts or []),
        'distro': vm.distro,
        'hypervisor': vm.hypervisor,
        'jump': dict(jump._asdict()) if jump is not None else None,
    }


# ------------------------------------------------------------------ hosts: VM records -> names, groups, variables

Host = collections.namedtuple('Host', 'name record lago_groups groups variables')
Host.__doc__ = """One VM as a host: ``lago_groups`` are children of PARENT_GROUP, ``groups`` the init file's."""


def hosts(records, prefixed=False, sanitize=None):
    """One Host per VM record, in order.

    ``prefixed`` names hosts ``<prefix directory name>-<vm>`` instead of by
    the VM's name; ``sanitize`` makes a group name safe (the caller's rule,
    e.g. Ansible's ``to_safe_group_name``). Two VMs with one host name, or two
    prefixes with one directory name (one ``lago_<prefix>`` group), are a
    SpecError naming both prefixes.
    """
    sanitize = sanitize or (lambda name: name)
    names = host_names(records, prefixed)
    check_prefix_groups(records, sanitize)
    result = []
    for name, record in zip(names, records):
        lago_groups, groups = vm_groups(record, sanitize)
        result.append(Host(name, record, lago_groups, groups, host_vars(record)))
    return result


def prefix_name(path):
    return os.path.basename(os.path.normpath(path))


def host_names(records, prefixed=False):
    """One host name per VM record; two VMs with one name is an error naming both prefixes."""
    owners = {}
    names = []
    for record in records:
        name = '%s-%s' % (prefix_name(record['prefix']), record['name']) if prefixed else record['name']
        if name in owners:
            hint = ('rename one of the prefix directories' if prefixed
                    else 'set host_name: prefixed or list only one of them')
            raise SpecError('host %s would be VM %s of prefix %s and VM %s of prefix %s; %s'
                            % (name, owners[name]['name'], owners[name]['prefix'], record['name'], record['prefix'], hint))
        owners[name] = record
        names.append(name)
    return names


def prefix_group(record, sanitize):
    return sanitize('lago_%s' % prefix_name(record['prefix']))


def check_prefix_groups(records, sanitize):
    """Two prefixes whose directory names give one ``lago_<prefix>`` group are an error naming both."""
    owners = {}
    for record in records:
        group = prefix_group(record, sanitize)
        other = owners.setdefault(group, record['prefix'])
        if other != record['prefix']:
            raise SpecError('prefixes %s and %s would share the group %s (same directory name); rename one of them'
                            % (other, record['prefix'], group))


def vm_groups(record, sanitize):
    """The groups of one VM record: (children of PARENT_GROUP, the init file's ``groups``), each once."""
    lago_groups = [prefix_group(record, sanitize), sanitize('lago_vm_type_%s' % record['vm_type'])]
    lago_groups.extend(sanitize('lago_net_%s' % nic['net']) for nic in record['nics'])
    return _once(lago_groups), _once(sanitize(group) for group in record['groups'])


def _once(names):
    result = []
    for name in names:
        if name not in result:
            result.append(name)
    return result


def host_vars(record):
    """The host variables of one VM record."""
    layout = Layout(record['prefix'])
    nets = {}
    for nic in record['nics']:
        nets.setdefault(nic['net'], {'ip': nic.get('ip'), 'mac': nic.get('mac')})
    return {
        'ansible_host': record['address'],
        'ansible_user': record['ssh_user'],
        'ansible_ssh_private_key_file': layout.private_key,
        'ansible_ssh_common_args': ssh_common_args(layout.known_hosts, record['name'], record.get('jump')),
        'ansible_control_path': control_path(record['prefix_uuid']),
        'lago_vm_name': record['name'],
        'lago_libvirt_name': record['libvirt_name'],
        'lago_vm_type': record['vm_type'],
        'lago_groups': record['groups'],
        'lago_nets': nets,
        'lago_nics': record['nics'],
        'lago_management_net': record['management_net'],
        'lago_metadata': record['metadata'],
        'lago_deploy_scripts': list(record['metadata'].get('deploy-scripts') or []),
        'lago_artifacts': record['artifacts'],
        'lago_disks': record['disks'],
        'lago_prefix': layout.path,
        'lago_prefix_uuid': record['prefix_uuid'],
        'lago_distro': record.get('distro'),
        'lago_hypervisor': record.get('hypervisor'),
    }


def control_path(prefix_uuid):
    """The SSH control socket of a prefix's connections (an ssh connection plugin template).

    Labs reuse addresses: a connection kept open to a destroyed prefix's VM
    must never serve a new VM at the same address, so the socket carries the
    prefix's id.
    """
    return '%%(directory)s/lago-%s-%%%%C' % prefix_uuid[:8]


def ssh_common_args(known_hosts, vm_name, jump=None):
    """SSH options that check the VM's host key against the prefix's ``known_hosts`` only.

    The key is looked up under the VM's name (HostKeyAlias), so it still matches
    when ansible_host is changed (a tunnel, a forwarded port). ssh_config
    expands %-tokens and splits unquoted values at blanks: hence %% and the quotes.
    With a ``jump`` (a VM record's: the fields of ssh.Jump), a ProxyCommand through
    that hypervisor, its host key as strictly checked (ssh.proxy_command).
    """
    options = [
        'UserKnownHostsFile="%s"' % known_hosts.replace('%', '%%'),
        'GlobalKnownHostsFile=/dev/null',
        'StrictHostKeyChecking=yes',
        'HostKeyAlias=%s' % vm_name,
        'IdentitiesOnly=yes',
    ]
    if jump:
        options.append(proxy_option(Jump(**jump)))
    return ' '.join('-o %s' % shlex.quote(option) for option in options)


# ------------------------------------------------------------------ live state (only when asked for)

def is_running(record, libvirt_uri=None):
    """Whether the VM of ``record`` runs, asked of libvirt at ``libvirt_uri``, else the prefix's own URI.

    A LagoError names the VM and the URI when libvirt cannot tell.
    """
    from ansible_collections.lago.lago.plugins.module_utils.domain import state_name
    from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import DEFAULT_URI, connect, lookup_domain

    uri = libvirt_uri or record['libvirt_uri'] or DEFAULT_URI
    conn = connect(uri)  # LagoError: cannot connect to libvirt at <uri>: ...
    try:
        dom = lookup_domain(conn, record['libvirt_name'])
        return dom is not None and state_name(dom) == 'running'
    except LagoError:
        raise
    except Exception as err:  # libvirtError: the URI answers but refuses the lookup
        raise PrefixError('cannot read the state of VM %s (%s) at %s: %s'
                          % (record['name'], record['libvirt_name'], uri, err))
