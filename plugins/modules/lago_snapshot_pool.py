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
    description: The pool - a directory, or C([user@]host:/path).
    type: str
    required: true
  name:
    description: The state's name in the pool (a directory there).
    type: str
    required: true
  state:
    description: V(present) exports the snapshot to the pool; V(absent) removes the state from the pool.
    type: str
    choices: [present, absent]
    default: present
  prefix:
    description: The prefix to export from. Required with O(state=present).
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
  lock_timeout:
    description: Seconds to wait for the state's lock.
    type: int
    default: 300
extends_documentation_fragment:
  - lago.lago.lago.attributes
  - lago.lago.lago.group_libvirt_uri
  - lago.lago.lago.group_template_store
  - lago.lago.lago.group_lease_dir
notes:
  - Saved RAM of memory snapshots is not exported; a prefix made from a pool state boots cold.
  - A remote pool host needs rsync, flock (util-linux) and GNU find.
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
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lago.lago.plugins.module_utils import pool, snapshot
from ansible_collections.lago.lago.plugins.module_utils.common import lago_errors, new_module
from ansible_collections.lago.lago.plugins.module_utils.prefix import Layout, load_state


def layers_view(manifest):
    """{layer file: sha256} of a manifest."""
    return {name: entry.get('sha256') for name, entry in sorted(((manifest or {}).get('layers') or {}).items())}


def ensure_present(module):
    params = module.params
    layout = Layout(params['prefix'])
    load_state(layout)  # a missing prefix is an error before anything (the lock file) is made
    with snapshot.locked(layout):
        result = pool.export(load_state(layout), params['snapshot'] or params['name'], params['pool'],
                             name=params['name'], vms=params['vms'], ssh=params['pool_ssh'],
                             lock_timeout=params['lock_timeout'], check_mode=module.check_mode)
    before = layers_view(result.pop('previous'))
    if result['manifest'] is not None:
        after = layers_view(result['manifest'])
    else:  # check mode: the new layers' sha256 are known once they are written
        after = {name: sha for name, sha in before.items() if name in result['skipped']}
        after.update({name: '(new)' for name in result['moved']})
    result['diff'] = dict(before=dict(layers=before), after=dict(layers=after))
    return result


def ensure_absent(module):
    params = module.params
    there = pool.remove_state(params['pool'], params['name'], ssh=params['pool_ssh'],
                              lock_timeout=params['lock_timeout'], check_mode=module.check_mode)
    return dict(changed=there, diff=dict(before={'state': params['name']} if there else {}, after={}))


def main():
    module = new_module(
        AnsibleModule,
        argument_spec=dict(
            pool=dict(type='str', required=True),
            name=dict(type='str', required=True),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            prefix=dict(type='path'),
            snapshot=dict(type='str'),
            vms=dict(type='list', elements='str'),
            pool_ssh=dict(type='str'),
            lock_timeout=dict(type='int', default=300),
        ),
        required_if=[('state', 'present', ('prefix',))],
        supports_check_mode=True,
    )
    with lago_errors(module):
        result = (ensure_present if module.params['state'] == 'present' else ensure_absent)(module)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
