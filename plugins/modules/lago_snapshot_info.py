#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: lago_snapshot_info
short_description: List the snapshots of a Lago prefix's VMs with their layers
description:
  - Reads the snapshot records of the prefix's C(state.json) - for every VM its
    snapshots (oldest first) with each disk's chain of frozen layers, their
    sizes and sha256 - and asks libvirt for each VM's power state. Changes nothing.
version_added: 0.1.0
author: Lago developers (@lago-project)
options:
  prefix:
    description: The prefix directory.
    type: path
    required: true
    aliases: [path]
  name:
    description: Show only this snapshot.
    type: str
  vms:
    description: Show only these VMs (default all).
    type: list
    elements: str
extends_documentation_fragment:
  - lago.lago.lago.libvirt
  - lago.lago.lago.info_attributes
  - lago.lago.lago.group_template_store
  - lago.lago.lago.group_lease_dir
seealso:
  - module: lago.lago.lago_snapshot
'''

EXAMPLES = r'''
- name: List the snapshots
  lago.lago.lago_snapshot_info:
    prefix: /var/lib/lago/prefixes/basic
  register: snaps

- name: Show the snapshot names, oldest first
  ansible.builtin.debug:
    msg: "{{ snaps.snapshots | list }}"
'''

RETURN = r'''
snapshots:
  description: Every snapshot of the prefix (oldest first) - when it was taken (the earliest VM) and of which VMs.
  returned: always
  type: dict
  sample: {installed: {taken: '2025-01-01T10:00:00.000000Z', vms: [vm01, vm02]}}
vms:
  description:
    - Per VM - C(state) (libvirt's power state), C(disks) (the image each disk
      writes to, what it sits on, how many frozen layers it has) and
      C(snapshots), a list of C(name), C(taken), C(running), C(consistency),
      C(memory) and per disk the snapshot's C(layer), its C(chain) of frozen
      layers (C(path), C(size), C(sha256), C(frozen), C(backing)) and the C(base) below them.
  returned: always
  type: dict
  sample:
    vm01:
      state: running
      disks: {root: {image: /lab/images/vm01_root.installed.qcow2, parent: /lab/images/vm01_root.qcow2, layers: 1}}
      snapshots:
        - name: installed
          taken: '2025-01-01T10:00:00.000000Z'
          running: false
          consistency: offline
          memory: null
          disks:
            root:
              layer: /lab/images/vm01_root.qcow2
              chain: [{path: /lab/images/vm01_root.qcow2, size: 1376256, sha256: 3f0a..., frozen: '2025-01-01T10:00:00.000000Z'}]
              base: /var/lib/lago/store/lab:debian12:r1
'''

from ansible_collections.lago.lago.plugins.module_utils import snapshot
from ansible_collections.lago.lago.plugins.module_utils._runtime import LIBVIRT_ARGS, run_module
from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import connect
from ansible_collections.lago.lago.plugins.module_utils.prefix_state import Layout, PrefixState

ARGUMENT_SPEC = dict(
    prefix=dict(type='path', required=True, aliases=['path']),
    name=dict(type='str'),
    vms=dict(type='list', elements='str'),
    **LIBVIRT_ARGS
)


def execute(run):
    """Reads the state without the prefix's lock: an info module never waits for a change."""
    name = run.params['name']
    state = PrefixState.load(Layout(run.params['prefix']))
    names = state.chosen_vms(run.params['vms'])
    powers = snapshot.powers(connect(run.params['libvirt_uri']), state, names)
    vms = dict((vm_name, snapshot.describe_vm(state.vm(vm_name), powers[vm_name])) for vm_name in names)
    listed = snapshot.index(state)
    if name:
        listed = dict((key, value) for key, value in listed.items() if key == name)
        for entry in vms.values():
            entry['snapshots'] = [item for item in entry['snapshots'] if item['name'] == name]
    return dict(snapshots=listed, vms=vms)


def main():
    run_module(ARGUMENT_SPEC, execute, libraries=('libvirt-python', 'lxml'))


if __name__ == '__main__':
    main()
