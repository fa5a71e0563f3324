# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a pool state holds besides disk layers when its snapshot saved RAM (see docs/POOL.md).

A memory snapshot's guests resume where they were: with their RAM, their SSH
host keys and the prefix's authorized key. So the state carries, next to the
layers, each VM's saved memory and the prefix's SSH key pair, each a file of
the state's ``files`` (size, sha256) in the manifest::

    "files": {"vm01.s1.mem": {"size": ..., "sha256": ..., "source": "sha256:..."},
              "id_rsa": {...}},
    "identity": {"file": "id_rsa", "public": "ssh-rsa AAAA... lago"},
    "vms": {"vm01": {..., "memory": "vm01.s1.mem", "host_key": "ssh-ed25519 AAAA..."}}

Pure bookkeeping: pool.py moves the files, pool_resume.py restores the guests.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.lago.lago.plugins.module_utils.files import sha256_of
from ansible_collections.lago.lago.plugins.module_utils.pool_manifest import source_id
from ansible_collections.lago.lago.plugins.module_utils.sshkeys import read_public_key


def files_of(state, snapshot, vm_names):
    """The files a pool state of ``snapshot`` holds besides layers: each chosen VM's saved
    memory and, when there is any, the prefix's private key.

    Returns dict(files=[dict(path, source, size)], memory={vm: path}, host_keys={vm: key},
    identity=path or None, public=key or None).
    """
    found = dict(files=[], memory={}, host_keys={}, identity=None, public=None)
    for vm_name in sorted(vm_names):
        vm = state.vm(vm_name)
        record = vm.snapshot(snapshot)
        if not record.memory:
            continue
        found['files'].append(dict(path=record.memory, source=source_id(record.memory, record.memory_sha256),
                                   size=os.path.getsize(record.memory)))
        found['memory'][vm_name] = record.memory
        found['host_keys'][vm_name] = vm.host_key
    if found['memory']:
        key = state.layout.private_key
        found['files'].append(dict(path=key, source=source_id(key, sha256_of(key)), size=os.path.getsize(key)))
        found['identity'] = key
        found['public'] = read_public_key(state.layout.public_key)
    return found


def describe(manifest, extras, planned):
    """Add to ``manifest`` (its ``vms`` filled) what ``extras`` (files_of) and their
    placement ``planned`` (pool_manifest.plan_files) say; nothing when no RAM was saved.
    ``files`` is ``planned``'s own dict, which the export completes with sizes and sha256."""
    if not extras['memory']:
        return manifest
    manifest['files'] = planned['files']
    for vm_name, path in extras['memory'].items():
        manifest['vms'][vm_name].update(memory=planned['names'][path], host_key=extras['host_keys'][vm_name])
    manifest['identity'] = dict(file=planned['names'][extras['identity']], public=extras['public'])
    return manifest
