# -*- coding: utf-8 -*-
"""Helpers of the snapshot and pool lab tests: the guest's marker file, chain checks."""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess

from ansible_collections.lago.lago.plugins.module_utils.ssh import ssh_argv

ONE_VM = '''
    domains:
      {name}:
        memory: 512
        vcpu: 1
        nics: [{{net: lan}}]
        disks:
          - {disk}
    nets:
      lan: {{type: nat, management: true}}
'''
TEMPLATE_DISK = '{type: template, template_name: debian12, name: root, dev: vda, format: qcow2}'


def one_vm(name='vm01', disk=TEMPLATE_DISK):
    return ONE_VM.format(name=name, disk=disk)


def state_of(prefix):
    with open(os.path.join(prefix, 'state.json')) as handle:
        return json.load(handle)


def guest(prefix, vm, command, check=True):
    """Run ``command`` in the VM over SSH with the prefix's key; its stdout."""
    entry = state_of(prefix)['vms'][vm]
    argv = ssh_argv(entry['ssh_user'], entry['address'], os.path.join(prefix, 'id_rsa'),
                    os.path.join(prefix, 'known_hosts'), [command], connect_timeout=10)
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=120, check=False)
    if check:
        assert proc.returncode == 0, 'ssh %s %r: %s' % (vm, command, proc.stderr)
    return proc.stdout


def set_marker(prefix, vm, text):
    guest(prefix, vm, 'echo %s > /root/marker && sync' % text)


def marker(prefix, vm):
    return guest(prefix, vm, 'cat /root/marker').strip()


def qemu_img(*args):
    return subprocess.run(['qemu-img'] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=False)


def backing_chain(path):
    """``qemu-img info --backing-chain`` of ``path`` (read even while a VM uses it)."""
    proc = qemu_img('info', '-U', '--backing-chain', '--output=json', path)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def assert_chains_valid(prefix):
    """Every frozen layer passes ``qemu-img check``; the chain under every snapshot and
    running image is the one state.json records, down to the template."""
    state = state_of(prefix)
    for vm in state['vms'].values():
        for disk in vm['disks']:
            for layer in disk.get('layers', {}):
                checked = qemu_img('check', '-U', layer)
                assert checked.returncode == 0, 'qemu-img check %s: %s' % (layer, checked.stdout + checked.stderr)
            tops = [disk['path']] + [record['disks'][disk['name']] for record in vm.get('snapshots', {}).values()]
            for top in tops:
                files = [os.path.realpath(item['filename']) for item in backing_chain(top)]
                recorded = [top] + _recorded_chain(disk, top)
                # (a disk on a pool state sits on more layers than its own record names)
                assert files[:len(recorded)] == [os.path.realpath(path) for path in recorded], top


def _recorded_chain(disk, top):
    layers = disk.get('layers', {})
    path = layers[top]['backing'] if top in layers else disk.get('parent', disk.get('backing'))
    found = []
    while path in layers:
        found.append(path)
        path = layers[path]['backing']
    return found + ([path] if path else [])
