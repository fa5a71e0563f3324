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
        nvram), networks, leases, template store users and the directory.
    type: str
    choices: [present, started, stopped, absent]
    default: present
  init_file:
    description:
      - A LagoInitFile (YAML or JSON) with C(domains) and C(nets).
      - C($LAGO_INITFILE_PATH) and C($LAGO_PREFIX_PATH) are expanded in paths.
    type: path
  spec:
    description: The init file's content as a dict, instead of O(init_file).
    type: dict
  vms:
    description: The VMs to start or stop (default all).
    type: list
    elements: str
  wait_for_ssh:
    description: With C(started), return only when every chosen VM accepts an SSH login with the prefix key.
    type: bool
    default: true
  ssh_timeout:
    description: Seconds to wait for the SSH logins; the error names the VMs that did not answer and shows their console.
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
extends_documentation_fragment:
  - lago.lago.lago.attributes
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
  description: What changed in the init file compared with the prefix (vms and nets added, removed, changed).
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
removed:
  description: What destroy removed.
  returned: state=absent
  type: list
  elements: str
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lago.lago.plugins.module_utils import prefix_build, prefix_power
from ansible_collections.lago.lago.plugins.module_utils import spec_normalize as specs
from ansible_collections.lago.lago.plugins.module_utils.common import (
    LEASE_ARGS, LIBVIRT_ARGS, TEMPLATE_ARGS, lago_errors, require_libraries)
from ansible_collections.lago.lago.plugins.module_utils.errors import PrefixError
from ansible_collections.lago.lago.plugins.module_utils.files import read_json
from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import connect
from ansible_collections.lago.lago.plugins.module_utils.prefix import Layout, describe, load_state, teardown


def wanted_spec(params, layout):
    if params['init_file']:
        return specs.load_init_file(params['init_file'], prefix_path=layout.path)
    return specs.normalize_spec(params['spec'], base_dir=os.getcwd(), prefix_path=layout.path)


def options_of(params):
    return prefix_build.Options(
        template_repo=params['template_repo'], template_store=params['template_store'],
        lease_dir=params['lease_dir'], libvirt_uri=params['libvirt_uri'],
        virt_type=params['virt_type'], subnet_pool=params['subnet_pool'])


def ensure_present(module, layout, conn):
    new_spec = wanted_spec(module.params, layout)
    old_spec = read_json(layout.spec_file, default={}) if os.path.exists(layout.state_file) else {}
    result = prefix_build.apply(layout, new_spec, options_of(module.params), conn,
                                check_mode=module.check_mode)
    return dict(changed=result['changed'], changes=result['diff'], prefix=result['prefix'],
                diff=dict(before=old_spec, after=new_spec if result['changed'] else old_spec))


def ensure_started(module, layout, conn):
    result = dict(changed=False)
    if module.params['init_file'] or module.params['spec']:
        result = ensure_present(module, layout, conn)
    if module.check_mode and not os.path.exists(layout.state_file):
        return result
    state = load_state(layout)
    before = describe(layout, state, conn)
    started = prefix_power.start(conn, layout, state, module.params['vms'], check_mode=module.check_mode)
    result.update(started=started, changed=result['changed'] or bool(started))
    if module.params['wait_for_ssh'] and not module.check_mode:
        result['ssh_ready'] = prefix_power.wait_for_ssh(layout, state, module.params['vms'],
                                                        timeout=module.params['ssh_timeout'])
    result['prefix'] = describe(layout, state, conn)
    result['diff'] = power_diff(before, result['prefix'], started, 'running')
    return result


def ensure_stopped(module, layout, conn):
    state = load_state(layout)
    before = describe(layout, state, conn)
    stopped = prefix_power.stop(conn, state, module.params['vms'], timeout=module.params['stop_timeout'],
                                check_mode=module.check_mode)
    after = describe(layout, state, conn)
    return dict(changed=bool(stopped), started=stopped, prefix=after,
                diff=power_diff(before, after, stopped, 'shut off'))


def power_diff(before, after, touched, wanted):
    """before/after power states of what this run touched."""
    was = {name: before['vms'][name]['state'] for name in touched if name in before['vms']}
    now = {name: (after['vms'][name]['state'] if name in after['vms'] else wanted) for name in was}
    return dict(before=was, after=now)


def ensure_absent(module, layout, conn):
    if not os.path.exists(layout.path):
        return dict(changed=False, removed=[])
    if not os.path.exists(layout.state_file):
        raise PrefixError('%s exists but is not a lago prefix (no state.json); refusing to remove it'
                          % layout.path)
    state = read_json(layout.state_file)
    before = describe(layout, state, conn) if state.get('status') == 'ready' else {'path': layout.path}
    if module.check_mode:
        return dict(changed=True, removed=[], diff=dict(before=before, after={}))
    removed = teardown(conn, layout, state, remove_dir=True)
    return dict(changed=True, removed=removed, diff=dict(before=before, after={}))


def main():
    argument_spec = dict(
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
    )
    argument_spec.update(LIBVIRT_ARGS)
    argument_spec.update(TEMPLATE_ARGS)
    argument_spec.update(LEASE_ARGS)
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=[('init_file', 'spec')],
        required_if=[('state', 'present', ('init_file', 'spec'), True)],
        supports_check_mode=True,
    )
    require_libraries(module, 'libvirt-python', 'lxml', 'PyYAML')
    layout = Layout(module.params['path'])
    handlers = dict(present=ensure_present, started=ensure_started,
                    stopped=ensure_stopped, absent=ensure_absent)
    with lago_errors(module):
        conn = connect(module.params['libvirt_uri'])
        result = handlers[module.params['state']](module, layout, conn)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
