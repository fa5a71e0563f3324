# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The warm-lab cache: deployed labs saved running, keyed by what determines them (docs/CACHE.md).

The cache is a state pool (pool.py) on this host whose states are named by a
key: the sha256 of the normalized init file, the deploy scripts' content, the
template repository's content, the reposetup inputs and the collection version.
An entry is a pool state of the memory snapshot ``lago-cache`` of every VM of a
deployed prefix, plus ``entry.json``: the key's inputs and the addresses the
guests had (a warm lab must have them again). It is exported to
``<key>.partial`` and renamed into place, under the key's lock, so an entry is
complete or absent. A warm run inits a prefix from the entry (warm_spec: the
same subnets and addresses, every disk on the entry's layers) and resumes it
(pool_resume); the layers and RAM are checked against their sha256 on the way.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import hashlib
import json
import os
import shutil
import time

from ansible_collections.lago.lago.plugins.module_utils import pool
from ansible_collections.lago.lago.plugins.module_utils.errors import LagoError, LockTimeout, SnapshotError
from ansible_collections.lago.lago.plugins.module_utils.files import read_json, sha256_of, write_json
from ansible_collections.lago.lago.plugins.module_utils.plan import Plan
from ansible_collections.lago.lago.plugins.module_utils.pool_manifest import MANIFEST, check_manifest, file_problem
from ansible_collections.lago.lago.plugins.module_utils.pool_transfer import LocalPool
from ansible_collections.lago.lago.plugins.module_utils.snapshot_take import plan_take
from ansible_collections.lago.lago.plugins.module_utils.spec_normalize import load_init_file
from ansible_collections.lago.lago.plugins.module_utils.timestamps import now

SNAPSHOT = 'lago-cache'
ENTRY = 'entry.json'
PARTIAL = '.partial'
DEFAULT_CACHE_DIR = '/var/lib/lago/labcache'
KEY_PREFIX = 'lab-'


# ----------------------------------------------------------------------- key

def _digest(path):
    """sha256 of a file, or what is wrong with it."""
    if not os.path.isfile(path):
        return 'missing: %s' % path
    return sha256_of(path)


def _tree_digest(path):
    """What a directory holds: each file's name, size and mtime (a repository of packages)."""
    if not os.path.isdir(path):
        return 'missing: %s' % path
    found = []
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            stat = os.stat(full)
            found.append([os.path.relpath(full, path), stat.st_size, stat.st_mtime_ns])
    return hashlib.sha256(json.dumps(found).encode('utf-8')).hexdigest()


def key_of(init_file, prefix_path, template_repo=None, repo_file=None, rpm_dirs=(), deb_dirs=(),
           collection_version=''):
    """(key, inputs, spec): the cache key of the lab the init file makes, the inputs it
    hashes, and the normalized spec. SpecError when the init file is not valid."""
    spec = load_init_file(init_file, prefix_path=prefix_path)
    scripts = sorted(set(script for domain in spec['domains'].values()
                         for script in domain.get('metadata', {}).get('deploy-scripts', [])))
    repo = template_repo or ''
    inputs = dict(spec=spec, deploy_scripts=dict((script, _digest(script)) for script in scripts),
                  template_repo=dict(location=repo, sha256=_digest(repo) if repo and '://' not in repo else None),
                  reposetup=dict(repo_file=_digest(repo_file) if repo_file else None,
                                 rpm_dirs=[_tree_digest(path) for path in rpm_dirs or ()],
                                 deb_dirs=[_tree_digest(path) for path in deb_dirs or ()]),
                  collection_version=collection_version or '')
    text = json.dumps(inputs, sort_keys=True)
    return KEY_PREFIX + hashlib.sha256(text.encode('utf-8')).hexdigest()[:32], inputs, spec


# -------------------------------------------------------------------- lookup

def _entry_dir(cache_dir, key):
    return os.path.join(os.path.abspath(cache_dir), key)


def read_entry(cache_dir, key):
    """(manifest, entry) of a complete entry, else None (the structure is checked, not the sha256s)."""
    directory = _entry_dir(cache_dir, key)
    try:
        manifest = read_json(os.path.join(directory, MANIFEST))
        entry = read_json(os.path.join(directory, ENTRY))
    except (IOError, OSError, ValueError):
        return None
    if manifest is None or entry is None:
        return None
    try:
        check_manifest(manifest, 'cache entry %s' % key)
    except SnapshotError:
        return None
    return manifest, entry


def warm_spec(spec, key, cache_dir, manifest, entry):
    """The init spec of a warm lab: ``spec`` with the entry's subnets and addresses, and every
    disk the entry saved on the entry's layers. None when the entry does not fit the spec."""
    if sorted(spec['domains']) != sorted(manifest['vms']) or not manifest.get('identity'):
        return None
    warm = copy.deepcopy(spec)
    location = _entry_dir(cache_dir, key)
    for net_name, gateway in entry['gateways'].items():
        if net_name in warm['nets'] and warm['nets'][net_name].get('type') == 'nat':
            warm['nets'][net_name]['gw'] = gateway
    for vm_name, domain in warm['domains'].items():
        addresses = entry['nics'].get(vm_name, [])
        if len(addresses) != len(domain['nics']):
            return None
        domain['nics'] = [dict(nic, ip=address['ip']) for nic, address in zip(domain['nics'], addresses)]
        saved = manifest['vms'][vm_name]['disks']
        domain['disks'] = [dict(type='template', template_type='pool', path=location, name=disk['name'], dev=disk['dev'],
                                template_name='%s/%s' % (vm_name, disk['name'])) if disk['name'] in saved else disk
                           for disk in domain['disks']]
    return warm


def lookup(cache_dir, key, spec):
    """dict(hit, key, spec (the warm one when hit), why (when not))."""
    found = read_entry(cache_dir, key)
    if found is None:
        return dict(hit=False, key=key, why='no complete entry %s in %s' % (key, cache_dir))
    warm = warm_spec(spec, key, cache_dir, *found)
    if warm is None:
        return dict(hit=False, key=key, why='entry %s does not fit the init file' % key)
    return dict(hit=True, key=key, spec=warm, created=found[1].get('created'))


# ---------------------------------------------------------------------- save

def _addresses(state):
    gateways = dict((name, net.gateway) for name, net in state.nets.items() if net.gateway)
    nics = dict((name, [dict(net=nic.net, ip=nic.ip) for nic in state.vm(name).nics]) for name in state.vm_names)
    return gateways, nics


def plan_save(conn, state, cache_dir, key, inputs, lock_timeout=pool.DEFAULT_LOCK_TIMEOUT):
    """Save the running prefix ``state`` as entry ``key``: a memory snapshot of every VM,
    exported to ``<key>.partial``, completed with entry.json and renamed into place."""
    pool.check_name(key, 'pool state')
    steps = ['take the memory snapshot %s of %s' % (SNAPSHOT, ', '.join(state.vm_names)),
             'export it to %s' % _entry_dir(cache_dir, key + PARTIAL),
             'write %s and rename it to %s' % (ENTRY, _entry_dir(cache_dir, key))]

    def apply():
        plan_take(conn, state, SNAPSHOT, memory=True, force=True).apply()
        gateways, nics = _addresses(state)
        with pool.locked_state(cache_dir, key, timeout=lock_timeout) as target:
            partial = key + PARTIAL
            target.remove_state(partial)  # what a cut-short save left
            result = pool.plan_export_state(state, SNAPSHOT, target, partial).apply()
            write_json(os.path.join(target.state_dir(partial), ENTRY),
                       dict(key=key, created=now(), prefix=state.path, inputs=inputs, gateways=gateways, nics=nics))
            final = target.state_dir(key)
            trash = target.state_dir('.old-%s-%d' % (key, os.getpid()))
            if os.path.exists(final):
                os.rename(final, trash)
            os.rename(target.state_dir(partial), final)
            shutil.rmtree(trash, ignore_errors=True)
        return dict(bytes_moved=result.get('bytes_moved', 0), entry=final)
    return Plan('cache', {}, dict(key=key), steps, apply, values=dict(key=key))


# ------------------------------------------------------- list, verify, prune

def _size(directory):
    return sum(entry.stat().st_size for entry in os.scandir(directory) if entry.is_file())


def entries(cache_dir):
    """Every entry of the cache, oldest first: dict(key, created, bytes, vms, complete)."""
    root = os.path.abspath(cache_dir)
    if not os.path.isdir(root):
        return []
    found = []
    for name in sorted(os.listdir(root)):
        directory = os.path.join(root, name)
        if name.startswith('.') or not os.path.isdir(directory):
            continue
        complete = read_entry(cache_dir, name)
        found.append(dict(key=name, complete=complete is not None, bytes=_size(directory),
                          created=complete[1].get('created') if complete else None,
                          vms=sorted(complete[0]['vms']) if complete else [],
                          mtime=os.stat(directory).st_mtime))
    return sorted(found, key=lambda item: (item['created'] or '', item['key']))


def problems(cache_dir, key):
    """Why entry ``key`` cannot be used: incomplete, or files that fail their size or sha256."""
    found = read_entry(cache_dir, key)
    if found is None:
        return ['incomplete (no valid %s and %s)' % (MANIFEST, ENTRY)]
    manifest = found[0]
    listed = sorted(list(manifest['layers'].items()) + list((manifest.get('files') or {}).items()))
    return [problem for problem in (file_problem(_entry_dir(cache_dir, key), name, item) for name, item in listed)
            if problem]


def plan_remove(cache_dir, keys, why='remove'):
    """Remove the entries ``keys`` (each under its lock; one in use by a save is left)."""
    keys = sorted(set(keys))

    def apply():
        removed = []
        local = LocalPool(cache_dir)
        for key in keys:
            try:
                with local.lock(key, timeout=0.1):
                    local.remove_state(key)
                    removed.append(key)
            except LockTimeout:
                continue
        return dict(removed=removed)
    return Plan('cache', dict((key, 'present') for key in keys), {}, ['%s %s' % (why, key) for key in keys], apply,
                values=dict(removed=keys))


def plan_verify(cache_dir, key=None, remove_damaged=False):
    """Check every entry (or ``key``) against its manifest; with ``remove_damaged`` remove those that fail."""
    keys = [key] if key else [item['key'] for item in entries(cache_dir)]
    damaged = dict((name, found) for name, found in ((name, problems(cache_dir, name)) for name in keys) if found)
    plan = plan_remove(cache_dir, damaged if remove_damaged else [], why='remove damaged entry')
    plan.values.update(damaged=damaged, verified=sorted(set(keys) - set(damaged)))
    return plan


def plan_prune(cache_dir, max_age_days=None, keep=None):
    """Remove entries older than ``max_age_days`` and, beyond the newest ``keep``, the older ones;
    incomplete entries (a save cut short) older than an hour go too."""
    listed = entries(cache_dir)
    limit = time.time() - max_age_days * 86400 if max_age_days is not None else None
    old = [item['key'] for item in listed if limit is not None and item['mtime'] < limit]
    complete = [item['key'] for item in listed if item['complete']]
    beyond = complete[:-keep] if keep else (complete if keep == 0 else [])
    cut_short = [item['key'] for item in listed if not item['complete'] and item['mtime'] < time.time() - 3600]
    return plan_remove(cache_dir, old + beyond + cut_short, why='prune')


def check_key(key):
    """A key as lookups make it (the name of a directory of the cache)."""
    if not isinstance(key, str) or not key.startswith(KEY_PREFIX):
        raise LagoError('invalid cache key %r: give the key lago_lab_cache state=query returned' % (key,))
    pool.check_name(key, 'pool state')
    return key
