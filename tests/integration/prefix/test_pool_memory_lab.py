# -*- coding: utf-8 -*-
"""Saved RAM in the state pool: a memory snapshot exported with its chains resumes,
running, in another prefix made from the state (same subnet, so the same MACs and
addresses): a process started before the snapshot still runs and SSH works. A
damaged memory file or other MACs are refused, and nothing runs."""

from __future__ import absolute_import, division, print_function

import hashlib
import os

import pytest

from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import connect

from labrun import playbook
from prefixlib import libvirt_objects
from snapshotlib import guest, marker, set_marker, state_of

pytestmark = pytest.mark.lab
FAKE_SSH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'fake-ssh')

COPY = '''
    domains:
      vm01:
        memory: 512
        vcpu: 1
        nics: [{{net: lan, ip: {ip}}}]
        disks:
          - {{type: template, template_type: pool, path: "{state}", name: root, dev: vda}}
    nets:
      lan: {{type: nat, management: true, gw: {gw}}}
'''
SOURCE = '''
    domains:
      vm01:
        memory: 512
        vcpu: 1
        nics: [{net: lan}]
        disks:
          - {type: template, template_name: debian12, name: root, dev: vda, format: qcow2}
    nets:
      lan: {type: nat, management: true}
'''


def sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def running(prefix):
    conn = connect('qemu:///system')
    return sorted(dom.name() for dom in conn.listAllDomains() if dom.isActive()
                  and dom.name().startswith(state_of(prefix)['uuid'][:8]))


@pytest.fixture
def prefixes(prefix_vars, write_init_file, tmp_path):
    """Make prefixes (extra vars per name); those not destroyed by the test are at the end."""
    made = []

    def make(name, init_text):
        extra = dict(prefix_vars, lago_prefix_path=str(tmp_path / name),
                     lago_init_file=write_init_file(init_text, name='%s.LagoInitFile' % name))
        made.append(extra)
        return extra, playbook('init', extra)
    yield make
    for extra in made:
        playbook('destroy', extra).check()


@pytest.mark.slow
def test_a_memory_state_resumes_running_in_another_prefix(prefixes, ansible_module, tmp_path):
    source, init = prefixes('source', SOURCE)
    init.check()
    prefix = source['lago_prefix_path']
    playbook('start', source).check()
    set_marker(prefix, 'vm01', 'saved')
    sleeper = guest(prefix, 'vm01', 'nohup sleep 100000 >/dev/null 2>&1 & echo $!').strip()
    taken = ansible_module('lago.lago.lago_snapshot', dict(prefix=prefix, name='live', memory=True))
    assert taken['taken']['vm01']['consistency'] == 'memory', taken.get('msg')
    pool_dir = str(tmp_path / 'pool')
    exported = ansible_module('lago.lago.lago_snapshot_pool', dict(pool=pool_dir, name='live', prefix=prefix))
    assert exported['changed'], exported.get('msg')
    manifest = exported['manifest']
    memory_file = manifest['vms']['vm01']['memory']
    state_dir = os.path.join(pool_dir, 'live')
    for name, entry in manifest['files'].items():  # the RAM and the key, with their sha256
        assert (os.path.getsize(os.path.join(state_dir, name)), sha256(os.path.join(state_dir, name))) == (
            entry['size'], entry['sha256']), name
        assert os.stat(os.path.join(state_dir, name)).st_mode & 0o777 == 0o600, name
    assert manifest['identity']['file'] in manifest['files']
    again = ansible_module('lago.lago.lago_snapshot_pool', dict(pool=pool_dir, name='live', prefix=prefix))
    assert (again['changed'], again['bytes_moved']) == (False, 0), 'an unchanged memory state moves nothing'
    # A pool on "another host" (rsync through a stand-in ssh) keeps the secrets 0600 too.
    remote_dir = tmp_path / 'remote-pool'
    remote = ansible_module('lago.lago.lago_snapshot_pool', dict(pool='lab@otherhost:%s' % remote_dir, name='live',
                                                                 prefix=prefix, pool_ssh=FAKE_SSH))
    assert remote['changed'], remote.get('msg')
    for name in manifest['files']:
        assert os.stat(str(remote_dir / 'live' / name)).st_mode & 0o777 == 0o600, name
    address = state_of(prefix)['vms']['vm01']['address']
    gateway = state_of(prefix)['nets']['lan']['gateway']
    playbook('destroy', source).check()  # its subnet is free again: the copies lease it

    def resume(copy):
        return ansible_module('lago.lago.lago_snapshot_pool', dict(pool=pool_dir, name='live', state='resumed',
                                                                   prefix=copy['lago_prefix_path']))

    # Another address on the subnet, so other MACs: refused, nothing runs.
    other_ip = address.rsplit('.', 1)[0] + '.77'
    elsewhere, init = prefixes('elsewhere', COPY.format(ip=other_ip, gw=gateway, state=state_dir))
    init.check()
    refused = resume(elsewhere)
    assert refused.get('failed') and 'need the addresses they were saved with' in refused['msg'], refused
    assert running(elsewhere['lago_prefix_path']) == []
    playbook('destroy', elsewhere).check()

    copy, init = prefixes('copy', COPY.format(ip=address, gw=gateway, state=state_dir))
    init.check()
    copy_prefix = copy['lago_prefix_path']

    # A memory file that fails its sha256 (same size): refused, nothing runs.
    path = os.path.join(state_dir, memory_file)
    with open(path, 'r+b') as handle:
        handle.seek(os.path.getsize(path) // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0xff]))
    damaged = resume(copy)
    assert damaged.get('failed') and '%s fails its sha256' % memory_file in damaged['msg'], damaged
    assert running(copy_prefix) == []
    with open(path, 'r+b') as handle:
        handle.seek(os.path.getsize(path) // 2)
        handle.write(byte)

    resumed = resume(copy)
    assert resumed['changed'] and resumed['resumed'] == ['vm01'], resumed.get('msg')
    assert list(resumed['ssh_ready']) == ['vm01']
    assert guest(copy_prefix, 'vm01', 'kill -0 %s && echo alive' % sleeper).strip() == 'alive', \
        'the guest resumed where it was saved: its process still runs'
    assert marker(copy_prefix, 'vm01') == 'saved'
    assert guest(copy_prefix, 'vm01', 'hostname -I').split()[0] == address
    assert running(copy_prefix) == ['%s-vm01' % state_of(copy_prefix)['uuid'][:8]]
    assert resume(copy)['changed'] is False, 'resuming running VMs again changes nothing'
    assert sha256(path) == manifest['files'][memory_file]['sha256'], 'the pool\'s memory file is never written'
    short_id = state_of(copy_prefix)['uuid'][:8]
    playbook('destroy', copy).check()
    assert libvirt_objects(short_id) == [] and not os.path.exists(copy_prefix)
