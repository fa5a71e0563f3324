#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: lago_prefix_info
short_description: Describe a Lago prefix and the live state of its VMs and nets
description:
  - Lago's C(status) - reads the prefix's state file and asks libvirt for the
    live state of every VM and net. Changes nothing.
  - With O(wait_for_ssh), it first waits up to that many seconds for an SSH login to the
    running VMs (O(vms), default all) and returns what each one does (RV(ssh)); a
    playbook calls it again and again and shows each VM as it becomes reachable, and
    the console of the slow ones, while lago.lago.lago_prefix (O(lago.lago.lago_prefix#module:wait_for_ssh=false))
    started them (docs/FLOW.md). A VM that stopped getting anywhere fails the task as
    lago.lago.lago_prefix's own wait does.
version_added: 0.1.0
author: Lago developers (@lago-project)
options:
  path:
    description: The prefix directory.
    type: path
    required: true
  vms:
    description: The VMs O(wait_for_ssh) waits for; default all.
    type: list
    elements: str
  wait_for_ssh:
    description:
      - Seconds to wait for SSH logins to the VMs before answering (less when all answer).
    type: float
  ssh_timeout:
    description:
      - Each VM's SSH budget in seconds, counted from O(ssh_since); a VM still visibly booting
        once it is spent is waited for up to four times as long (see lago.lago.lago_prefix).
    type: int
    default: 300
  ssh_since:
    description:
      - When the VMs were started (seconds since the epoch); default now.
    type: float
extends_documentation_fragment:
  - lago.lago.lago.libvirt
  - lago.lago.lago.info_attributes
  - lago.lago.lago.group_template_store
  - lago.lago.lago.group_lease_dir
seealso:
  - module: lago.lago.lago_prefix
'''

EXAMPLES = r'''
- name: Lago's status
  lago.lago.lago_prefix_info:
    path: /var/lib/lago/prefixes/basic
  register: lab

- name: Show each VM's state and address
  ansible.builtin.debug:
    msg: "{{ item.key }}: {{ item.value.state }} at {{ item.value.address }}"
  loop: "{{ lab.prefix.vms | dict2items }}"
'''

RETURN = r'''
prefix:
  description: The prefix as lago.lago.lago_prefix returns it, with C(state) for every VM and net.
  returned: always
  type: dict
  sample:
    path: /var/lib/lago/prefixes/basic
    vms: {vm01: {address: 192.168.200.2, state: running}}
    nets: {lan: {subnet: 192.168.200.0/24, state: active}}
parts:
  description: >-
    The controller of a multi-host prefix (docs/MULTIHOST.md) - per hypervisor with VMs, its part as
    M(lago.lago.lago_prefix) returns it (RV(lago.lago.lago_prefix#module:parts)); its VMs' and nets' C(state) in
    RV(prefix) are the controller's own (absent), each part's lago_prefix_info on its hypervisor has theirs.
  returned: the prefix spans hypervisors
  type: dict
ssh:
  description: With O(wait_for_ssh), what each VM waited for does.
  returned: when O(wait_for_ssh) is given
  type: dict
  sample:
    vm01: {reachable: true, waited: 41.2}
    vm02: {reachable: false, waited: 45.0, console: "[   30.1] systemd[1]: Starting ssh.service...",
           progress: console output 2s ago}
'''

from ansible_collections.lago.lago.plugins.module_utils import prefix_multihost, prefix_power
from ansible_collections.lago.lago.plugins.module_utils.files import read_json
from ansible_collections.lago.lago.plugins.module_utils._runtime import LIBVIRT_ARGS, run_module
from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import connect
from ansible_collections.lago.lago.plugins.module_utils.prefix_state import Layout, PrefixState
from ansible_collections.lago.lago.plugins.module_utils.prefix_view import describe

ARGUMENT_SPEC = dict(path=dict(type='path', required=True), vms=dict(type='list', elements='str'),
                     wait_for_ssh=dict(type='float'), ssh_timeout=dict(type='int', default=300),
                     ssh_since=dict(type='float'), **LIBVIRT_ARGS)


def execute(run):
    # Reads only, without the lock: state.json is replaced atomically, and a status must
    # not wait for a long start to end.
    params = run.params
    state = PrefixState.load(Layout(params['path']))
    conn = connect(params['libvirt_uri'])
    result = {}
    if params['wait_for_ssh'] is not None:
        result['ssh'] = prefix_power.look_for_ssh(state, conn, params['vms'], timeout=params['ssh_timeout'],
                                                  since=params['ssh_since'], wait=params['wait_for_ssh'])
    if state.hypervisors:
        result['parts'] = prefix_multihost.parts(state, read_json(state.layout.spec_file))
    return dict(result, prefix=describe(state, conn))


def main():
    run_module(ARGUMENT_SPEC, execute, libraries=('libvirt-python', 'lxml'))


if __name__ == '__main__':
    main()
