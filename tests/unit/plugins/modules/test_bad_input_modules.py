# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bad-input battery of the modules (init files have theirs in module_utils/test_bad_input.py).

Each case drives a module's real execute() (real files, real qemu-img, real
sockets; only libvirt is a stand-in, tests/integration/test_bad_input_lab.py
runs the libvirt cases against a real libvirtd) with one bad value in a
template repository, a disk, a network, a snapshot, a state pool, the
repository server or reposetup. It asserts that the run fails with a
LagoError whose message holds the given fragments (the offending key or
value), and that nothing was left behind: every file, directory and symlink
under the test's directory is as it was (type, mode, content), no libvirt
network or domain was made, and no child process is left running.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import os
import socket
import stat
import subprocess

import pytest

from ansible_collections.lago.lago.plugins.module_utils import qemu_img
from ansible_collections.lago.lago.plugins.module_utils.errors import LagoError
from ansible_collections.lago.lago.plugins.module_utils.prefix_state import open_prefix
from ansible_collections.lago.lago.plugins.module_utils.snapshot_take import plan_take
from ansible_collections.lago.lago.plugins.modules import (
    lago_disk, lago_network, lago_prefix, lago_reposerver, lago_reposetup, lago_snapshot, lago_snapshot_pool,
    lago_template)
from ansible_collections.lago.lago.tests.unit.plugins.fake_libvirt import FakeConn
from ansible_collections.lago.lago.tests.unit.plugins.modules.module_helpers import Repo, module_params
from ansible_collections.lago.lago.tests.unit.plugins.offline_prefix import fake_libvirt, make_prefix

MAC = '52:54:00:aa:00:01'
DISTRO = {'distro': 'debian'}
# The host-wide directories' lock files (the template store's per-entry locks, the lease directory's
# lock): every run makes them, they hold nothing and they are not the case's to remove.
SHARED_LOCKS = ('store', 'store/.locks', 'subnets', 'subnets/leases.lock')


def tree(root):
    """Everything under ``root``: relative path -> (kind, mode, sha256 / link target)."""
    found = {}
    for top, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(top, name)
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                what = ('link', None, os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                what = ('dir', stat.S_IMODE(info.st_mode), None)
            else:
                with open(path, 'rb') as handle:
                    what = ('file', stat.S_IMODE(info.st_mode), hashlib.sha256(handle.read()).hexdigest())
            found[os.path.relpath(path, root)] = what
    return found


def children():
    """Pids of this process's live children (a server the module started and left)."""
    found = set()
    for task in os.listdir('/proc/self/task'):
        try:
            with open('/proc/self/task/%s/children' % task) as handle:
                found.update(int(pid) for pid in handle.read().split())
        except (IOError, OSError):
            pass
    return found


def sha1(path):
    with open(path, 'rb') as handle:
        return hashlib.sha1(handle.read()).hexdigest()


class Bench(object):
    """What the cases work on, each part made on first use under one tmp directory:
    ``repo`` (a file template repository, Repo), ``prefix`` (an offline prefix whose
    vm01 has snapshot s1), ``pool`` (a state pool with s1 of that prefix exported as
    ``shared``), ``work`` (an empty directory), a FakeConn for libvirt."""

    def __init__(self, tmp_path, make_run, monkeypatch):
        self.tmp = str(tmp_path)
        self.make_run = make_run
        self.monkeypatch = monkeypatch
        self.conn = FakeConn()
        self.virt = fake_libvirt(monkeypatch)
        for module in (lago_network, lago_snapshot, lago_prefix):
            monkeypatch.setattr(module, 'connect', lambda _uri: self.conn)
        self.store = self.path('store')
        self.lease_dir = self.path('subnets')
        self._made = {}

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def _once(self, name, make):
        if name not in self._made:
            self._made[name] = make()
        return self._made[name]

    @property
    def repo(self):
        return self._once('repo', lambda: Repo(self.path('repo')))

    @property
    def work(self):
        def make():
            os.mkdir(self.path('work'))
            return self.path('work')
        return self._once('work', make)

    @property
    def prefix(self):
        def make():
            state = make_prefix(self.path('prefix'), self.virt, vms=('vm01',))
            plan_take(None, state, 's1').apply()
            with open_prefix(state.path):  # its lock file, as every run of lago_prefix leaves it
                pass
            return state.path
        return self._once('prefix', make)

    @property
    def pool(self):
        def make():
            prefix = self.prefix
            self.run(lago_snapshot_pool, pool=self.path('pool'), name='shared', prefix=prefix, snapshot='s1')
            return self.path('pool')
        return self._once('pool', make)

    def run(self, module, check_mode=False, **given):
        given.setdefault('lock_timeout', 5.0)
        run = self.make_run(check_mode=check_mode, **module_params(module.ARGUMENT_SPEC, **given))
        return run.result(module.execute(run))

    # --- changes a case makes before its run (part of its "before")
    def edit_repo(self, change):
        with open(self.repo.path) as handle:
            data = json.load(handle)
        change(data)
        self.write(self.repo.path, json.dumps(data))
        return self.repo.path

    def write(self, path, text):
        with open(path, 'w') as handle:
            handle.write(text)
        return path

    def version_file(self, name, text):
        """Write ``text`` to base/<name> of the repository (v2.hash, v2.metadata); the repository's path."""
        self.write(os.path.join(self.repo.root, 'base', name), text)
        return self.repo.path

    def edit_manifest(self, change):
        path = os.path.join(self.pool, 'shared', 'manifest.json')
        with open(path) as handle:
            data = json.load(handle)
        change(data)
        return self.write(path, json.dumps(data))


# --- the modules' runs, with the case's one bad value --------------------------------------

def template(bench, **given):
    args = dict(template='base', template_repo=bench.repo.path, template_store=bench.store)
    args.update(given)
    return bench.run(lago_template, **args)


def disk(bench, **given):
    args = dict(path=os.path.join(bench.work, 'disk.qcow2'), template_store=bench.store)
    args.update(given)
    return bench.run(lago_disk, **args)


def network(bench, **given):
    args = dict(name='mgmt', type='nat', dhcp=dict(start=100, end=254), hosts=[dict(mac=MAC, ip=10, name=None)],
                dns_domain='lago.local', dns_hosts={'vm01': 10}, state='started', lease_dir=bench.lease_dir)
    args.update(given)
    return bench.run(lago_network, **args)


def snap(bench, **given):
    args = dict(prefix=bench.prefix, name='s2', state='present', wait_for_ssh=False)
    args.update(given)
    return bench.run(lago_snapshot, **args)


def export(bench, **given):
    args = dict(pool=bench.path('pool'), name='shared', prefix=bench.prefix, snapshot='s1')
    args.update(given)
    return bench.run(lago_snapshot_pool, **args)


def import_pool(bench, state=None, **disk_spec):
    """An init whose vm01 has a disk on pool state ``state`` (default: <pool>/shared)."""
    pool = bench.pool
    spec_disk = dict(name='root', dev='vda', type='template', template_type='pool',
                     path=state or os.path.join(pool, 'shared'), format='qcow2')
    spec_disk.update(disk_spec)
    spec = {'domains': {'vm01': {'memory': 256, 'nics': [{'net': 'lan'}], 'disks': [spec_disk]}},
            'nets': {'lan': {'type': 'nat', 'management': True}}}
    return bench.run(lago_prefix, path=bench.path('new-prefix'), spec=spec, virt_type='qemu', wait_for_ssh=False,
                     lease_dir=bench.lease_dir, template_store=bench.store)


def init(bench, **given):
    """lago_prefix state=present of a new prefix (one VM with an empty disk on one nat net)."""
    spec = {'domains': {'vm01': {'memory': 256, 'nics': [{'net': 'lan'}],
                                 'disks': [{'type': 'empty', 'name': 'root', 'dev': 'vda', 'size': '1M'}]}},
            'nets': {'lan': {'type': 'nat', 'management': True}}}
    args = dict(path=bench.path('new-prefix'), spec=spec, virt_type='qemu', wait_for_ssh=False,
                lease_dir=bench.lease_dir, template_store=bench.store)
    args.update(given)
    return bench.run(lago_prefix, **args)


def reposerver(bench, **given):
    args = dict(prefix=bench.path('lab'), bind='127.0.0.1', port=free_port(), timeout=5.0)
    args.update(given)
    return bench.run(lago_reposerver, **args)


def reposetup(bench, **given):
    args = dict(prefix=bench.path('lab'), flavour='deb', local_deb_dirs=[bench.path('debs')])
    args.update(given)
    return bench.run(lago_reposetup, **args)


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def lab_dir(bench, internal_repo=True):
    """A prefix directory for the repository modules (with an internal_repo/ to serve)."""
    os.makedirs(bench.path('lab', 'internal_repo') if internal_repo else bench.path('lab'))
    return bench.path('lab')


def debs(bench):
    """A directory holding one (tiny, real) .deb."""
    root = bench.path('pkg')
    os.makedirs(os.path.join(root, 'DEBIAN'))
    bench.write(os.path.join(root, 'DEBIAN', 'control'),
                'Package: hello-lago\nVersion: 1.0\nArchitecture: all\nMaintainer: x <x@example.com>\n'
                'Description: test\n')
    os.makedirs(bench.path('debs'))
    subprocess.check_call(['dpkg-deb', '--build', '--root-owner-group', root, bench.path('debs', 'hello.deb')],
                          stdout=subprocess.DEVNULL)
    return bench.path('debs')


def other_image_with_backing(bench):
    """Make base/v2 an overlay on v1 (and its hash match), as a template must never be."""
    image = os.path.join(bench.repo.root, 'base', 'v2')
    os.remove(image)
    qemu_img.create(image, fmt='qcow2', backing_file=os.path.join(bench.repo.root, 'base', 'v1'),
                    backing_format='qcow2')
    bench.write(image + '.hash', sha1(image))


def taken_port(bench):
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(1)
    bench.monkeypatch.setattr(bench, 'listener', listener, raising=False)
    return listener.getsockname()[1]


def damaged_layer(bench):
    """Append to vm01's frozen root layer of s1 (its recorded sha256 no longer matches)."""
    images = os.path.join(bench.prefix, 'images')
    with open(os.path.join(images, 'vm01_root.qcow2'), 'ab') as handle:  # s1's layer, under vm01_root.s1.qcow2
        handle.write(b'\0' * 512)
    return images


CASES = [
    # --- template repositories (lago_template state=present unless said)
    ('repo-not-json', lambda b: template(b, template_repo=b.write(b.repo.path, '{"name": "lab", ')),
     ['repo/repo.json', 'is not valid JSON']),
    ('repo-a-list', lambda b: template(b, template_repo=b.write(b.repo.path, '[]')),
     ["not in Lago's format", 'name, sources and templates']),
    ('repo-missing-sources', lambda b: template(b, template_repo=b.edit_repo(lambda d: d.pop('sources'))),
     ["missing key 'sources'"]),
    ('repo-missing-templates', lambda b: template(b, template_repo=b.edit_repo(lambda d: d.pop('templates'))),
     ["missing key 'templates'"]),
    ('repo-source-type', lambda b: template(b, template_repo=b.edit_repo(
        lambda d: d['sources']['local'].update(type='ftp'))), ["sources.local.type 'ftp' is not one of"]),
    ('repo-baseurl-relative', lambda b: template(b, template_repo=b.edit_repo(
        lambda d: d['sources'].update(web=dict(type='http', args=dict(baseurl='/templates'))))),
     ["sources.web.args.baseurl '/templates' is not an http(s) URL"]),
    ('repo-baseurl-scheme', lambda b: template(b, template_repo=b.edit_repo(
        lambda d: d['sources'].update(web=dict(type='http', args=dict(baseurl='ftp://127.0.0.1/t'))))),
     ["sources.web.args.baseurl 'ftp://127.0.0.1/t' is not an http(s) URL"]),
    ('repo-version-source', lambda b: template(b, template_repo=b.edit_repo(
        lambda d: d['templates']['base']['versions']['v2'].update(source='nowhere'))), ["'nowhere'", 'v2']),
    ('repo-handle-absolute', lambda b: template(b, template_repo=b.edit_repo(
        lambda d: d['templates']['base']['versions']['v2'].update(handle='/etc/passwd'))),
     ['templates.base.versions.v2.handle', "'/etc/passwd'"]),
    ('repo-handle-escapes', lambda b: template(b, template_repo=b.edit_repo(
        lambda d: d['templates']['base']['versions']['v2'].update(handle='../../etc/passwd'))),
     ["'../../etc/passwd' escapes the root"]),
    ('repo-name-escapes', lambda b: template(b, template_repo=b.edit_repo(lambda d: d.update(name='../lab'))),
     ["'../lab'"]),
    ('repo-unknown-template', lambda b: template(b, template='nope'),
     ["template 'nope' is not in repository", 'base']),
    ('repo-unknown-version', lambda b: template(b, template_version='v9'), ["version 'v9'", 'v1, v2']),
    ('repo-template-name-escapes', lambda b: template(b, template='../base'), ["'../base'"]),
    ('repo-version-escapes', lambda b: template(b, template_version='../../v2'), ["'../../v2'"]),
    ('repo-garbage-hash', lambda b: template(b, template_repo=b.version_file('v2.hash', 'not-a-hash')),
     ['does not hold a hash', "'not-a-hash'"]),
    ('repo-wrong-hash', lambda b: template(b, template_repo=b.version_file('v2.hash', 'a' * 40)), ['a' * 40]),
    ('repo-image-missing', lambda b: template(b, template_repo=os.remove(
        os.path.join(b.repo.root, 'base', 'v2')) or b.repo.path), ['image not found', 'base/v2']),
    ('repo-file-missing', lambda b: template(b, template_repo=b.path('nowhere.json')),
     ['nowhere.json', 'No such file or directory']),
    ('repo-url-unreachable', lambda b: template(b, template_repo='http://127.0.0.1:%d/repo.json' % free_port()),
     ['http://127.0.0.1:', '/repo.json']),
    ('repo-url-scheme', lambda b: template(b, template_repo='ftp://127.0.0.1/repo.json'),
     ['ftp://127.0.0.1/repo.json']),
    ('repo-pin-mismatch', lambda b: template(b, sha256='b' * 64), ['b' * 64]),
    ('repo-pin-not-hex', lambda b: template(b, sha256='xyz'), ['sha256', "'xyz'"]),
    ('repo-pinned-in-json-bad', lambda b: template(b, template_repo=b.edit_repo(
        lambda d: d['templates']['base']['versions']['v2'].update(sha256='12'))), ['sha256', "'12'"]),
    ('repo-template-with-backing-file', lambda b: template(b, template_repo=other_image_with_backing(b) or b.repo.path),
     ['backing file']),
    ('repo-metadata-not-json', lambda b: template(b, template_repo=b.version_file('v2.metadata', '{')),
     ['v2.metadata', 'not valid JSON']),
    ('publish-image-missing', lambda b: template(b, state='published', template_version='v3', metadata=DISTRO,
                                                 image=b.path('nowhere.qcow2')), ['nowhere.qcow2']),
    ('publish-no-repo', lambda b: template(b, state='published', template_version='v3', metadata={},
                                           template_repo=None, image=b.path('x')), ['template_repo']),
    ('publish-bad-version', lambda b: template(b, state='published', template_version='../v3', metadata={},
                                               image=os.path.join(b.repo.root, 'base', 'v1')), ["'../v3'"]),
    # --- disks (lago_disk)
    ('disk-size-words', lambda b: disk(b, type='empty', size='ten gigs'), ['size', "'ten gigs'"]),
    ('disk-size-negative', lambda b: disk(b, type='empty', size='-1G'), ['size', "'-1G'"]),
    ('disk-size-zero', lambda b: disk(b, type='empty', size='0'), ['size', "'0'"]),
    ('disk-empty-without-size', lambda b: disk(b, type='empty'), ['size']),
    ('disk-template-on-empty', lambda b: disk(b, type='empty', size='1M', template='base'),
     ['template is only for type=template']),
    ('disk-backing-missing', lambda b: disk(b, backing_file=b.path('nowhere', 'golden.qcow2')),
     ['nowhere/golden.qcow2', 'does not exist']),
    ('disk-backing-format-differs', lambda b: disk(b, backing_file=b.write(b.path('notes.txt'), 'mine'),
                                                   backing_format='qcow2'), ['notes.txt of disk', 'is a raw image, not qcow2']),
    ('disk-directory-missing', lambda b: disk(b, path=b.path('work', 'nodir', 'disk.qcow2'), type='empty',
                                              size='1M'), ['work/nodir']),
    ('disk-path-a-directory', lambda b: disk(b, path=b.work, type='empty', size='1M'), ['work']),
    ('disk-unknown-template', lambda b: disk(b, template='nope', template_repo=b.repo.path),
     ["template 'nope' is not in repository"]),
    ('disk-template-without-repo', lambda b: disk(b, template='base'), ['template_repo']),
    ('disk-absent-foreign-file', lambda b: disk(b, state='absent', path=b.write(os.path.join(b.work, 'notes.txt'), 'x')),
     ['notes.txt']),
    ('disk-export-without-dest', lambda b: disk(b, state='exported', path=disk_made(b)), ['dest']),
    ('disk-shrink', lambda b: disk(b, path=disk_made(b), type='empty', size='1M'), ['shrinking', str(8 << 20)]),
    ('disk-format-differs', lambda b: disk(b, path=disk_made(b), type='empty', size='8M', format='raw'),
     ['format', 'raw', 'qcow2']),
    ('disk-export-over-foreign-file', lambda b: disk(b, state='exported', path=disk_made(b),
                                                     dest=b.write(b.path('foreign.qcow2'), 'mine')),
     ['foreign.qcow2']),
    ('disk-of-a-prefix', lambda b: disk(b, path=os.path.join(b.prefix, 'images', 'vm01_data.raw'), type='empty',
                                        size='2M', format='raw'), ['vm01_data.raw']),
    # --- networks (lago_network; libvirt a stand-in, see the lab battery for the real one)
    ('net-name-space', lambda b: network(b, name='bad name'), ["'bad name'"]),
    ('net-name-empty', lambda b: network(b, name=''), ["''"]),
    ('net-bridge-long', lambda b: network(b, bridge='this-is-too-long'), ["bridge name 'this-is-too-long'"]),
    ('net-subnet-outside-pool', lambda b: network(b, subnet='10.0.0.0/24'), ['10.0.0.0/24', 'outside the pool']),
    ('net-subnet-octet', lambda b: network(b, subnet='300'), ["'300'"]),
    ('net-subnet-words', lambda b: network(b, subnet='lan'), ["'lan'"]),
    ('net-pool-too-big', lambda b: network(b, pool='10.0.0.0/8'), ["pool '10.0.0.0/8'"]),
    ('net-host-ip-outside', lambda b: network(b, subnet='205', hosts=[dict(mac=MAC, ip='10.1.1.5', name=None)]),
     ['hosts[0].ip', '10.1.1.5']),
    ('net-host-ip-words', lambda b: network(b, hosts=[dict(mac=MAC, ip='ten', name=None)]), ['hosts[0].ip', "'ten'"]),
    ('net-host-mac', lambda b: network(b, hosts=[dict(mac='zz:zz', ip=10, name=None)]), ['hosts[0].mac', 'zz:zz']),
    ('net-host-ip-twice', lambda b: network(b, hosts=[dict(mac=MAC, ip=10, name=None),
                                                      dict(mac='52:54:00:aa:00:02', ip=10, name=None)]),
     ['hosts[1]', '10']),
    ('net-dhcp-reversed', lambda b: network(b, dhcp=dict(start=200, end=100)), ['dhcp', '200', '100']),
    ('net-dhcp-words', lambda b: network(b, dhcp=dict(start='first', end=100)), ['dhcp', "'first'"]),
    ('net-bridge-type-dhcp', lambda b: network(b, type='bridge'), ['type bridge', 'dhcp']),
    ('net-mtu', lambda b: network(b, mtu=10), ['mtu 10']),
    ('net-dns-host-ip', lambda b: network(b, dns_hosts={'vm01': 'nowhere'}), ['dns_hosts', "'nowhere'"]),
    ('net-owner-missing', lambda b: network(b, owner=b.path('nowhere', 'uuid')), ['nowhere/uuid does not exist']),
    ('net-lease-dir-a-file', lambda b: network(b, lease_dir=b.write(b.path('leases'), 'x')), ['leases']),
    # --- snapshots (lago_snapshot; the prefix's vm01 has s1)
    ('snap-unknown-vm', lambda b: snap(b, vms=['vm09']), ['vm09']),
    ('snap-name-dot', lambda b: snap(b, name='s2.qcow2'), ["'s2.qcow2'"]),
    ('snap-name-slash', lambda b: snap(b, name='../s2'), ["'../s2'"]),
    ('snap-name-space', lambda b: snap(b, name='my snap'), ["'my snap'"]),
    ('snap-name-empty', lambda b: snap(b, name=''), ["''"]),
    ('snap-revert-missing', lambda b: snap(b, name='nope', state='reverted'), ["'nope'", 's1']),
    ('snap-revert-unknown-vm', lambda b: snap(b, name='s1', state='reverted', vms=['vm09']), ['vm09']),
    ('snap-revert-damaged-layer', lambda b: snap(b, name='s1', state='reverted') if damaged_layer(b) else None,
     ['vm01_root']),
    ('snap-prefix-missing', lambda b: snap(b, prefix=b.path('nowhere')), ['nowhere']),
    ('snap-state-truncated', lambda b: snap(b, prefix=b.prefix and b.write(
        os.path.join(b.prefix, 'state.json'), '{"version": 1, "vms"') and b.prefix), ['state.json', 'not valid JSON']),
    ('snap-state-a-list', lambda b: snap(b, prefix=b.prefix and b.write(
        os.path.join(b.prefix, 'state.json'), '[]') and b.prefix), ['state.json', 'not a JSON object']),
    # --- state pools (lago_snapshot_pool export/removal, and import by an init)
    ('pool-location-dash', lambda b: export(b, pool='-pool'), ["'-pool'", 'option']),
    ('pool-unknown-snapshot', lambda b: export(b, snapshot='nope'), ["'nope'"]),
    ('pool-unknown-vm', lambda b: export(b, vms=['vm09']), ['vm09']),
    ('pool-name-escapes', lambda b: export(b, name='../shared'), ["'../shared'"]),
    ('pool-name-empty', lambda b: export(b, name=''), ["''"]),
    ('pool-location-a-file', lambda b: export(b, pool=b.write(b.path('pool-file'), 'x')),
     ['pool-file', 'Not a directory']),
    ('pool-absent-name-escapes', lambda b: export(b, state='absent', name='../x'), ["'../x'"]),
    ('pool-import-missing-state', lambda b: import_pool(b, state=os.path.join(b.pool, 'other')),
     ['other', 'does not exist']),
    ('pool-import-manifest-not-json', lambda b: import_pool(b) if b.write(
        os.path.join(b.pool, 'shared', 'manifest.json'), '{"layers"') else None, ['manifest.json']),
    ('pool-import-wrong-hash', lambda b: import_pool(b) if b.edit_manifest(
        lambda m: [layer.update(sha256='c' * 64) for layer in m['layers'].values()]) else None,
     ['fails its sha256', 'c' * 64]),
    ('pool-import-wrong-size', lambda b: import_pool(b) if b.edit_manifest(
        lambda m: [layer.update(size=layer['size'] + 1) for layer in m['layers'].values()]) else None,
     ['the manifest says']),
    ('pool-import-unknown-vm', lambda b: import_pool(b, state=os.path.join(b.pool, 'shared') + ':vm09'), ['vm09']),
    ('pool-import-layer-escapes', lambda b: import_pool(b) if b.edit_manifest(
        lambda m: m['vms']['vm01']['disks']['root'].update(layer='../../etc/passwd')) else None,
     ["names layer '../../etc/passwd', which is not in the manifest"]),
    ('pool-import-layer-name-escapes', lambda b: import_pool(b) if b.edit_manifest(
        lambda m: m['layers'].update({'../../x': m['layers'].popitem()[1]})) else None,
     ["layer name '../../x' is not a plain file name"]),
    # --- a new prefix whose host directories are wrong (lago_prefix)
    ('init-lease-dir-a-file', lambda b: init(b, lease_dir=b.write(b.path('leases'), 'x')), ['leases']),
    # --- the repository server (lago_reposerver)
    ('server-port-zero', lambda b: reposerver(b, prefix=lab_dir(b), port=0), ['port 0']),
    ('server-port-too-big', lambda b: reposerver(b, prefix=lab_dir(b), port=70000), ['port 70000']),
    ('server-bind-words', lambda b: reposerver(b, prefix=lab_dir(b), bind='reposerver'), ["'reposerver'"]),
    ('server-bind-not-here', lambda b: reposerver(b, prefix=lab_dir(b), bind='192.0.2.1'),
     ['192.0.2.1 is not on this host']),
    ('server-port-taken', lambda b: reposerver(b, prefix=lab_dir(b), port=taken_port(b)), ['is already in use']),
    ('server-nothing-to-serve', lambda b: reposerver(b, prefix=lab_dir(b, internal_repo=False)),
     ['internal_repo does not exist']),
    ('server-prefix-missing', lambda b: reposerver(b, prefix=b.path('nowhere')), ['nowhere']),
    # --- reposetup (lago_reposetup)
    ('reposetup-deb-dir-missing', lambda b: reposetup(b, prefix=lab_dir(b, False), local_deb_dirs=[b.path('no-debs')]),
     ['no-debs']),
    ('reposetup-rpm-dir-missing', lambda b: reposetup(b, prefix=lab_dir(b, False), flavour='rpm',
                                                      local_deb_dirs=[], local_rpm_dirs=[b.path('no-rpms')]),
     ['no-rpms']),
    ('reposetup-deb-dir-a-file', lambda b: reposetup(b, prefix=lab_dir(b, False),
                                                     local_deb_dirs=[b.write(b.path('debs-file'), 'x')]),
     ['debs-file']),
    ('reposetup-repo-file-missing', lambda b: reposetup(b, prefix=lab_dir(b, False), flavour='rpm', local_deb_dirs=[],
                                                        repo_file=b.path('no.repo')), ['no.repo']),
    ('reposetup-repo-file-garbage', lambda b: reposetup(b, prefix=lab_dir(b, False), flavour='rpm', local_deb_dirs=[],
                                                        repo_file=b.write(b.path('bad.repo'), 'baseurl http://x\n')),
     ['bad.repo']),
    ('reposetup-unknown-section', lambda b: reposetup(b, prefix=lab_dir(b, False), flavour='rpm', local_deb_dirs=[],
                                                      repo_file=b.write(b.path('good.repo'),
                                                                        '[base]\nbaseurl=http://127.0.0.1:9/\n'),
                                                      sections=['updates']), ['updates']),
    ('reposetup-name-escapes', lambda b: reposetup(b, prefix=lab_dir(b, False), local_deb_dirs=[debs(b)],
                                                   name='../../x'), ["'../../x'"]),
    ('reposetup-nothing-to-build', lambda b: reposetup(b, prefix=lab_dir(b, False), flavour='auto',
                                                       local_deb_dirs=[]), ['nothing to build']),
    ('reposetup-prefix-missing', lambda b: reposetup(b, prefix=b.path('nowhere'), local_deb_dirs=[debs(b)]),
     ['nowhere does not exist']),
    ('reposetup-gateway-words', lambda b: reposetup(b, prefix=lab_dir(b, False), local_deb_dirs=[debs(b)],
                                                    gateway='router'), ["'router'"]),
    ('reposetup-port-zero', lambda b: reposetup(b, prefix=lab_dir(b, False), local_deb_dirs=[debs(b)],
                                                gateway='192.168.200.1', port=0), ['port 0']),
]


def disk_made(bench):
    """An 8 MiB qcow2 this module made, at work/made.qcow2 (before the case runs)."""
    path = os.path.join(bench.work, 'made.qcow2')
    bench.run(lago_disk, path=path, type='empty', size='8M')
    return path


def files_of(bench):
    """tree() of the bench, less SHARED_LOCKS; a prefix's .lock by its presence only (each run
    that takes it writes its pid there)."""
    found = {}
    for path, what in tree(bench.tmp).items():
        if path in SHARED_LOCKS or path.startswith('store/.locks/'):
            continue
        found[path] = what[:2] if os.path.basename(path) == '.lock' else what
    return found


class Recorder(object):
    """Takes the "before" picture at the moment the run starts: after the case's own setup."""

    def __init__(self, bench):
        self.bench = bench
        self.before = None

    def __call__(self, real):
        def wrapped(run):
            self.before = (files_of(self.bench), sorted(self.bench.conn.networks), sorted(self.bench.conn.domains),
                           children())
            return real(run)
        return wrapped


@pytest.mark.parametrize('case, runs, fragments', CASES, ids=[case[0] for case in CASES])
def test_bad_input_names_it_and_leaves_nothing(tmp_path, make_run, monkeypatch, case, runs, fragments):
    bench = Bench(tmp_path, make_run, monkeypatch)
    recorder = Recorder(bench)
    for module in (lago_disk, lago_network, lago_prefix, lago_reposerver, lago_reposetup, lago_snapshot,
                   lago_snapshot_pool, lago_template):
        monkeypatch.setattr(module, 'execute', recorder(module.execute))
    with pytest.raises(LagoError) as err:
        runs(bench)
    message = str(err.value)
    for fragment in fragments:
        assert fragment in message, (case, fragment, message)
    before_files, before_nets, before_domains, before_children = recorder.before
    after_files = files_of(bench)
    assert sorted(set(after_files.items()) - set(before_files.items())) == [], (case, 'left behind', message)
    assert sorted(set(before_files.items()) - set(after_files.items())) == [], (case, 'changed or removed', message)
    assert (sorted(bench.conn.networks), sorted(bench.conn.domains)) == (before_nets, before_domains), case
    assert children() - before_children == set(), (case, 'a process was left running')
