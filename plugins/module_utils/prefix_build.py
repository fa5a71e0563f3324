# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lago's ``init``: a prefix from a normalized spec, and the changes that can
safely be applied to an existing one.

Each object is recorded in state.json before (or as) it is made, so that a
failure, even a killed process, can be rolled back from the state alone.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import os
import shutil

from ansible_collections.lago.lago.plugins.module_utils import (
    addressing, disk, domain, network, pool, qemu_img, seed, spec_diff as specs, sshkeys, subnet_lease,
    template_repo, template_store, values)
from ansible_collections.lago.lago.plugins.module_utils.errors import LagoError, PrefixError
from ansible_collections.lago.lago.plugins.module_utils.files import atomic_write, read_json, remove_path, write_json
from ansible_collections.lago.lago.plugins.module_utils.prefix import (
    STATE_VERSION, describe, load_state, owner_of, save_state, teardown, teardown_vm)

# What an existing prefix accepts from a changed init file.
METADATA_KEYS = {'groups', 'vm-type', 'artifacts', 'metadata'}
STOPPED_ONLY_KEYS = {'memory', 'vcpu'}


class Options(object):
    """Where a prefix finds its templates, leases and libvirt."""

    def __init__(self, template_repo=None, template_store=None, lease_dir=None,
                 libvirt_uri='qemu:///system', virt_type='kvm', subnet_pool=None):
        self.template_repo = template_repo
        self.template_store = template_store
        self.lease_dir = lease_dir
        self.libvirt_uri = libvirt_uri
        self.virt_type = virt_type
        self.subnet_pool = subnet_pool


# ----------------------------------------------------------------- planning

def plan(layout, new_spec, conn):
    """What applying ``new_spec`` to the prefix at ``layout`` would do.

    Returns dict(action=create|update|none, diff, refused=[reasons]).
    """
    if not os.path.exists(layout.state_file):
        return dict(action='create', diff=specs.spec_diff(None, new_spec), refused=[])
    state = load_state(layout)
    if state.get('status') != 'ready':
        return dict(action='create', diff=specs.spec_diff(None, new_spec), refused=[])
    old_spec = read_json(layout.spec_file)
    diff = specs.spec_diff(old_spec, new_spec)
    refused = _refusals(diff, state, conn)
    return dict(action='update' if diff['changed'] else 'none', diff=diff, refused=refused)


def _refusals(diff, state, conn):
    refused = []
    for kind in ('added', 'removed'):
        for name in diff['nets'][kind]:
            refused.append('net %s would be %s: nets of an existing prefix cannot change '
                           '(destroy and init the prefix again)' % (name, kind))
    for name, keys in sorted(diff['nets']['changed'].items()):
        refused.append('net %s changes %s: nets of an existing prefix cannot change' % (name, ', '.join(keys)))
    for name in diff['vms']['removed']:
        refused.append('vm %s would be removed: removing a VM is not applied (destroy the prefix instead)' % name)
    for name, change in sorted(diff['vms']['changed'].items()):
        keys = set(change['keys']) - {'disks'}
        other = sorted(keys - METADATA_KEYS - STOPPED_ONLY_KEYS)
        if other:
            refused.append('vm %s changes %s: only memory, vcpu, new disks and metadata '
                           '(groups, vm-type, artifacts, metadata) can change' % (name, ', '.join(other)))
        disks = change.get('disks') or {}
        if disks.get('removed') or disks.get('changed'):
            refused.append('vm %s: existing disks cannot be removed or changed (%s)'
                           % (name, ', '.join(sorted(list(disks.get('removed', [])) + list(disks.get('changed', {}))))))
        needs_stop = sorted(keys & STOPPED_ONLY_KEYS) + (['new disks'] if disks.get('added') else [])
        if needs_stop and _running(conn, state['vms'][name]):
            refused.append('vm %s changes %s while it runs: stop it first' % (name, ', '.join(needs_stop)))
    return refused


def _running(conn, vm):
    dom = domain.lookup_domain(conn, vm['libvirt_name'])
    return dom is not None and dom.isActive()


# ------------------------------------------------------------------- applying

def apply(layout, new_spec, options, conn, check_mode=False):
    """Make the prefix match ``new_spec``. Returns dict(changed, diff, prefix)."""
    planned = plan(layout, new_spec, conn)
    if planned['refused']:
        raise PrefixError('prefix %s: the init file changed in ways that cannot be applied: %s'
                          % (layout.path, '; '.join(planned['refused'])))
    if check_mode:
        changed = planned['action'] != 'none'
        prefix = describe(layout, load_state(layout), conn) if planned['action'] != 'create' else None
        return dict(changed=changed, diff=planned['diff'], prefix=prefix)
    if planned['action'] == 'create':
        state = _create(layout, new_spec, options, conn)
        return dict(changed=True, diff=planned['diff'], prefix=describe(layout, state, conn))
    state = load_state(layout)
    changed = planned['action'] == 'update'
    if changed:
        state = _update(layout, state, new_spec, planned['diff'], conn)
    changed = _reconcile_libvirt(layout, state, conn) or changed
    return dict(changed=changed, diff=planned['diff'], prefix=describe(layout, state, conn))


def _create(layout, new_spec, options, conn):
    """Build a new prefix; on any failure remove all this run made and say at which step."""
    leftover = _interrupted_state(layout)
    if leftover is not None:
        teardown(conn, layout, leftover, remove_dir=leftover.get('created_dir', False))
    created_dir = not os.path.isdir(layout.path)
    state = None
    step = 'layout'
    try:
        state = _new_layout(layout, options, created_dir)
        step = 'leases'
        _lease_subnets(state, new_spec, options)
        save_state(layout, state)
        step = 'addresses'
        for name in sorted(new_spec['domains']):
            state['vms'][name] = _new_vm(state, name, new_spec['domains'][name])
        save_state(layout, state)
        for name in sorted(state['vms']):
            step = 'disks of %s' % name
            _make_disks(layout, state, name, new_spec['domains'][name])
            step = 'seed of %s' % name
            _make_seed(layout, state, name)
            step = 'deploy scripts of %s' % name
            _copy_scripts(layout, state, name, new_spec['domains'][name])
        step = 'networks'
        for name in sorted(state['nets']):
            network.reconcile(conn, _net_description(state, name), 'present')
        step = 'domains'
        for name in sorted(state['vms']):
            domain.define(conn, _domain_xml(layout, state, name))
        step = 'known_hosts'
        _write_known_hosts(layout, state)
        write_json(layout.spec_file, new_spec, mode=0o600)  # may hold a root password
        state['status'] = 'ready'
        save_state(layout, state)
        return state
    except (LagoError, OSError) as err:
        _rollback(conn, layout, state, created_dir)
        raise PrefixError('init of prefix %s failed at step "%s": %s (everything this run created '
                          'was removed again)' % (layout.path, step, err))


def _interrupted_state(layout):
    """The state left by an init that was killed half way, or None."""
    if not os.path.exists(layout.state_file):
        return None
    state = read_json(layout.state_file)
    return state if state.get('status') != 'ready' else None


def _rollback(conn, layout, state, created_dir):
    if state is not None:
        try:
            teardown(conn, layout, state, remove_dir=created_dir)
        except LagoError:
            pass  # the state file stays, so the next run (or destroy) can finish the job
        else:
            state = None
    if state is None and not created_dir:
        # The directory was the user's: take back only our own files.
        for path in [layout.uuid_file, layout.private_key, layout.public_key, layout.known_hosts,
                     layout.spec_file, layout.state_file]:
            remove_path(path)
        for path in layout.subdirs():
            shutil.rmtree(path, ignore_errors=True)
    elif state is None and created_dir and os.path.isdir(layout.path):
        shutil.rmtree(layout.path, ignore_errors=True)


def _new_layout(layout, options, created_dir):
    for path in [layout.path] + layout.subdirs():
        os.makedirs(path, exist_ok=True)
    owner, _created = subnet_lease.ensure_owner(layout.uuid_file)
    if not os.path.exists(layout.private_key):
        # RSA for Lago's id_rsa (every sshd takes it); 2048 bits keeps init fast.
        sshkeys.generate_keypair(layout.private_key, key_type='rsa', bits=2048,
                                 comment='lago-%s' % owner.uuid[:8])
    state = dict(version=STATE_VERSION, status='initializing', created_dir=created_dir,
                 uuid=owner.uuid, short_id=network.short_id(owner.uuid), path=layout.path,
                 libvirt_uri=options.libvirt_uri, virt_type=options.virt_type,
                 template_repo=options.template_repo, template_store=options.template_store,
                 lease_dir=options.lease_dir, nets={}, vms={})
    save_state(layout, state)
    return state


# ------------------------------------------------------------------ networks

def _lease_subnets(state, new_spec, options):
    owner = owner_of(state)
    for name, net_spec in sorted(new_spec['nets'].items()):
        libvirt_name, bridge = network.derive_names(state['uuid'], name)
        entry = dict(libvirt_name=libvirt_name, bridge=bridge, type=net_spec['type'],
                     management=net_spec['management'], mtu=net_spec.get('mtu'),
                     dns_domain=net_spec.get('dns_domain_name'), leased=False,
                     subnet=None, gateway=None, dhcp=None)
        state['nets'][name] = entry
        if net_spec['type'] == 'bridge':
            continue
        wanted = net_spec.get('gw')
        # Recorded before the lease is written: a crash in between leaves a
        # lease that release() (owner checked) can still take back.
        entry['leased'] = True
        lease = subnet_lease.acquire(options.lease_dir, owner, subnet=wanted, pool=options.subnet_pool)
        subnet = ipaddress.IPv4Network(lease['subnet'])
        entry.update(subnet=lease['subnet'], gateway=lease['gateway'])
        dhcp = net_spec.get('dhcp')
        if dhcp:
            entry['dhcp'] = dict(start=str(subnet.network_address + int(dhcp['start'])),
                                 end=str(subnet.network_address + int(dhcp['end'])))


def _net_description(state, name):
    """The libvirt network a prefix net needs, with a DHCP and DNS entry per VM."""
    net = state['nets'][name]
    if net['type'] == 'bridge':
        return network.describe(net['libvirt_name'], net['bridge'], net_type='bridge', mtu=net.get('mtu'))
    hosts, dns_hosts = [], {}
    for vm_name, vm in sorted(state['vms'].items()):
        for nic in vm['nics']:
            if nic['net'] == name and nic.get('ip'):
                hosts.append(dict(mac=nic['mac'], ip=nic['ip'], name=vm_name))
                if net['management']:
                    dns_hosts[vm_name] = nic['ip']
    dhcp = net.get('dhcp')
    return network.describe(
        net['libvirt_name'], net['bridge'], net_type=net['type'], subnet=net['subnet'],
        dhcp=dict(start=dhcp['start'], end=dhcp['end']) if dhcp else None,
        hosts=hosts, dns=True, dns_domain=net.get('dns_domain') if net['management'] else None,
        dns_hosts=dns_hosts, mtu=net.get('mtu'))


# ------------------------------------------------------------------- VMs

def _new_vm(state, name, vm_spec):
    libvirt_name = '%s-%s' % (state['short_id'], name)
    taken = [nic for vm in state['vms'].values() for nic in vm['nics']]
    nics = addressing.allocate_nics(state['uuid'], name, vm_spec['nics'], state['nets'], taken)
    management = vm_spec['management_net']
    address = next(nic['ip'] for nic in nics if nic['net'] == management)
    return dict(libvirt_name=libvirt_name, vm_type=vm_spec['vm-type'], groups=vm_spec['groups'],
                memory=vm_spec['memory'], vcpu=vm_spec['vcpu'], ssh_user=vm_spec['ssh-user'],
                management_net=management, address=address, nics=nics, disks=[], seed=None,
                host_key=None, artifacts=vm_spec['artifacts'],
                metadata=dict(vm_spec.get('metadata') or {}))


def _make_disks(layout, state, name, vm_spec):
    vm = state['vms'][name]
    for disk_spec in vm_spec['disks']:
        if any(d['name'] == disk_spec['name'] for d in vm['disks']):
            continue
        vm['disks'].append(_make_disk(layout, state, name, disk_spec))
        save_state(layout, state)


def _make_disk(layout, state, vm_name, disk_spec):
    entry = dict(name=disk_spec['name'], dev=disk_spec['dev'], type=disk_spec['type'],
                 format=disk_spec['format'], owned=True)
    if disk_spec['type'] == 'file' and not disk_spec.get('make_a_copy'):
        # Lago's file disk: the user's image, used in place and never removed.
        entry.update(path=disk_spec['path'], owned=False)
        if not os.path.isfile(entry['path']):
            raise PrefixError('disk %s of %s: file %s does not exist' % (disk_spec['name'], vm_name, entry['path']))
        return entry
    entry['path'] = layout.image(vm_name, disk_spec['name'], disk_spec['format'])
    if disk_spec['type'] == 'empty':
        qemu_img.create(entry['path'], size=disk_spec['size'], fmt=disk_spec['format'])
    elif disk_spec['type'] == 'file':
        qemu_img.convert(disk_spec['path'], entry['path'], out_format=disk_spec['format'])
    elif disk_spec.get('template_type') == 'pool':
        _pool_overlay(layout, entry, vm_name, disk_spec)
    elif disk_spec.get('template_type') == 'qcow2':
        backing = disk_spec['path']
        entry.update(backing=backing)
        qemu_img.create(entry['path'], fmt='qcow2', backing_file=backing,
                        backing_format=qemu_img.image_format(backing))
    else:
        _template_overlay(state, entry, disk_spec)
    return entry


def _pool_overlay(layout, entry, vm_name, disk_spec):
    """A disk on a state of a state pool: the state's chain is brought into the prefix
    (checked against its manifest) and the disk is an overlay on its top layer."""
    location, state_name = pool.split_state(disk_spec['path'])
    picked = (disk_spec.get('template_name') or vm_name).split('/')
    imported = pool.import_disk(location, state_name, picked[0], picked[1] if len(picked) > 1 else disk_spec['name'],
                                layout.pool_imports)
    entry.update(backing=imported['top'], base_files=imported['files'], pool_state=disk_spec['path'])
    qemu_img.create(entry['path'], fmt='qcow2', backing_file=imported['top'], backing_format=imported['format'])


_BACKINGS = {}


def _template_backing(repo, store, template, version):
    """disk.template_backing, once per template and version in this process."""
    key = (repo, store, template, version)
    if key not in _BACKINGS:
        _BACKINGS[key] = disk.template_backing(repo, store, template, version)
    return _BACKINGS[key]


def _template_overlay(state, entry, disk_spec):
    if not state.get('template_repo'):
        raise PrefixError('disk %s needs template %s but no template_repo was given'
                          % (disk_spec['name'], disk_spec['template_name']))
    backing = _template_backing(state['template_repo'], state['template_store'],
                                disk_spec['template_name'], disk_spec.get('template_version'))
    _repo, template, version = template_repo.split_store_name(backing['name'])
    entry.update(store_entry=backing['name'], backing=backing['path'], template=template,
                 template_version=version)
    template_store.add_user(state['template_store'], backing['name'], owner_of(state).path)
    qemu_img.create(entry['path'], fmt='qcow2', backing_file=backing['path'], backing_format=backing['format'])


def _make_seed(layout, state, name):
    vm = state['vms'][name]
    key_path = layout.host_key(name)
    if not os.path.exists(key_path):
        private, public = sshkeys.make_host_key(comment=name)
        atomic_write(key_path, private, mode=0o600)
        atomic_write(key_path + '.pub', public + '\n')
    with open(key_path) as handle:
        private = handle.read()
    public = sshkeys.read_public_key(key_path + '.pub')
    management = state['nets'][vm['management_net']]
    seed_nics = []
    for nic in vm['nics']:
        net = state['nets'][nic['net']]
        entry = dict(mac=nic['mac'], mtu=net.get('mtu'))
        if nic.get('ip'):
            entry['address'] = '%s/%d' % (nic['ip'], ipaddress.IPv4Network(net['subnet']).prefixlen)
        if nic['net'] == vm['management_net']:
            entry.update(gateway=management['gateway'], dns=[management['gateway']],
                         search=[management['dns_domain']] if management.get('dns_domain') else [])
        seed_nics.append(entry)
    fqdn = '%s.%s' % (name, management['dns_domain']) if management.get('dns_domain') else None
    files = seed.render_seed(hostname=name, instance_id='%s-%s' % (state['uuid'], name),
                             authorized_keys=[sshkeys.read_public_key(layout.public_key)],
                             nics=seed_nics, host_key=('ed25519', private, public), fqdn=fqdn)
    vm['seed'] = layout.seed(name)
    save_state(layout, state)
    seed.write_seed_image(vm['seed'], files)
    vm['host_key'] = public
    save_state(layout, state)


def _copy_scripts(layout, state, name, vm_spec):
    vm = state['vms'][name]
    scripts = (vm_spec.get('metadata') or {}).get('deploy-scripts') or []
    target_dir = layout.scripts_dir(name)
    shutil.rmtree(target_dir, ignore_errors=True)
    copied = []
    if scripts:
        os.makedirs(target_dir)
    for index, source in enumerate(scripts):
        if not os.path.isfile(source):
            raise PrefixError('deploy script %s of vm %s does not exist' % (source, name))
        target = os.path.join(target_dir, '%02d-%s' % (index + 1, os.path.basename(source)))
        shutil.copyfile(source, target)
        os.chmod(target, 0o755)
        copied.append(target)
    if scripts:
        vm['metadata']['deploy-scripts'] = copied
    save_state(layout, state)


def _domain_xml(layout, state, name):
    vm = state['vms'][name]
    disks = [dict(path=d['path'], format=d['format'], dev=d['dev']) for d in vm['disks']]
    if vm.get('seed'):
        seed_dev = values.next_free_dev(d['dev'] for d in vm['disks'])
        disks.append(dict(path=vm['seed'], format='raw', dev=seed_dev, readonly=True))
    nics = [dict(network=state['nets'][nic['net']]['libvirt_name'], mac=nic['mac']) for nic in vm['nics']]
    return domain.build_domain_xml(vm['libvirt_name'], vm['memory'], vm['vcpu'], disks, nics,
                                   virt_type=state['virt_type'], console_log=layout.console_log(name),
                                   description='lago prefix %s, vm %s' % (state['path'], name))


def _write_known_hosts(layout, state):
    lines = []
    for name, vm in sorted(state['vms'].items()):
        if not vm.get('host_key'):
            continue
        names = [name, vm['address']]
        domain_name = state['nets'][vm['management_net']].get('dns_domain')
        if domain_name:
            names.insert(1, '%s.%s' % (name, domain_name))
        lines.append(sshkeys.known_hosts_line(names, vm['host_key']))
    atomic_write(layout.known_hosts, ''.join(line + '\n' for line in lines), mode=0o644)


# ------------------------------------------------------------------ updates

def _update(layout, state, new_spec, diff, conn):
    """Apply the safe changes of ``diff`` (already checked by plan)."""
    added = list(diff['vms']['added'])
    try:
        for name in added:
            state['vms'][name] = _new_vm(state, name, new_spec['domains'][name])
            save_state(layout, state)
            _make_disks(layout, state, name, new_spec['domains'][name])
            _make_seed(layout, state, name)
            _copy_scripts(layout, state, name, new_spec['domains'][name])
    except (LagoError, OSError) as err:
        for name in added:
            vm = state['vms'].pop(name, None)
            if vm is not None:
                teardown_vm(conn, state, vm)
        save_state(layout, state)
        raise PrefixError('adding vm(s) %s to prefix %s failed: %s (the new VMs were removed again)'
                          % (', '.join(added), layout.path, err))
    for name, change in sorted(diff['vms']['changed'].items()):
        vm_spec = new_spec['domains'][name]
        vm = state['vms'][name]
        vm.update(memory=vm_spec['memory'], vcpu=vm_spec['vcpu'], vm_type=vm_spec['vm-type'],
                  groups=vm_spec['groups'], artifacts=vm_spec['artifacts'],
                  metadata=dict(vm_spec.get('metadata') or {}))
        _make_disks(layout, state, name, vm_spec)
        _copy_scripts(layout, state, name, vm_spec)
        domain.define(conn, _domain_xml(layout, state, name))
    _write_known_hosts(layout, state)
    write_json(layout.spec_file, new_spec, mode=0o600)  # may hold a root password
    save_state(layout, state)
    return state


def _reconcile_libvirt(layout, state, conn):
    """Bring back libvirt objects of the prefix that libvirt lost. True if any was."""
    changed = False
    for name in sorted(state['nets']):
        changed = network.reconcile(conn, _net_description(state, name), 'present')['changed'] or changed
    for name, vm in sorted(state['vms'].items()):
        if domain.lookup_domain(conn, vm['libvirt_name']) is None:
            domain.define(conn, _domain_xml(layout, state, name))
            changed = True
    return changed
