#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: lago_snapshot
short_description: Snapshots of a Lago prefix's VMs - take, revert, remove
description:
  - Lago's C(snapshot) and C(revert). One snapshot covers every chosen VM of a
    prefix under one name.
  - A stopped VM gets an offline snapshot - the image it writes to is frozen
    where it is and a new qcow2 overlay C(images/<vm>_<disk>.<name>.qcow2)
    becomes its disk.
  - A running VM gets a live external disk-only snapshot through libvirt,
    quiesced by the guest agent when one answers, otherwise taken right after
    C(sync) in the guest over SSH. O(memory=true) also saves its RAM, so that a
    revert resumes the running guest.
  - O(state=reverted) puts every chosen VM's disks back to the snapshot (a
    fresh overlay on the snapshot's layer; running VMs are stopped first) and
    returns each VM to the power state it had when the snapshot was taken.
    Reverting to an older snapshot leaves the newer ones usable.
  - O(state=absent) removes a snapshot without losing any other - a layer no
    snapshot needs any more is merged with its neighbour (C(qemu-img commit)
    offline, a block job while the VM runs), so every chain stays valid.
  - The records live in the prefix's C(state.json) (libvirt keeps no snapshot
    metadata), with the sha256 of every layer when it was frozen; a revert
    checks them first. See the collection's docs/SNAPSHOTS.md.
version_added: 0.1.0
author: Lago developers (@lago-project)
options:
  prefix:
    description: The prefix directory.
    type: path
    required: true
    aliases: [path]
  name:
    description:
      - The snapshot name. Letters, digits, C(_), C(+) and C(-), at most 64,
        starting with a letter or a digit.
      - A C(.) is refused for a new snapshot - its overlays C(images/<vm>_<disk>.<name>.qcow2)
        could be the image of a disk named C(<disk>.<name>). Snapshots taken before this rule keep
        their names and can still be reverted to and removed.
    type: str
    required: true
  state:
    description:
      - V(present) takes the snapshot of the chosen VMs that do not have it yet
        (all of them with O(force)).
      - V(reverted) puts the chosen VMs (default - every VM that has the
        snapshot) back to it. It always reverts, and so always reports a change.
      - V(absent) removes the snapshot of the chosen VMs (default - all).
    type: str
    choices: [present, reverted, absent]
    default: present
  vms:
    description: The VMs to act on (default all; for V(reverted) all that have the snapshot).
    type: list
    elements: str
  memory:
    description:
      - With V(present), also save the RAM of running VMs (an external memory
        state file beside the disks); a revert then resumes them where they were.
      - The guest is paused while its RAM is written.
    type: bool
    default: false
  force:
    description: With V(present), take the snapshot again for every chosen VM, replacing an existing one.
    type: bool
    default: false
  start:
    description:
      - With V(reverted), bring each VM back to the power state it had when the
        snapshot was taken. V(false) leaves every reverted VM stopped.
    type: bool
    default: true
  wait_for_ssh:
    description: With V(reverted), return only when every VM started again accepts an SSH login.
    type: bool
    default: true
  ssh_timeout:
    description: Seconds to wait for those SSH logins.
    type: int
    default: 300
extends_documentation_fragment:
  - lago.lago.lago.attributes
  - lago.lago.lago.libvirt
  - lago.lago.lago.lock
  - lago.lago.lago.group_template_store
  - lago.lago.lago.group_lease_dir
attributes:
  idempotent:
    support: partial
    details: V(present) and V(absent) are idempotent; V(reverted) reverts on every run.
notes:
  - A disk added to a VM after a snapshot keeps its current image when the VM is reverted.
  - Memory state files go to a state pool with the snapshot's disks; a prefix made from the
    state resumes from them (see M(lago.lago.lago_snapshot_pool)).
seealso:
  - module: lago.lago.lago_snapshot_info
  - module: lago.lago.lago_snapshot_pool
  - module: lago.lago.lago_prefix
'''

EXAMPLES = r'''
- name: Snapshot the whole prefix (Lago's snapshot)
  lago.lago.lago_snapshot:
    prefix: /var/lib/lago/prefixes/basic
    name: installed

- name: Snapshot one running VM with its RAM
  lago.lago.lago_snapshot:
    prefix: /var/lib/lago/prefixes/basic
    name: engine-up
    vms: [engine]
    memory: true

- name: Go back to it (Lago's revert)
  lago.lago.lago_snapshot:
    prefix: /var/lib/lago/prefixes/basic
    name: installed
    state: reverted

- name: Remove it; the other snapshots stay usable
  lago.lago.lago_snapshot:
    prefix: /var/lib/lago/prefixes/basic
    name: installed
    state: absent
'''

RETURN = r'''
snapshot:
  description: The snapshot per VM - when it was taken, whether the VM ran, how the guest was made consistent, and each disk's layer chain.
  returned: state=present or state=reverted
  type: dict
  sample:
    vm01:
      name: installed
      taken: '2025-01-01T10:00:00.000000Z'
      running: true
      consistency: flushed
      memory: null
      disks: {root: {layer: /lab/images/vm01_root.qcow2, chain: [], base: /var/lib/lago/store/lab:debian12:r1}}
taken:
  description: Per VM that got the snapshot - V(offline) or V(live), the consistency, the seconds the guest was held, the frozen layer of each disk.
  returned: state=present
  type: dict
  sample: {vm01: {mode: live, consistency: flushed, pause_seconds: 0.05, layers: {root: /lab/images/vm01_root.qcow2}}}
reverted:
  description: The VMs reverted; C(resumed) from saved RAM and C(booted) again.
  returned: state=reverted
  type: dict
  sample: {reverted: [vm01, vm02], resumed: [vm01], booted: []}
ssh_ready:
  description: Seconds each VM started by the revert took to accept an SSH login.
  returned: state=reverted with wait_for_ssh
  type: dict
removed:
  description: Per VM, what removing the snapshot did to its layers.
  returned: state=absent
  type: dict
  sample: {vm01: ['merged layer /lab/images/vm01_root.s1.qcow2 into /lab/images/vm01_root.s2.qcow2']}
'''

from ansible_collections.lago.lago.plugins.module_utils import prefix_power
from ansible_collections.lago.lago.plugins.module_utils._runtime import LIBVIRT_ARGS, LOCK_ARGS, run_module
from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import connect
from ansible_collections.lago.lago.plugins.module_utils.snapshot_remove import plan_remove
from ansible_collections.lago.lago.plugins.module_utils.snapshot_revert import plan_revert
from ansible_collections.lago.lago.plugins.module_utils.snapshot_take import plan_take

ARGUMENT_SPEC = dict(
    prefix=dict(type='path', required=True, aliases=['path']),
    name=dict(type='str', required=True),
    state=dict(type='str', default='present', choices=['present', 'reverted', 'absent']),
    vms=dict(type='list', elements='str'),
    memory=dict(type='bool', default=False),
    force=dict(type='bool', default=False),
    start=dict(type='bool', default=True),
    wait_for_ssh=dict(type='bool', default=True),
    ssh_timeout=dict(type='int', default=300),
    **dict(LIBVIRT_ARGS, **LOCK_ARGS)
)


def plan(run, conn, state):
    params = run.params
    if params['state'] == 'present':
        return plan_take(conn, state, params['name'], params['vms'], memory=params['memory'], force=params['force'])
    if params['state'] == 'reverted':
        return plan_revert(conn, state, params['name'], params['vms'], start=params['start'])
    return plan_remove(conn, state, params['name'], params['vms'])


def execute(run):
    conn = connect(run.params['libvirt_uri'])
    with run.open_prefix(run.params['prefix']) as state:
        values = run.carry_out(plan(run, conn, state))
        started = values.get('reverted', {}).get('resumed', []) + values.get('reverted', {}).get('booted', [])
        if run.params['wait_for_ssh'] and started:
            values['ssh_ready'] = prefix_power.wait_for_ssh(state, started, timeout=run.params['ssh_timeout'], conn=conn)
    return values


def main():
    run_module(ARGUMENT_SPEC, execute, libraries=('libvirt-python', 'lxml'))


if __name__ == '__main__':
    main()
