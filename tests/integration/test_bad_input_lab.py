# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bad-input battery against the real host: the lab's libvirtd, qemu-img, a real HTTP
server and real sockets (tests/unit/plugins/modules/test_bad_input_modules.py has the
cases that need none of them).

One test builds what the cases work on (a prefix that is initialized but never booted,
with an offline snapshot exported to a state pool, and a running lago_network), then
runs every case as one task of one ansible-playbook run, so the modules are started
exactly as a user starts them and the many cases cost one ansible start. Each case
must fail with a message holding its fragments, and afterwards nothing may be left:
no libvirt domain or network, no lease, no file of a prefix that was refused, no new
store entry, no process serving, and the prefix, the pool and the running network
exactly as they were.
"""

from __future__ import absolute_import, division, print_function

import functools
import hashlib
import http.server
import json
import os
import shutil
import socket
import tempfile
import threading

import pytest

from labrun import playbook
from prefixlib import leases, left_behind, libvirt_objects, processes_mentioning

pytestmark = pytest.mark.lab

ONE_VM = '''
domains:
  vm01:
    memory: 256
    nics: [{net: lan}]
    disks: [{type: template, template_name: debian12, name: root, dev: vda, format: qcow2}]
nets:
  lan: {type: nat, management: true}
'''
MAC = '52:54:00:ab:00:01'


def run_cases(cases, timeout=900):
    """Run each ``(module, args)`` of ``cases`` as one task of one playbook (failures ignored);
    the registered results, in order."""
    with tempfile.TemporaryDirectory(prefix='lago-battery-') as scratch:
        out = os.path.join(scratch, 'results.json')
        tasks = [{'name': 'case %d' % index, module: args, 'register': 'case%d' % index, 'ignore_errors': True}
                 for index, (module, args) in enumerate(cases)]
        tasks.append({'ansible.builtin.copy': dict(
            content='{{ [%s] | to_json }}' % ', '.join('case%d' % index for index in range(len(cases))), dest=out)})
        path = os.path.join(scratch, 'battery.yml')
        with open(path, 'w') as handle:
            json.dump([dict(hosts='localhost', gather_facts=False, tasks=tasks)], handle)
        run = playbook(path, {}, timeout=timeout)
        assert os.path.exists(out), run.output[-6000:]
        with open(out) as handle:
            return json.load(handle)


def fingerprint(root, skip=('.lock', '.log')):
    """Every directory and file under ``root`` (lock and log files aside), a file with its sha256."""
    found = {}
    for top, dirs, files in os.walk(root):
        found.update((os.path.relpath(os.path.join(top, name), root), 'dir') for name in dirs)
        for name in files:
            if name.endswith(skip):
                continue
            path = os.path.join(top, name)
            with open(path, 'rb') as handle:
                found[os.path.relpath(path, root)] = hashlib.sha256(handle.read()).hexdigest()
    return found


def store_entries(store):
    return sorted(name for name in os.listdir(store) if not name.startswith('.')) if os.path.isdir(store) else []


@pytest.fixture
def served_repo(tmp_path):
    """A template repository over real HTTP on 127.0.0.1 (in the lab's namespace): ``repo.json`` is
    not JSON, ``wrong-hash.json`` names an image whose published hash is wrong, ``relative.json``
    has a base URL that is no URL."""
    root = tmp_path / 'http'
    (root / 'img').mkdir(parents=True)
    (root / 'repo.json').write_text('{"name": "served", "sources": ')
    (root / 'img' / 'v1').write_bytes(b'\0' * 4096)
    (root / 'img' / 'v1.hash').write_text('0' * 40)
    (root / 'img' / 'v1.metadata').write_text('{"distro": "debian"}')
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    url = 'http://127.0.0.1:%d/' % server.server_address[1]
    for name, baseurl in (('wrong-hash.json', url), ('relative.json', '/')):
        (root / name).write_text(json.dumps(dict(
            name='served', sources=dict(web=dict(type='http', args=dict(baseurl=baseurl))),
            templates=dict(img=dict(versions=dict(v1=dict(source='web', handle='img/v1', timestamp=1)))))))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield url
    server.shutdown()
    server.server_close()


def test_bad_input_battery_on_the_real_host(prefix_vars, write_init_file, ansible_module, unique_name, tmp_path,
                                            served_repo):
    prefix = prefix_vars['lago_prefix_path']
    lease_dir, store = prefix_vars['lago_lease_dir'], prefix_vars['lago_template_store']
    repo = prefix_vars['lago_template_repo']
    host = dict(lease_dir=lease_dir, template_store=store)
    work = str(tmp_path / 'work')
    os.makedirs(work)
    extra = dict(prefix_vars, lago_init_file=write_init_file(ONE_VM))
    playbook('init', extra).check()
    net = dict(name=unique_name, dhcp=dict(start=100, end=200), hosts=[dict(mac=MAC, ip=10)], lease_dir=lease_dir)
    try:
        made = ansible_module('lago.lago.lago_network', net)
        assert not made.get('failed'), made.get('msg')
        taken_subnet, taken_bridge = made['network']['subnet'], made['network']['bridge']
        for location in ('pool', 'badpool'):
            for module, args in (('lago.lago.lago_snapshot', dict(prefix=prefix, name='s1')),
                                 ('lago.lago.lago_snapshot_pool', dict(pool=os.path.join(work, location),
                                                                       name='shared', prefix=prefix, snapshot='s1'))):
                result = ansible_module(module, args)
                assert not result.get('failed'), result.get('msg')
        manifest_path = os.path.join(work, 'badpool', 'shared', 'manifest.json')
        with open(manifest_path) as handle:
            manifest = json.load(handle)
        for layer in manifest['layers'].values():
            layer['sha256'] = 'c' * 64
        with open(manifest_path, 'w') as handle:
            json.dump(manifest, handle)
        listener = socket.socket()
        listener.bind(('127.0.0.1', 0))
        listener.listen(1)
        os.makedirs(os.path.join(work, 'lab', 'internal_repo'))

        def init(name, disk=None, **more):
            """lago_prefix state=present of a new prefix ``<work>/<name>`` whose vm01 has ``disk`` as root."""
            root = dict(type='template', template_name='debian12', name='root', dev='vda', format='qcow2')
            root.update(disk or {})
            spec = dict(domains=dict(vm01=dict(memory=256, nics=[dict(net='lan')], disks=[root])),
                        nets=dict(lan=dict(type='nat', management=True)))
            args = dict(path=os.path.join(work, name), spec=spec, template_repo=repo, virt_type='qemu', **host)
            args.update(more)
            return 'lago.lago.lago_prefix', args

        def network(**change):
            args = dict(net, name='b' + unique_name)
            args.update(change)
            return 'lago.lago.lago_network', args

        def snap(**args):
            return 'lago.lago.lago_snapshot', dict(dict(prefix=prefix, name='s2'), **args)

        def template(template_repo, **args):
            return 'lago.lago.lago_template', dict(dict(template='img', template_repo=template_repo,
                                                        template_store=store), **args)

        cases = [
            # libvirt networks: what only a real libvirtd and the host's own subnets show
            (network(subnet=taken_subnet), [taken_subnet]),
            (network(bridge=taken_bridge), [taken_bridge]),
            (network(name='bad name'), ["'bad name'"]),
            (network(mtu=70000), ['mtu 70000']),
            (network(hosts=[dict(mac=MAC, ip='10.9.9.9')]), ['hosts[0].ip', '10.9.9.9']),
            (network(hosts=[dict(mac='52:54:00', ip=10)]), ['hosts[0].mac', '52:54:00']),
            # inits that fail after the lease, the overlays or the seeds were made: rolled back
            (init('p-version', dict(template_version='nope')), ["'nope'", 'debian12']),
            (init('p-small', dict(size='1M')), ['vm01', 'size']),
            (init('p-badpool', dict(template_type='pool', template_name='vm01', path=os.path.join(work, 'badpool', 'shared'))),
             ['fails its sha256', 'c' * 64, 'everything this run created was removed again']),
            (init('p-nopool', dict(template_type='pool', template_name='vm01', path=os.path.join(work, 'pool', 'other'))),
             ['other', 'does not exist']),
            (init('p-lease-dir', lease_dir=os.path.join(work, 'leases-file')), ['leases-file']),
            # snapshots of the real prefix (vm01 shut off, snapshot s1)
            (snap(vms=['vm09']), ['vm09']),
            (snap(name='s2.qcow2'), ["'s2.qcow2'"]),
            (snap(name='nope', state='reverted'), ["'nope'", 's1']),
            (snap(name='s1', state='reverted', vms=['vm09']), ['vm09']),
            # state pools
            (('lago.lago.lago_snapshot_pool', dict(pool='-oProxyCommand=x', name='shared', prefix=prefix,
                                                   snapshot='s1')), ["'-oProxyCommand=x'"]),
            (('lago.lago.lago_snapshot_pool', dict(pool=os.path.join(work, 'pool2'), name='shared', prefix=prefix,
                                                   snapshot='nope')), ["'nope'"]),
            # template repositories over real HTTP
            (template(served_repo + 'repo.json'), [served_repo + 'repo.json', 'not valid JSON']),
            (template(served_repo + 'missing.json'), [served_repo + 'missing.json']),
            (template(served_repo + 'wrong-hash.json'), ['0' * 40, 'failed its hash check']),
            (template(served_repo + 'relative.json'), ["sources.web.args.baseurl '/' is not an http(s) URL"]),
            # disks with the real qemu-img
            (('lago.lago.lago_disk', dict(path=os.path.join(work, 'nodir', 'd.qcow2'), type='empty', size='1M')),
             ['nodir']),
            (('lago.lago.lago_disk', dict(path=os.path.join(work, 'd.qcow2'), backing_file=os.path.join(work, 'leases-file'),
                                          backing_format='qcow2')), ['leases-file of disk', 'is a raw image, not qcow2']),
            # the repository server on a real socket
            (('lago.lago.lago_reposerver', dict(prefix=os.path.join(work, 'lab'), bind='127.0.0.1',
                                                port=listener.getsockname()[1])), ['is already in use']),
            (('lago.lago.lago_reposerver', dict(prefix=os.path.join(work, 'lab'), bind='192.0.2.1')),
             ['192.0.2.1 is not on this host']),
        ]
        with open(os.path.join(work, 'leases-file'), 'w') as handle:
            handle.write('not a directory')
        before = dict(objects=libvirt_objects(''), leases=leases(lease_dir), store=store_entries(store),
                      prefix=fingerprint(prefix), work=fingerprint(work))
        results = run_cases([case for case, _fragments in cases])
        problems = []
        for ((module, args), fragments), result in zip(cases, results):
            message = result.get('msg', '')
            if not result.get('failed'):
                problems.append('%s %s did not fail' % (module, args))
            problems += ['%s %s: %r not in %r' % (module, args, fragment, message)
                         for fragment in fragments if fragment not in message]
            if 'Traceback' in message or 'MODULE FAILURE' in message:
                problems.append('%s: not a LagoError: %s' % (module, message))
        after = dict(objects=libvirt_objects(''), leases=leases(lease_dir), store=store_entries(store),
                     prefix=fingerprint(prefix), work=fingerprint(work))
        assert problems == [], '\n'.join(problems)
        assert after == before
        assert processes_mentioning(work) == []
        print('bad-input lab battery: %d cases, each refused by name, nothing left' % len(cases))

        # A state.json cut short (a full disk, a crash of something else): the error sends the user to
        # destroy, and destroy takes the prefix apart from its uuid alone.
        with open(os.path.join(prefix, 'state.json')) as handle:
            short_id = json.load(handle)['short_id']
        with open(os.path.join(prefix, 'state.json'), 'w') as handle:
            handle.write('{"version": 1, "vms": {"vm01"')
        damaged = ansible_module('lago.lago.lago_prefix', dict(path=prefix, state='started', **host))
        assert 'is damaged' in damaged['msg'] and 'lago_prefix state=absent' in damaged['msg'], damaged
        playbook('destroy', extra).check()
        assert left_behind(prefix, short_id + '-', lease_dir) == dict(
            directory=False, leases=[os.path.basename(made['network']['lease'])], libvirt=[], processes=[])
    finally:
        ansible_module('lago.lago.lago_network', dict(net, state='absent'))
        playbook('destroy', extra)
        shutil.rmtree(work, ignore_errors=True)
