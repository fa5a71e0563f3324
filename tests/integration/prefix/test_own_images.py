# -*- coding: utf-8 -*-
"""The user's own images (docs/IMAGES.md): a qcow2 made elsewhere - the lab's stock
cloud-init template stands in for a distro cloud image - published into a fresh
repository with lago_template state=published, and the same image used straight
from its path (template_type qcow2). Both VMs boot and accept SSH; the user's
file is never modified (its sha256 before and after)."""

from __future__ import absolute_import, division, print_function

import json
import os
import shutil
import subprocess

import pytest

from ansible_collections.lago.lago.plugins.module_utils.files import sha256_of as sha256
from labrun import playbook
from lablib import template_image
from prefixlib import left_behind

pytestmark = [pytest.mark.lab, pytest.mark.slow]

INIT_FILE = '''
    domains:
      published:
        memory: 512
        vcpu: 1
        nics: [{net: lan}]
        disks:
          - {type: template, template_name: mycloud, name: root, dev: vda, format: qcow2}
      frompath:
        memory: 512
        vcpu: 1
        nics: [{net: lan}]
        disks:
          - {type: template, template_type: qcow2, path: %s, name: root, dev: vda}
    nets:
      lan:
        type: nat
        management: true
'''


def ssh_hostname(prefix, vm):
    with open(os.path.join(prefix, 'state.json')) as handle:
        address = json.load(handle)['vms'][vm]['address']
    argv = ['ssh', '-i', os.path.join(prefix, 'id_rsa'),
            '-o', 'UserKnownHostsFile=%s' % os.path.join(prefix, 'known_hosts'),
            '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=yes',
            '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5', 'root@%s' % address, 'hostname; python3 -V']
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=60, check=False)


def test_published_and_path_images_boot(ansible_module, lab_template_repo, lab_host_dirs, write_init_file, tmp_path):
    own = tmp_path / 'own'
    own.mkdir()
    image = str(own / 'cloud.qcow2')
    shutil.copyfile(template_image(lab_template_repo, 'debian12-cloudinit'), image)
    before = sha256(image)
    repo = str(tmp_path / 'repo' / 'repo.json')
    published = ansible_module('lago.lago.lago_template', dict(
        template='mycloud', template_version='v1', state='published', template_repo=repo, image=image,
        metadata=dict(distro='debian12', seed_agent='cloud-init')))
    assert not published.get('failed'), published
    assert published['action'] == 'created'

    prefix = str(tmp_path / 'prefix')
    extra = dict(lago_prefix_path=prefix, lago_template_repo=repo, lago_init_file=write_init_file(INIT_FILE % image),
                 lago_template_store=str(tmp_path / 'store'), lago_lease_dir=lab_host_dirs['lease_dir'],
                 lago_virt_type='qemu')
    short_id = None
    try:
        playbook('init', extra).check()
        with open(os.path.join(prefix, 'uuid')) as handle:
            short_id = handle.read().strip()[:8]
        playbook('start', extra).check()
        for vm in ('published', 'frompath'):
            login = ssh_hostname(prefix, vm)
            assert login.returncode == 0, login.stderr
            assert login.stdout.split()[0] == vm
            assert 'Python 3' in login.stdout
    finally:
        playbook('destroy', extra).check()
    if short_id:
        assert left_behind(prefix, short_id, lab_host_dirs['lease_dir'])['libvirt'] == []
    assert os.path.isfile(image), 'the user image must survive destroy'
    assert sha256(image) == before, 'the user image was modified'
