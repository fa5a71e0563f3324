#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: lago_prefix
short_description: A Lago prefix - VMs, nets and disks from an init file
description:
  - Builds a Lago prefix from a LagoInitFile (Lago's C(init)), starts and
    stops its nets and VMs (C(start), C(stop)) and removes it without a trace
    (C(destroy)).
  - A prefix is a directory holding its uuid, SSH key pair, normalized spec,
    state file, disk overlays, NoCloud seeds and copied deploy scripts; its
    libvirt networks and domains are persistent and their names carry the
    prefix's short id. See the collection's docs/PREFIX.md.
  - Every NAT net gets a /24 leased from the host's shared lease directory;
    every NIC gets a MAC and its address before boot (DHCP reservation and a
    static NoCloud network config), so start waits for SSH, never for leases.
  - If any step of C(present) fails, everything that run created is removed
    again and the error names the step.
  - Every state holds the prefix's lock while it changes the prefix, so two
    runs on one path never interleave - the second waits up to
    O(lock_timeout), then finds the prefix as the first left it (and reports
    no change when it is as wanted) or fails naming the lock's holder.
version_added: 0.1.0
author: Lago developers (@lago-project)
options:
  path:
    description: The prefix directory.
    type: path
    required: true
  state:
    description:
      - C(present) creates the prefix (Lago's C(init)), or applies the safe
        changes of a changed init file (new VMs; new disks, memory and vcpu of
        stopped VMs; groups, vm-type, artifacts, metadata) and refuses the rest.
      - C(started) starts the nets and the VMs (all, or O(vms)); with
        O(init_file) or O(spec) the prefix is first made C(present).
      - C(stopped) shuts the VMs down (ACPI, then a hard stop after
        O(stop_timeout)); without O(vms) the nets are stopped too.
      - C(absent) destroys the prefix - its repository server (see
        M(lago.lago.lago_reposerver)), domains (with snapshot metadata and
        nvram), networks, leases, template store users and its files. The
        directory goes too when init made it; a directory that existed before
        init stays, with every file the collection did not make.
      - A prefix whose C(state.json) is damaged (cut short, garbage) is destroyed
        from its C(uuid) file - the domains and networks named after its short id,
        its leases in O(lease_dir), its repository server and its own files - and
        its directory goes when nothing else is left in it.
    type: str
    choices: [present, started, stopped, absent]
    default: present
  init_file:
    description:
      - A LagoInitFile (YAML or JSON) with C(domains) and C(nets).
      - C($LAGO_INITFILE_PATH) and C($LAGO_PREFIX_PATH) are expanded in paths.
      - Every key is applied or refused (see docs/INIT_FILE.md); a VM's C(root-password) is saved, set and shown only
        as its SHA-512 crypt hash.
    type: path
  spec:
    description:
      - The init file's content as a dict, instead of O(init_file).
      - Its C(root-password) values are masked in the module's results and logged invocation, as for C(no_log)
        options.
    type: dict
  vms:
    description: The VMs to start or stop (default all).
    type: list
    elements: str
  wait_for_ssh:
    description:
      - With C(started), return only when every chosen VM accepts an SSH login with the prefix key.
      - VMs made with C(bootstrap=false) in the init file are not waited for (no prefix key was put in).
    type: bool
    default: true
  ssh_timeout:
    description:
      - Each VM's budget in seconds for its first SSH login; a VM whose init file entry sets C(boot_time_sec) has
        that budget instead.
      - A VM whose budget is spent is still waited for while it visibly progresses (its serial console grows or it
        uses a real share of a CPU), up to four times the budget, so a loaded host does not fail a slow boot; it is
        given up on at once when its console shows a kernel panic.
      - The error names the VMs that did not answer, why the wait for each ended, and shows their console.
    type: int
    default: 300
  stop_timeout:
    description: Seconds a graceful shutdown may take before the VM is stopped hard.
    type: int
    default: 60
  virt_type:
    description:
      - The libvirt domain type. C(qemu) runs guests under TCG emulation where
        KVM is not usable.
    type: str
    choices: [kvm, qemu]
    default: kvm
  subnet_pool:
    description:
      - The /24s NAT nets are leased from, as C(192.168.200.0/24-192.168.255.0/24)
        (the default).
    type: str
  hypervisors:
    description:
      - Makes this the B(controller) of a prefix spread over several hypervisors (docs/MULTIHOST.md); none given,
        the prefix is a single-host one, exactly as without this option.
      - With C(present), the controller checks the init file's C(hypervisor) pins against these names, places every
        VM, leases each NAT net's /24 once in O(lease_dir) (free of this host's and every hypervisor's O(hypervisors[].routes)),
        gives every NIC its MAC and address, makes the key pair and each VM's host key, and records it all. It makes
        no libvirt object and no disk; it returns in RV(parts) what each hypervisor builds (with O(part)).
      - C(started) and C(stopped) are refused on a controller (the parts are started on the hypervisors).
    type: list
    elements: dict
    suboptions:
      name: {description: The hypervisor's inventory name., type: str, required: true}
      facts:
        description: What placement needs, as C(lago_prefix_info) or C(placement.hypervisor_facts) gather it.
        type: dict
        required: true
        suboptions:
          free_memory_mib: {description: Free memory in MiB., type: int, required: true}
          vms: {description: How many domains it has., type: int, required: true}
      routes:
        description: The hypervisor's own IPv4 routes and addresses (CIDRs) a leased /24 must not overlap.
        type: list
        elements: str
        default: []
      ssh_host: {description: How it is reached (its C(ansible_host)); also its underlay address for the tunnels., type: str, required: true}
      ssh_user: {description: SSH user., type: str, default: root}
      ssh_port: {description: SSH port., type: int, default: 22}
      ssh_key: {description: The private key that logs into it., type: path}
      known_hosts: {description: The known_hosts file with its host key., type: path}
      path: {description: Where its part is built on it (default O(path))., type: path}
  part:
    description:
      - Builds this prefix as the B(part) of a multi-host prefix on one hypervisor - one element of the
        controller's RV(parts), with the part's spec in O(spec). The uuid, nets, addresses and MACs are the
        controller's (no lease is taken here); the net is a plain bridge when another hypervisor holds its gateway.
    type: dict
  part_keys:
    description: With O(part), the controller's key pair (C(private_key), C(public_key)) and the VMs' private host keys (C(host_keys)).
    type: dict
extends_documentation_fragment:
  - lago.lago.lago.attributes
  - lago.lago.lago.lock
  - lago.lago.lago.libvirt
  - lago.lago.lago.templates
  - lago.lago.lago.leases
notes:
  - Libvirt names are C(<short id>-<vm>) and C(<short id>-<net>); bridges fit Linux's 15 characters.
seealso:
  - module: lago.lago.lago_prefix_info
  - module: lago.lago.lago_network
  - module: lago.lago.lago_disk
'''

EXAMPLES = r'''
- name: Create a prefix from an init file (Lago's init)
  lago.lago.lago_prefix:
    path: /var/lib/lago/prefixes/basic
    init_file: LagoInitFile
    template_repo: /var/lib/lago/repo/repo.json

- name: Start it and wait for SSH (Lago's start)
  lago.lago.lago_prefix:
    path: /var/lib/lago/prefixes/basic
    state: started

- name: Stop one VM
  lago.lago.lago_prefix:
    path: /var/lib/lago/prefixes/basic
    state: stopped
    vms: [engine]

- name: Destroy it (Lago's destroy)
  lago.lago.lago_prefix:
    path: /var/lib/lago/prefixes/basic
    state: absent
'''

RETURN = r'''
prefix:
  description: The prefix; absent after C(state=absent).
  returned: success, except after state=absent
  type: dict
  contains:
    path: {description: The prefix directory., type: str}
    uuid: {description: The prefix uuid (owner of its leases)., type: str}
    short_id: {description: The id carried by libvirt names., type: str}
    ssh_key: {description: The private key that logs into the VMs., type: str}
    known_hosts: {description: The prefix's known_hosts with each VM's host key., type: str}
    virt_type: {description: kvm or qemu., type: str}
    nets:
      description: Per net - libvirt_name, bridge, type, subnet, gateway, management, dns_domain, state.
      type: dict
    vms:
      description: >-
        Per VM - libvirt_name, state, address (management), management_net,
        addresses and macs per net, vm_type, groups, memory, vcpu, disks, ssh_user.
      type: dict
  sample:
    path: /var/lib/lago/prefixes/basic
    uuid: 0f3c12ab9d8e4f0a8b7c6d5e4f3a2b1c
    vms: {vm01: {address: 192.168.200.2, state: running}}
changes:
  description: What changed (in check mode - would change) in the init file compared with the prefix (vms and nets added, removed, changed).
  returned: state=present
  type: dict
  sample: {changed: true, vms: {added: [vm03], removed: [], changed: {}}}
started:
  description: The VMs (and C(net:<name>)) started or stopped by this run.
  returned: state=started or state=stopped
  type: list
  elements: str
  sample: [vm01, vm02]
ssh_ready:
  description: Seconds each VM took to accept an SSH login.
  returned: state=started with wait_for_ssh
  type: dict
  sample: {vm01: 27.4}
parts:
  description: >-
    A controller (O(hypervisors)) - per hypervisor with VMs, what it builds - hypervisor, path, uuid, spec, nets, vms
    and tunnels (the arguments of M(lago.lago.lago_vxlan) for each net spread over several hypervisors). None in check
    mode on a new prefix.
  returned: state=present with hypervisors
  type: dict
removed:
  description: What destroy removed.
  returned: state=absent
  type: list
  elements: str
'''

import os

from ansible_collections.lago.lago.plugins.module_utils import prefix_build, prefix_multihost, prefix_power, prefix_teardown
from ansible_collections.lago.lago.plugins.module_utils import spec_normalize as specs
from ansible_collections.lago.lago.plugins.module_utils._runtime import (
    LEASE_ARGS, LIBVIRT_ARGS, LOCK_ARGS, TEMPLATE_ARGS, run_module)
from ansible_collections.lago.lago.plugins.module_utils.errors import PrefixDamaged, PrefixError, PrefixGone
from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import connect
from ansible_collections.lago.lago.plugins.module_utils.plan import Plan
from ansible_collections.lago.lago.plugins.module_utils.prefix_state import Layout, read_state_file
from ansible_collections.lago.lago.plugins.module_utils.prefix_state import lock as prefix_lock
from ansible_collections.lago.lago.plugins.module_utils.prefix_view import describe

ARGUMENT_SPEC = dict(
    path=dict(type='path', required=True),
    state=dict(type='str', default='present', choices=['present', 'started', 'stopped', 'absent']),
    init_file=dict(type='path'),
    spec=dict(type='dict'),
    vms=dict(type='list', elements='str'),
    wait_for_ssh=dict(type='bool', default=True),
    ssh_timeout=dict(type='int', default=300),
    stop_timeout=dict(type='int', default=60),
    virt_type=dict(type='str', default='kvm', choices=['kvm', 'qemu']),
    subnet_pool=dict(type='str'),
    hypervisors=dict(type='list', elements='dict', options=dict(
        name=dict(type='str', required=True),
        facts=dict(type='dict', required=True, options=dict(free_memory_mib=dict(type='int', required=True),
                                                            vms=dict(type='int', required=True))),
        routes=dict(type='list', elements='str', default=[]),
        ssh_host=dict(type='str', required=True), ssh_user=dict(type='str', default='root'),
        ssh_port=dict(type='int', default=22), ssh_key=dict(type='path', no_log=False),
        known_hosts=dict(type='path'), path=dict(type='path'))),
    part=dict(type='dict'),
    part_keys=dict(type='dict', no_log=True),
    **dict(LIBVIRT_ARGS, **dict(TEMPLATE_ARGS, **dict(LEASE_ARGS, **LOCK_ARGS))))
MODULE_KWARGS = dict(mutually_exclusive=[('init_file', 'spec'), ('hypervisors', 'part')],
                     required_if=[('state', 'present', ('init_file', 'spec'), True)])


def wanted_spec(params, layout):
    """The normalized init spec, or None when none was given (bad input fails here, before the lock)."""
    if params['init_file']:
        return specs.load_init_file(params['init_file'], prefix_path=layout.path)
    if params['spec'] is not None:
        return specs.normalize_spec(params['spec'], base_dir=os.getcwd(), prefix_path=layout.path)
    return None


def options_of(params):
    return prefix_build.Options(
        template_repo=params['template_repo'], template_store=params['template_store'],
        lease_dir=params['lease_dir'], libvirt_uri=params['libvirt_uri'],
        virt_type=params['virt_type'], subnet_pool=params['subnet_pool'], part=params['part'],
        part_keys=params['part_keys'])


def present_and_powered(run, conn, layout):
    """present, started, stopped: under the prefix's lock, the init plan (when an init file or
    spec is given), then the power plan. The SSH wait of started follows, outside the lock."""
    p = run.params
    new_spec = wanted_spec(p, layout)
    if p['part'] is not None:
        if new_spec is None:
            raise PrefixError('part: the part of a multi-host prefix needs its spec (parts.<hypervisor>.spec)')
        prefix_multihost.check_part(p['part'], new_spec)
    values = {}
    with run.open_prefix(layout.path, must_exist=new_spec is None) as state:
        if p['hypervisors'] or state.hypervisors:
            return controller(run, conn, state, new_spec)
        if new_spec is not None:
            values = run.carry_out(prefix_build.plan_present(conn, state, new_spec, options_of(p)))
        if not layout.initialized:
            if new_spec is None:  # destroyed by another run while this one waited for the lock
                read_state_file(layout)
            return values  # check mode on a new prefix: nothing to power yet
        if p['state'] == 'present':
            return values
        if p['state'] == 'started':
            power = prefix_power.plan_start(conn, state, p['vms'])
        else:
            power = prefix_power.plan_stop(conn, state, p['vms'], timeout=p['stop_timeout'])
        values.update(run.carry_out(power))
        values['prefix'] = describe(state, conn)
    if p['state'] == 'started' and p['wait_for_ssh'] and not run.check_mode:
        values['ssh_ready'] = prefix_power.wait_for_ssh(state, p['vms'], timeout=p['ssh_timeout'], conn=conn)
    return values


def controller(run, conn, state, new_spec):
    """present on the controller of a multi-host prefix; started and stopped are the parts'."""
    p = run.params
    if p['part'] is not None:
        raise PrefixError('%s holds the controller of a multi-host prefix: a part built on the same host needs a path '
                          'of its own (lago_hypervisor_prefix_path)' % state.path)
    if p['state'] != 'present':
        raise PrefixError('prefix %s spans hypervisors: start and stop its parts on them (playbooks start.yml and '
                          'stop.yml, docs/MULTIHOST.md), not the controller' % state.path)
    if new_spec is None:
        raise PrefixError('prefix %s: the controller needs init_file or spec' % state.path)
    return run.carry_out(prefix_multihost.plan_controller(conn, state, new_spec, options_of(p), p['hypervisors']))


def plan_absent(conn, state):
    """Destroy the prefix ``state`` (held under its lock), as a Plan named ``prefix``."""
    if not state.layout.initialized:  # destroyed by another run while this one waited
        return Plan('prefix', {}, {}, values=dict(removed=[]))
    before = describe(state, conn) if state.ready else dict(path=state.path, status=state.status)
    return Plan('prefix', before, {}, prefix_teardown.plan_destroy(state),
                lambda: dict(removed=prefix_teardown.destroy(conn, state)), values=dict(removed=[]))


def plan_salvage(conn, layout, lease_dir, damage):
    """Destroy a prefix whose state.json is damaged (PrefixDamaged ``damage``), as a Plan named ``prefix``."""
    _owner, domains, nets = prefix_teardown.salvage_names(conn, layout)
    steps = ['domain %s' % name for name in domains] + ['network %s' % name for name in nets]
    steps += ['the leases of %s in %s' % (layout.uuid_file, lease_dir), 'the prefix files in %s' % layout.path]
    return Plan('prefix', dict(path=layout.path, status='damaged', damage=str(damage)), {}, steps,
                lambda: dict(removed=prefix_teardown.salvage(conn, layout, lease_dir)), values=dict(removed=[]))


def absent(run, conn, layout):
    if not os.path.exists(layout.path):
        return run.carry_out(Plan('prefix', {}, {}, values=dict(removed=[])))
    if not layout.initialized:
        # Nothing of a prefix there (or only the user's files, after a destroy): nothing to remove.
        run.warn('%s is not a lago prefix (no state.json): nothing removed' % layout.path)
        return run.carry_out(Plan('prefix', {}, {}, values=dict(removed=[])))
    try:
        with run.open_prefix(layout.path, must_exist=False) as state:
            return run.carry_out(plan_absent(conn, state))
    except PrefixGone:  # another run destroyed it while this one waited: as wanted
        return run.carry_out(Plan('prefix', {}, {}, values=dict(removed=[])))
    except PrefixDamaged as damage:
        # Its state.json cannot be read (the message sends the user here): take apart what its uuid names.
        with prefix_lock(layout, run.params['lock_timeout'], 'destroy'):
            return run.carry_out(plan_salvage(conn, layout, run.params['lease_dir'], damage))


def execute(run):
    layout = Layout(run.params['path'])
    conn = connect(run.params['libvirt_uri'])
    if run.params['state'] == 'absent':
        return absent(run, conn, layout)
    return present_and_powered(run, conn, layout)


def main():
    run_module(ARGUMENT_SPEC, execute, libraries=('libvirt-python', 'lxml', 'PyYAML'), **MODULE_KWARGS)


if __name__ == '__main__':
    main()
