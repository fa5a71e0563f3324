#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: lago_snapshot_pool
short_description: Share snapshots of Lago prefixes through a state pool
description:
  - A state pool holds prepared states - each a snapshot's whole backing chain
    of every disk, down to the template - so that labs on this host or on
    others can start from them. A pool is a directory, local or on shared
    storage, or C([user@]host:/path) reached with rsync over SSH.
  - O(state=present) exports snapshot O(snapshot) of the prefix O(prefix) to
    the pool as state O(name). A manifest lists every layer with its size and
    sha256; backing references inside the pool are relative, so the pool
    directory can be moved or mounted elsewhere. Layers the pool holds already
    are skipped - exporting an unchanged snapshot again moves 0 bytes and
    reports no change.
  - A snapshot taken with C(memory=true) carries each VM's saved RAM, the
    guests' SSH host keys and the prefix's SSH key pair into the state too
    (files of the manifest with their size and sha256).
  - O(state=resumed) resumes every VM of the prefix O(prefix) - made by init
    from the state (its disks C(template_type=pool) disks of it) with the same
    addresses - from the RAM the state saved, running, where the guests were;
    each memory file is checked against the manifest, the saved definition is
    moved to the prefix's domain name, disks and networks, each disk gets a
    fresh overlay on the state's layer, and the prefix takes the state's SSH
    key pair. A failure on the way stops every VM it resumed.
  - O(state=absent) removes the state from the pool.
  - A lock per state makes concurrent exports and imports of one state safe;
    the manifest is written last, so a cut-short export never leaves a state
    that looks complete.
  - To start a new prefix from a pool state, name it as a disk's base in the
    init file - C(type=template), C(template_type=pool), C(path=<pool>/<state>)
    (see docs/INIT_FILE.md); the layers are checked against the manifest when
    they are brought in.
version_added: 0.1.0
author: Lago developers (@lago-project)
options:
  pool:
    description:
      - The pool - a directory, or C([user@]host:/path).
      - A location, host or remote path starting with C(-) is refused (ssh and rsync would
        read it as an option); write C(./-name) for such a local directory.
    type: str
    required: true
  name:
    description: The state's name in the pool (a directory there).
    type: str
    required: true
  state:
    description:
      - V(present) exports the snapshot to the pool; V(absent) removes the state from the pool;
        V(resumed) resumes the prefix's VMs from the RAM the state saved.
    type: str
    choices: [present, absent, resumed]
    default: present
  prefix:
    description: The prefix to export from, or to resume. Required with O(state=present) and O(state=resumed).
    type: path
  snapshot:
    description: The prefix's snapshot to export (default O(name)).
    type: str
  vms:
    description: The VMs to export (default every VM that has the snapshot).
    type: list
    elements: str
  pool_ssh:
    description:
      - The remote shell for a remote pool, e.g. V(ssh -p 2222 -i /root/.ssh/pool_key);
        used by rsync (C(-e)) and for the pool's small commands and locks.
      - Defaults to the environment variable C(LAGO_POOL_SSH), else V(ssh).
    type: str
  wait_for_ssh:
    description: With O(state=resumed), return only when every resumed VM accepts an SSH login.
    type: bool
    default: true
  ssh_timeout:
    description: Seconds to wait for those SSH logins.
    type: int
    default: 300
extends_documentation_fragment:
  - lago.lago.lago.attributes
  - lago.lago.lago.lock
  - lago.lago.lago.libvirt
  - lago.lago.lago.group_template_store
  - lago.lago.lago.group_lease_dir
notes:
  - A state with saved RAM holds the prefix's SSH private key (0600 in a local pool); whoever
    may read the pool may log in to guests resumed from it - as they may read its disks anyway.
  - The guests resume with the clock and DHCP leases they had; the prefix must have the
    addresses (so the subnets and MACs) they were saved with, or O(state=resumed) refuses.
  - A remote pool host needs rsync, flock (util-linux) and GNU find.
  - O(lock_timeout) bounds the wait for the prefix's lock and for the pool state's lock.
seealso:
  - module: lago.lago.lago_snapshot
  - module: lago.lago.lago_prefix
'''

EXAMPLES = r'''
- name: Share the prepared state
  lago.lago.lago_snapshot_pool:
    pool: /srv/lago-pool
    name: engine-installed
    prefix: /var/lib/lago/prefixes/basic
    snapshot: installed

- name: The same, to a pool on another host
  lago.lago.lago_snapshot_pool:
    pool: lago@storage.example.com:/srv/lago-pool
    name: engine-installed
    prefix: /var/lib/lago/prefixes/basic
    snapshot: installed

- name: A new prefix made by init from the state (same subnets) resumes where the guests were
  lago.lago.lago_snapshot_pool:
    pool: /srv/lago-pool
    name: engine-installed
    prefix: /var/lib/lago/prefixes/copy
    state: resumed

- name: Remove it from the pool
  lago.lago.lago_snapshot_pool:
    pool: /srv/lago-pool
    name: engine-installed
    state: absent
'''

RETURN = r'''
bytes_moved:
  description: Bytes written to the pool (in check mode, the bytes that would be).
  returned: state=present
  type: int
  sample: 0
moved:
  description: Layer files written to the pool.
  returned: state=present
  type: list
  elements: str
skipped:
  description: Layer files the pool held already.
  returned: state=present
  type: list
  elements: str
manifest:
  description:
    - The state's manifest - C(layers) (per file - C(size), C(sha256), C(format), C(backing), C(source)),
      C(vms) (per VM its disks' top layer), C(origin), C(created).
  returned: state=present, except in check mode when it changes
  type: dict
pool:
  description: The pool.
  returned: state=present
  type: str
name:
  description: The state's name in the pool.
  returned: state=present
  type: str
resumed:
  description: The VMs resumed from the state's RAM.
  returned: state=resumed
  type: list
  elements: str
ssh_ready:
  description: The VMs that accepted an SSH login after they were resumed.
  returned: state=resumed and wait_for_ssh
  type: list
  elements: str
removed:
  description: Files of an earlier export of the state that it no longer needs, removed from the pool.
  returned: state=present
  type: list
  elements: str
'''

from ansible_collections.lago.lago.plugins.module_utils import pool, pool_resume, prefix_power
from ansible_collections.lago.lago.plugins.module_utils._runtime import LIBVIRT_ARGS, LOCK_ARGS, run_module
from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import connect

ARGUMENT_SPEC = dict(
    pool=dict(type='str', required=True),
    name=dict(type='str', required=True),
    state=dict(type='str', default='present', choices=['present', 'absent', 'resumed']),
    prefix=dict(type='path'),
    snapshot=dict(type='str'),
    vms=dict(type='list', elements='str'),
    pool_ssh=dict(type='str'),
    wait_for_ssh=dict(type='bool', default=True),
    ssh_timeout=dict(type='int', default=300),
    **dict(LIBVIRT_ARGS, **LOCK_ARGS)
)


def execute(run):
    params = run.params
    where = dict(ssh=params['pool_ssh'], timeout=params['lock_timeout'])
    if params['state'] == 'absent':
        with pool.locked_state(params['pool'], params['name'], create=False, **where) as target:
            return run.carry_out(pool.plan_remove_state(target, params['name']))
    if params['state'] == 'resumed':
        conn = connect(params['libvirt_uri'])
        with run.open_prefix(params['prefix']) as state:
            values = run.carry_out(pool_resume.plan_resume(conn, state, params['pool'], params['name'],
                                                           ssh=params['pool_ssh'], lock_timeout=params['lock_timeout']))
            if params['wait_for_ssh'] and values.get('resumed') and not run.check_mode:
                # The boot's own wait: one login at a time per VM, past the budget while the VM makes progress.
                values['ssh_ready'] = prefix_power.wait_for_ssh(state, values['resumed'], timeout=params['ssh_timeout'],
                                                                conn=conn)
        return values
    snapshot = params['snapshot'] or params['name']
    with run.open_prefix(params['prefix']) as state:
        # An unknown snapshot or VM is named before the pool (or its lock) is made.
        pool.vms_with(state, snapshot, params['vms'])
        with pool.locked_state(params['pool'], params['name'], **where) as target:
            return run.carry_out(pool.plan_export_state(state, snapshot, target, params['name'], params['vms']))


def main():
    run_module(ARGUMENT_SPEC, execute, required_if=[('state', 'present', ('prefix',)), ('state', 'resumed', ('prefix',))],
               libraries=('libvirt-python', 'lxml'))


if __name__ == '__main__':
    main()
