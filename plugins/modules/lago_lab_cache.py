#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: lago_lab_cache
short_description: The warm-lab cache - deployed labs saved running, keyed by what determines them
description:
  - The cache holds deployed labs as state pool states (see M(lago.lago.lago_snapshot_pool)) named by a
    key - the sha256 of the normalized init file, the deploy scripts' content, the template repository's
    content, the reposetup inputs and the collection version. C(site.yml) uses it with C(lago_warm=true);
    see docs/CACHE.md.
  - O(state=query) lists the entries (RV(entries)) and, with O(init_file), computes the key of the lab O(init_file) makes and says whether the cache holds a
    complete entry for it (RV(hit)); with a hit, RV(spec) is the init spec of the warm lab - the entry's
    subnets and addresses, every disk on the entry's layers - for M(lago.lago.lago_prefix), after which
    M(lago.lago.lago_snapshot_pool) O(lago.lago.lago_snapshot_pool#module:state=resumed) resumes it.
    Nothing is written.
  - O(state=present) saves the running prefix O(prefix) as entry O(key) - a memory snapshot C(lago-cache) of
    every VM exported to C(<key>.partial), completed with C(entry.json) (the key's inputs, the subnets and
    addresses) and renamed into place under the key's lock, replacing an older entry of that key.
  - O(state=absent) removes entry O(key); O(state=verified) checks every entry (or O(key)) against the
    sha256 in its manifest and, with O(remove_damaged), removes those that fail; O(state=pruned) removes
    entries older than O(max_age_days) and all but the newest O(keep).
version_added: 0.1.0
author: Lago developers (@lago-project)
options:
  cache_dir:
    description: The cache directory.
    type: path
    default: /var/lib/lago/labcache
  state:
    description: What to do (see the description).
    type: str
    choices: [query, present, absent, verified, pruned]
    default: query
  init_file:
    description: With O(state=query), the init file of the lab; without it only RV(entries) is returned.
    type: path
  prefix:
    description:
      - With O(state=query), the prefix the lab will have (for C($LAGO_PREFIX_PATH) in the init file).
      - With O(state=present), the running, deployed prefix to save.
    type: path
  key:
    description: With O(state=present) or O(state=absent) (required), and O(state=verified), the entry's key.
    type: str
  inputs:
    description: With O(state=present), the RV(inputs) O(state=query) returned (kept in the entry).
    type: dict
  template_repo:
    description: With O(state=query), the template repository (its content is part of the key).
    type: str
  reposetup_repo_file:
    description: With O(state=query), the reposetup repository file (its content is part of the key).
    type: path
  reposetup_rpm_dirs:
    description: With O(state=query), reposetup's local RPM directories (their files are part of the key).
    type: list
    elements: path
    default: []
  reposetup_deb_dirs:
    description: With O(state=query), reposetup's local Debian package directories.
    type: list
    elements: path
    default: []
  collection_version:
    description: With O(state=query), the collection's version (part of the key).
    type: str
    default: ''
  remove_damaged:
    description: With O(state=verified), remove the entries that fail.
    type: bool
    default: false
  max_age_days:
    description: With O(state=pruned), remove entries older than this many days.
    type: float
  keep:
    description: With O(state=pruned), keep only this many of the newest complete entries.
    type: int
extends_documentation_fragment:
  - lago.lago.lago.attributes
  - lago.lago.lago.libvirt
  - lago.lago.lago.lock
  - lago.lago.lago.group_template_store
  - lago.lago.lago.group_lease_dir
attributes:
  idempotent:
    support: partial
    details: V(present) saves the prefix again on every run; the others are idempotent.
notes:
  - An entry holds the prefix's SSH private key (see M(lago.lago.lago_snapshot_pool)); the cache directory is made 0700.
seealso:
  - module: lago.lago.lago_snapshot_pool
  - module: lago.lago.lago_prefix
'''

EXAMPLES = r'''
- name: Is the lab in the cache?
  lago.lago.lago_lab_cache:
    init_file: LagoInitFile
    prefix: .lago
    template_repo: /var/lib/lago/repo/repo.json
  register: lago_cache

- name: Save the deployed lab
  lago.lago.lago_lab_cache:
    state: present
    prefix: .lago
    key: "{{ lago_cache.key }}"
    inputs: "{{ lago_cache.inputs }}"

- name: Keep the five newest entries, none older than a week
  lago.lago.lago_lab_cache:
    state: pruned
    keep: 5
    max_age_days: 7
'''

RETURN = r'''
key:
  description: The entry's key.
  returned: state=query with init_file, or state=present
  type: str
  sample: lab-3f2a9c1b7d6e5f4a3b2c1d0e9f8a7b6c
hit:
  description: Whether the cache holds a complete entry that fits the init file.
  returned: state=query with init_file
  type: bool
why:
  description: Why there is no hit.
  returned: state=query with init_file and not hit
  type: str
spec:
  description: The init spec of the warm lab (for M(lago.lago.lago_prefix) O(lago.lago.lago_prefix#module:spec)).
  returned: state=query and hit
  type: dict
inputs:
  description: What the key hashes - the normalized init spec and the digests of the other inputs.
  returned: state=query with init_file
  type: dict
entries:
  description: Every entry - C(key), C(complete), C(bytes), C(created), C(vms).
  returned: always
  type: list
  elements: dict
damaged:
  description: Per entry that failed its check, what is wrong.
  returned: state=verified
  type: dict
removed:
  description: The entries removed.
  returned: state=absent, state=verified or state=pruned
  type: list
  elements: str
'''

import os

from ansible_collections.lago.lago.plugins.module_utils import lab_cache
from ansible_collections.lago.lago.plugins.module_utils._runtime import LIBVIRT_ARGS, LOCK_ARGS, run_module
from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import connect
from ansible_collections.lago.lago.plugins.module_utils.plan import Plan

ARGUMENT_SPEC = dict(
    cache_dir=dict(type='path', default=lab_cache.DEFAULT_CACHE_DIR),
    state=dict(type='str', default='query', choices=['query', 'present', 'absent', 'verified', 'pruned']),
    init_file=dict(type='path'),
    prefix=dict(type='path'),
    key=dict(type='str', no_log=False),
    inputs=dict(type='dict'),
    template_repo=dict(type='str'),
    reposetup_repo_file=dict(type='path'),
    reposetup_rpm_dirs=dict(type='list', elements='path', default=[]),
    reposetup_deb_dirs=dict(type='list', elements='path', default=[]),
    collection_version=dict(type='str', default=''),
    remove_damaged=dict(type='bool', default=False),
    max_age_days=dict(type='float'),
    keep=dict(type='int'),
    **dict(LIBVIRT_ARGS, **LOCK_ARGS)
)


def query(params):
    if not params['init_file']:
        return Plan('cache', {}, {})
    key, inputs, spec = lab_cache.key_of(
        params['init_file'], params['prefix'] or os.path.join(os.getcwd(), '.lago'), params['template_repo'],
        params['reposetup_repo_file'], params['reposetup_rpm_dirs'], params['reposetup_deb_dirs'],
        params['collection_version'])
    values = lab_cache.lookup(params['cache_dir'], key, spec)
    values['inputs'] = inputs
    return Plan('cache', {}, {}, values=values)


def execute(run):
    params = run.params
    state = params['state']
    if state == 'query':
        values = run.carry_out(query(params))
    elif state == 'present':
        os.makedirs(params['cache_dir'], mode=0o700, exist_ok=True)
        conn = connect(params['libvirt_uri'])
        with run.open_prefix(params['prefix']) as prefix:
            values = run.carry_out(lab_cache.plan_save(conn, prefix, params['cache_dir'], lab_cache.check_key(params['key']),
                                                       params['inputs'] or {}, lock_timeout=params['lock_timeout']))
    elif state == 'absent':
        keys = [params['key']] if os.path.isdir(os.path.join(params['cache_dir'], lab_cache.check_key(params['key']))) else []
        values = run.carry_out(lab_cache.plan_remove(params['cache_dir'], keys))
    elif state == 'verified':
        key = lab_cache.check_key(params['key']) if params['key'] else None
        values = run.carry_out(lab_cache.plan_verify(params['cache_dir'], key, params['remove_damaged']))
    else:
        values = run.carry_out(lab_cache.plan_prune(params['cache_dir'], params['max_age_days'], params['keep']))
    values['entries'] = lab_cache.entries(params['cache_dir'])
    return values


def main():
    run_module(ARGUMENT_SPEC, execute, libraries=('libvirt-python', 'lxml', 'PyYAML'),
               required_if=[('state', 'present', ('prefix', 'key')),
                            ('state', 'absent', ('key',))])


if __name__ == '__main__':
    main()
