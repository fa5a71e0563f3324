# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lago's ``init``: a prefix from a normalized spec, and the changes that can
safely be applied to an existing one, as a Plan (what lago_prefix state=present does).

Works on the prefix_state.PrefixState that the caller holds under the prefix's
lock. Each object is recorded in state.json before (or as) it is made, so that
a failure, even a killed process, can be rolled back from the state alone: a
failed init is undone through one rollback.Rollback (prefix_teardown takes
apart what the state records, then the prefix's own files go).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import os

from ansible_collections.lago.lago.plugins.module_utils import (
    domain, domain_cpu, faults, lease_owner, network, placement, prefix_teardown, prefix_vms, spec_diff as specs,
    sshkeys, subnet_lease)
from ansible_collections.lago.lago.plugins.module_utils.spec_checks import spec_error
from ansible_collections.lago.lago.plugins.module_utils.spec_secrets import seal_passwords
from ansible_collections.lago.lago.plugins.module_utils.errors import LagoError, PrefixError
from ansible_collections.lago.lago.plugins.module_utils.files import atomic_write, read_json, write_json
from ansible_collections.lago.lago.plugins.module_utils.plan import Plan
from ansible_collections.lago.lago.plugins.module_utils.prefix_view import describe
from ansible_collections.lago.lago.plugins.module_utils.rollback import Rollback

# What an existing prefix accepts from a changed init file.
METADATA_KEYS = {'groups', 'vm-type', 'artifacts', 'metadata'}
STOPPED_ONLY_KEYS = {'memory', 'vcpu'}


class Options(object):
    """Where a prefix finds its templates, leases and libvirt."""

    def __init__(self, template_repo=None, template_store=None, lease_dir=None,
                 libvirt_uri='qemu:///system', virt_type='kvm', subnet_pool=None, part=None, part_keys=None,
                 also_in_use=()):
        # A part of a multi-host prefix (prefix_multihost.part_of): its uuid, nets and NICs
        # are the controller's (no lease here), part_keys its key pair and host keys.
        self.part = part
        self.part_keys = part_keys or {}
        # What leases must avoid besides this host's own (the hypervisors' routes: host_subnets.InUse).
        self.also_in_use = tuple(also_in_use)
        self.template_repo = template_repo
        self.template_store = template_store
        self.lease_dir = lease_dir
        self.libvirt_uri = libvirt_uri
        self.virt_type = virt_type
        self.subnet_pool = subnet_pool


# ----------------------------------------------------------------- planning

def _built(state):
    """True when ``state`` is a complete prefix (not new, not left half way by a killed init)."""
    return state.layout.initialized and state.ready


def plan_present(conn, state, new_spec, options):
    """Make the prefix ``state`` (held under its lock) match ``new_spec``, as a Plan named ``prefix``.

    before/after: the init spec the prefix was built from and the one it will
    have; steps: create, the VMs added and changed, the libvirt objects defined
    again. values: changes (the spec diff) and prefix (as it is, or None for a
    new one; after apply, as it is then). Changes an existing prefix cannot
    take raise PrefixError naming each of them, before anything is touched; so does
    a CPU (cpu_model, cpu_custom) of a new VM that this libvirt cannot give (SpecError).
    Root passwords are hashed first (spec_secrets): nothing after this sees a clear one.
    """
    # A prefix built here has no hypervisors (multi-host prefixes: docs/MULTIHOST.md):
    # a VM pinned to one is refused before anything is made.
    placement.check_pins(new_spec, ())
    if not _built(state):
        new_spec = seal_passwords(new_spec)
        _check_cpus(conn, new_spec, sorted(new_spec['domains']), options.virt_type)
        diff = specs.spec_diff(None, new_spec)
        what = 'create' if not state.layout.initialized else 'finish the interrupted init: remove what it made, create'

        def create():
            _create(conn, state, new_spec, options)
            return dict(prefix=describe(state, conn))
        return Plan('prefix', {}, new_spec, [what], create, values=dict(changes=diff, prefix=None))
    old_spec = read_json(state.layout.spec_file)
    new_spec = seal_passwords(new_spec, old_spec)
    diff = specs.spec_diff(old_spec, new_spec)
    _check_cpus(conn, new_spec, diff['vms']['added'], state.virt_type or options.virt_type)
    refused = _refusals(diff, state, conn)
    if refused:
        raise PrefixError('prefix %s: the init file changed in ways that cannot be applied: %s'
                          % (state.path, '; '.join(refused)))
    steps = ['add vm %s' % name for name in diff['vms']['added']]
    steps += ['change vm %s: %s' % (name, ', '.join(change['keys'])) for name, change in sorted(diff['vms']['changed'].items())]
    if not diff['changed']:
        steps += _lost_libvirt_objects(conn, state)

    def update():
        if diff['changed']:
            _update(conn, state, new_spec, diff)
        _reconcile_libvirt(conn, state)
        return dict(prefix=describe(state, conn), after=read_json(state.layout.spec_file))
    return Plan('prefix', old_spec, new_spec if diff['changed'] else old_spec, steps, update,
                values=dict(changes=diff, prefix=describe(state, conn)))


def _check_cpus(conn, spec, names, virt_type):
    """The CPUs the VMs ``names`` ask for, against this libvirt's domain capabilities:
    one SpecError naming every VM, key and reason it cannot give."""
    asking = [name for name in names if 'cpu_model' in spec['domains'][name] or 'cpu_custom' in spec['domains'][name]]
    if not asking:
        return
    caps = domain_cpu.capabilities(conn, virt_type)
    problems = []
    for name in asking:
        problems += domain_cpu.problems(caps, spec['domains'][name], 'domains.%s' % name, virt_type)
    if problems:
        raise spec_error(problems)


def _lost_libvirt_objects(conn, state):
    """What libvirt lost (or has otherwise) of an unchanged prefix: defined again by the plan."""
    steps = []
    for name in state.net_names:
        if network.reconcile(conn, _net_description(state, name), 'present', check_mode=True)['changed']:
            steps.append('define network %s' % state.net(name).libvirt_name)
    for vm in state.vms.values():
        if domain.lookup_domain(conn, vm.libvirt_name) is None:
            steps.append('define domain %s' % vm.libvirt_name)
    return steps


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
        if needs_stop and _running(conn, state.vm(name)):
            refused.append('vm %s changes %s while it runs: stop it first' % (name, ', '.join(needs_stop)))
    return refused


def _running(conn, vm):
    dom = domain.lookup_domain(conn, vm.libvirt_name)
    return dom is not None and dom.isActive()


# ------------------------------------------------------------------- creating

def _create(conn, state, new_spec, options):
    """Build the new prefix into ``state``; on any failure remove all this run made and say at which step."""
    layout = state.layout
    if layout.initialized:
        # A killed init left this: take apart what it recorded, keep the directory (and our lock).
        prefix_teardown.teardown(conn, state)
        prefix_teardown.remove_own_files(layout)
    step = ['layout']
    try:
        with Rollback() as undo:
            undo.push('prefix files of %s' % layout.path, lambda: _undo_create(conn, state))
            new_layout(state, options)
            faults.point('init.after_layout')
            step[0] = 'leases'
            lease_subnets(conn, state, new_spec, options)
            state.save()
            step[0] = 'addresses'
            add_vms(state, new_spec, options)
            for name in state.vm_names:
                step[0] = 'disks of %s' % name
                prefix_vms.make_disks(state, name, new_spec['domains'][name])
                faults.point('init.after_disks')
                step[0] = 'seed of %s' % name
                prefix_vms.make_seed(state, name, new_spec['domains'][name])
                faults.point('init.after_seeds')
                step[0] = 'deploy scripts of %s' % name
                prefix_vms.copy_scripts(state, name, new_spec['domains'][name])
            step[0] = 'access of qemu to the VMs\' files'
            prefix_vms.let_qemu_reach(conn, state)
            step[0] = 'networks'
            for name in state.net_names:
                network.reconcile(conn, _net_description(state, name), 'present')
            step[0] = 'domains'
            for name in state.vm_names:
                domain.define(conn, prefix_vms.domain_xml(state, name))
                faults.point('init.after_domain_define')
            step[0] = 'known_hosts'
            prefix_vms.write_known_hosts(state)
            write_json(layout.spec_file, new_spec, mode=0o600)  # may hold a root password
            faults.point('init.before_ready')
            state.status = 'ready'
            state.save()
            undo.commit()
    except (LagoError, OSError) as err:
        raise init_failed(layout, step[0], err)


def init_failed(layout, step, err):
    """The PrefixError of an init that failed at ``step`` with ``err``, saying whether its rollback removed all."""
    failures = getattr(err, 'rollback_failures', None)
    outcome = ('what could not be removed is still recorded in state.json: run lago_prefix state=absent'
               if failures else 'everything this run created was removed again')
    failed = PrefixError('init of prefix %s failed at step "%s": %s (%s)' % (layout.path, step, err, outcome))
    if failures:
        failed.rollback_failures = failures
    return failed


def _undo_create(conn, state):
    """Take apart what ``state`` records, then the prefix's own files. If the teardown fails,
    state.json stays, so the next run (or destroy) can finish the job."""
    if state.layout.initialized:
        prefix_teardown.teardown(conn, state)
    prefix_teardown.remove_own_files(state.layout)


def new_layout(state, options):
    """The prefix's directories, uuid and key pair (a part's: the controller's), in a fresh state."""
    layout = state.layout
    for path in layout.subdirs():
        os.makedirs(path, exist_ok=True)
    part = options.part or {}
    owner, _created = lease_owner.ensure_owner(layout.uuid_file, uuid=part.get('uuid'))
    if part and owner.uuid != part['uuid']:
        raise PrefixError('%s belongs to another prefix (uuid %s, not %s): not a place for this part'
                          % (layout.path, owner.uuid, part['uuid']))
    keys = options.part_keys
    if keys.get('private_key'):
        atomic_write(layout.private_key, keys['private_key'].rstrip('\n') + '\n', mode=0o600)
        atomic_write(layout.public_key, keys['public_key'].rstrip('\n') + '\n', mode=0o644)
    if not os.path.exists(layout.private_key):
        # RSA for Lago's id_rsa (every sshd takes it); 2048 bits keeps init fast.
        sshkeys.generate_keypair(layout.private_key, key_type='rsa', bits=2048,
                                 comment='lago-%s' % owner.uuid[:8])
    state.reset(uuid=owner.uuid, short_id=network.short_id(owner.uuid),
                libvirt_uri=options.libvirt_uri, virt_type=options.virt_type,
                template_repo=options.template_repo, template_store=options.template_store,
                lease_dir=options.lease_dir)
    if part:
        state.part_of = part['hypervisor']
    state.save()


def add_vms(state, new_spec, options):
    """The record of every VM of ``new_spec`` (a part's: with the NICs and host keys the controller chose)."""
    part = options.part or {}
    for name in sorted(new_spec['domains']):
        record = prefix_vms.new_vm(state, name, new_spec['domains'][name])
        if part:
            record.update(nics=[dict(nic) for nic in part['vms'][name]['nics']])
            record.update(address=next(nic['ip'] for nic in record['nics'] if nic['net'] == record['management_net']))
            private = (options.part_keys.get('host_keys') or {}).get(name)
            if private:
                prefix_vms.write_host_key(state.layout, name, private, part['vms'][name]['host_key'])
        state.add_vm(name, record)
    state.save()


# ------------------------------------------------------------------ networks

def lease_subnets(conn, state, new_spec, options):
    """Each net's record and, unless it is a bridge, its leased /24 (a part's nets: as the controller leased them)."""
    owner = state.owner
    part_nets = (options.part or {}).get('nets')
    for name, net_spec in sorted(new_spec['nets'].items()):
        libvirt_name, bridge = network.derive_names(state.uuid, name)
        net = state.add_net(name, dict(libvirt_name=libvirt_name, bridge=bridge, type=net_spec['type'],
                                       management=net_spec['management'], mtu=net_spec.get('mtu'),
                                       dns_domain=net_spec.get('dns_domain_name'), leased=False,
                                       subnet=None, gateway=None, dhcp=None))
        if part_nets is not None:
            given = part_nets[name]
            net.update(**dict((key, given.get(key)) for key in ('subnet', 'gateway', 'dhcp', 'mtu')))
            net.update(bridge_only=bool(given.get('bridge_only')), remote_hosts=list(given.get('remote_hosts') or []))
            continue
        if net_spec['type'] == 'bridge':
            continue
        # Recorded before the lease is written: a crash in between leaves a
        # lease that release() (owner checked) can still take back.
        net.leased = True
        # Not a /24 the host or another libvirt network already uses (our own net and bridge aside).
        lease = subnet_lease.acquire(options.lease_dir, owner, subnet=net_spec.get('gw'), pool=options.subnet_pool,
                                     conn=conn, own=(libvirt_name, bridge), also_in_use=options.also_in_use)
        faults.point('init.after_lease')
        subnet = ipaddress.IPv4Network(lease['subnet'])
        net.update(subnet=lease['subnet'], gateway=lease['gateway'])
        dhcp = net_spec.get('dhcp')
        if dhcp:
            net.dhcp = dict(start=str(subnet.network_address + int(dhcp['start'])),
                            end=str(subnet.network_address + int(dhcp['end'])))


def _net_description(state, name):
    """The libvirt network a prefix net needs, with a DHCP and DNS entry per VM."""
    net = state.net(name)
    if net.type == 'bridge' or net.bridge_only:
        return network.describe(net.libvirt_name, net.bridge, net_type='bridge', mtu=net.mtu)
    hosts = [dict(entry) for entry in net.remote_hosts]
    dns_hosts = dict((entry['name'], entry['ip']) for entry in hosts) if net.management else {}
    for vm_name, vm in state.vms.items():
        for nic in vm.nics:
            if nic.net == name and nic.ip:
                hosts.append(dict(mac=nic.mac, ip=nic.ip, name=vm_name))
                if net.management:
                    dns_hosts[vm_name] = nic.ip
    dhcp = net.dhcp
    return network.describe(
        net.libvirt_name, net.bridge, net_type=net.type, subnet=net.subnet,
        dhcp=dict(start=dhcp['start'], end=dhcp['end']) if dhcp else None,
        hosts=hosts, dns=True, dns_domain=net.dns_domain if net.management else None,
        dns_hosts=dns_hosts, mtu=net.mtu)


# ------------------------------------------------------------------- changes

def _update(conn, state, new_spec, diff):
    """Apply the safe changes of ``diff`` (already checked by plan_present); new VMs are
    undone through a Rollback when one of them cannot be made."""
    added = list(diff['vms']['added'])
    try:
        with Rollback() as undo:
            for name in added:
                state.add_vm(name, prefix_vms.new_vm(state, name, new_spec['domains'][name]))
                undo.push('vm %s' % name, lambda name=name: _undo_new_vm(conn, state, name))
                state.save()
                prefix_vms.make_disks(state, name, new_spec['domains'][name])
                prefix_vms.make_seed(state, name, new_spec['domains'][name])
                prefix_vms.copy_scripts(state, name, new_spec['domains'][name])
            if added:
                prefix_vms.let_qemu_reach(conn, state, added)
            undo.commit()
    except (LagoError, OSError) as err:
        failed = PrefixError('adding vm(s) %s to prefix %s failed: %s (the new VMs were removed again)'
                             % (', '.join(added), state.path, err))
        failed.rollback_failures = getattr(err, 'rollback_failures', None)
        raise failed
    for name, change in sorted(diff['vms']['changed'].items()):
        vm_spec = new_spec['domains'][name]
        state.vm(name).update(memory=vm_spec['memory'], vcpu=vm_spec['vcpu'], vm_type=vm_spec['vm-type'],
                              groups=vm_spec['groups'], artifacts=vm_spec['artifacts'],
                              metadata=dict(vm_spec.get('metadata') or {}))
        prefix_vms.make_disks(state, name, vm_spec)
        prefix_vms.copy_scripts(state, name, vm_spec)
        domain.define(conn, prefix_vms.domain_xml(state, name))
    prefix_vms.write_known_hosts(state)
    write_json(state.layout.spec_file, new_spec, mode=0o600)  # may hold a root password
    state.save()


def _undo_new_vm(conn, state, name):
    if state.has_vm(name):
        prefix_teardown.teardown_vm(conn, state, state.vm(name))
        state.remove_vm(name)
        state.save()


def _reconcile_libvirt(conn, state):
    """Bring back libvirt objects of the prefix that libvirt lost. True if any was."""
    changed = False
    for name in state.net_names:
        changed = network.reconcile(conn, _net_description(state, name), 'present')['changed'] or changed
    for name, vm in state.vms.items():
        if domain.lookup_domain(conn, vm.libvirt_name) is None:
            domain.define(conn, prefix_vms.domain_xml(state, name))
            changed = True
    return changed
