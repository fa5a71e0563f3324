# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What init makes for one VM of a prefix: its record (addresses, MACs), its disks
(template and pool overlays, empty and file disks), its seed, its deploy-script
copies, its libvirt domain XML, and the prefix's known_hosts.

prefix_build orders these steps and undoes them on failure; each step records
what it made in the VM's record (prefix_records.Vm) as it makes it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import os
import shutil

from ansible_collections.lago.lago.plugins.module_utils import (
    addressing, disk, domain, pool, qemu_access, qemu_img, seed, sshkeys, template_repo, template_store, values)
from ansible_collections.lago.lago.plugins.module_utils.errors import PrefixError
from ansible_collections.lago.lago.plugins.module_utils.files import atomic_write

# The init file's optional VM keys its record keeps (the root password is in the seed only).
OPTIONAL_VM_KEYS = ('cpu_model', 'cpu_custom', 'boot_time_sec', 'distro')


def new_vm(state, name, vm_spec):
    """The record of a new VM: its libvirt name and the address and MAC of each NIC."""
    taken = [nic.data for vm in state.vms.values() for nic in vm.nics]
    nets = dict((net_name, net.data) for net_name, net in state.nets.items())
    nics = addressing.allocate_nics(state.uuid, name, vm_spec['nics'], nets, taken)
    management = vm_spec['management_net']
    address = next(nic['ip'] for nic in nics if nic['net'] == management)
    return dict(libvirt_name='%s-%s' % (state.short_id, name), vm_type=vm_spec['vm-type'], groups=vm_spec['groups'],
                memory=vm_spec['memory'], vcpu=vm_spec['vcpu'], ssh_user=vm_spec['ssh-user'],
                management_net=management, address=address, nics=nics, disks=[], seed=None,
                host_key=None, artifacts=vm_spec['artifacts'],
                metadata=dict(vm_spec.get('metadata') or {}),
                **dict((key.replace('-', '_'), vm_spec[key]) for key in OPTIONAL_VM_KEYS if key in vm_spec))


def make_disks(state, name, vm_spec):
    vm = state.vm(name)
    for disk_spec in vm_spec['disks']:
        if vm.disk(disk_spec['name']) is not None:
            continue
        vm.add_disk(_make_disk(state, name, disk_spec))
        state.save()


def _make_disk(state, vm_name, disk_spec):
    entry = dict(name=disk_spec['name'], dev=disk_spec['dev'], type=disk_spec['type'],
                 format=disk_spec['format'], owned=True)
    if disk_spec['type'] == 'file' and not disk_spec.get('make_a_copy'):
        # Lago's file disk: the user's image, used in place and never removed.
        entry.update(path=disk_spec['path'], owned=False)
        if not os.path.isfile(entry['path']):
            raise PrefixError('disk %s of %s: file %s does not exist' % (disk_spec['name'], vm_name, entry['path']))
        return entry
    entry['path'] = state.layout.image(vm_name, disk_spec['name'], disk_spec['format'])
    if disk_spec['type'] == 'empty':
        qemu_img.create(entry['path'], size=disk_spec['size'], fmt=disk_spec['format'])
    elif disk_spec['type'] == 'file':
        qemu_img.convert(disk_spec['path'], entry['path'], out_format=disk_spec['format'])
    elif disk_spec.get('template_type') == 'pool':
        _pool_overlay(state.layout, entry, vm_name, disk_spec)
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
    if not state.template_repo:
        raise PrefixError('disk %s needs template %s but no template_repo was given'
                          % (disk_spec['name'], disk_spec['template_name']))
    backing = _template_backing(state.template_repo, state.template_store,
                                disk_spec['template_name'], disk_spec.get('template_version'))
    _repo, template, version = template_repo.split_store_name(backing['name'])
    entry.update(store_entry=backing['name'], backing=backing['path'], template=template,
                 template_version=version)
    template_store.add_user(state.template_store, backing['name'], state.owner.path)
    qemu_img.create(entry['path'], fmt='qcow2', backing_file=backing['path'], backing_format=backing['format'])


def make_seed(state, name, vm_spec):
    """The VM's NoCloud seed and SSH host key; none with ``bootstrap: false`` (the image is used as it is)."""
    if vm_spec.get('bootstrap') is False:
        return
    layout = state.layout
    vm = state.vm(name)
    private, public = host_key_pair(layout, name)
    management = state.management_net(vm)
    seed_nics = []
    for nic in vm.nics:
        net = state.net(nic.net)
        entry = dict(mac=nic.mac, mtu=net.mtu)
        if nic.ip:
            entry['address'] = '%s/%d' % (nic.ip, ipaddress.IPv4Network(net.subnet).prefixlen)
        if nic.net == vm.management_net:
            entry.update(gateway=management.gateway, dns=[management.gateway],
                         search=[management.dns_domain] if management.dns_domain else [])
        seed_nics.append(entry)
    fqdn = '%s.%s' % (name, management.dns_domain) if management.dns_domain else None
    files = seed.render_seed(hostname=name, instance_id='%s-%s' % (state.uuid, name),
                             authorized_keys=[sshkeys.read_public_key(layout.public_key)],
                             nics=seed_nics, host_key=('ed25519', private, public), fqdn=fqdn,
                             root_password_hash=vm_spec.get('root-password'))
    vm.seed = layout.seed(name)
    state.save()
    seed.write_seed_image(vm.seed, files)
    vm.host_key = public
    state.save()


def write_host_key(layout, name, private, public):
    """The SSH host key pair of VM ``name`` in the prefix (private 0600)."""
    key_path = layout.host_key(name)
    atomic_write(key_path, private.rstrip('\n') + '\n', mode=0o600)
    atomic_write(key_path + '.pub', public.rstrip('\n') + '\n')


def host_key_pair(layout, name):
    """(private, public) SSH host key of VM ``name``, made the first time it is asked for."""
    key_path = layout.host_key(name)
    if not os.path.exists(key_path):
        write_host_key(layout, name, *sshkeys.make_host_key(comment=name))
    with open(key_path) as handle:
        private = handle.read()
    return private, sshkeys.read_public_key(key_path + '.pub')


def copy_scripts(state, name, vm_spec):
    vm = state.vm(name)
    scripts = (vm_spec.get('metadata') or {}).get('deploy-scripts') or []
    target_dir = state.layout.scripts_dir(name)
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
        vm.metadata = dict(vm.metadata or {}, **{'deploy-scripts': copied})
    state.save()


def domain_xml(state, name):
    vm = state.vm(name)
    disks = [dict(path=d.path, format=d.format, dev=d.dev) for d in vm.disks]
    if vm.seed:
        seed_dev = values.next_free_dev(d.dev for d in vm.disks)
        disks.append(dict(path=vm.seed, format='raw', dev=seed_dev, readonly=True))
    nics = [dict(network=state.net(nic.net).libvirt_name, mac=nic.mac) for nic in vm.nics]
    return domain.build_domain_xml(vm.libvirt_name, vm.memory, vm.vcpu, disks, nics,
                                   virt_type=state.virt_type, console_log=state.layout.console_log(name),
                                   description='lago prefix %s, vm %s' % (state.path, name),
                                   cpu_model=vm.cpu_model, cpu_custom=vm.cpu_custom)


def qemu_paths(state, name):
    """Every file qemu opens for VM ``name``: its images and their chains, its seed, its saved RAM."""
    vm = state.vm(name)
    paths = [vm.seed]
    for item in vm.disks:
        paths += [item.path, item.backing, item.parent] + sorted(item.layers) + item.base_files
    paths += [record.memory for record in vm.snapshots.values()]
    return sorted(set(path for path in paths if path and not qemu_img.is_protocol(path)))


def let_qemu_reach(conn, state, names=None):
    """Give the qemu user of ``conn``'s libvirtd search permission on the directories of the
    prefix and the template store above the files of the VMs ``names`` (default: all);
    PrefixError naming any other directory that blocks it. Returns the directories changed."""
    paths = [path for name in state.chosen_vms(names) for path in qemu_paths(state, name)]
    return qemu_access.make_reachable(paths, qemu_access.connection_identity(conn),
                                      owned_trees=(state.path, state.template_store))


def reclaim_seeds(conn, state, names):
    """Give the seeds of the stopped VMs ``names`` back to the prefix's owner (libvirt leaves them to qemu)."""
    info = os.stat(state.path)
    return qemu_access.give_back([state.vm(name).seed for name in names if state.vm(name).seed],
                                 (info.st_uid, info.st_gid), qemu_access.connection_identity(conn))


def write_known_hosts(state):
    lines = []
    for name, vm in state.vms.items():
        if not vm.host_key:
            continue
        names = [name, vm.address]
        domain_name = state.management_net(vm).dns_domain
        if domain_name:
            names.insert(1, '%s.%s' % (name, domain_name))
        lines.append(sshkeys.known_hosts_line(names, vm.host_key))
    atomic_write(state.layout.known_hosts, ''.join(line + '\n' for line in lines), mode=0o644)


# ------------------------------------------------------------------ updates
