# -*- coding: utf-8 -*-
"""The collection as users get it: `ansible-galaxy collection build` and
install work, and `ansible-doc` renders every plugin from the installed copy."""

from __future__ import absolute_import, division, print_function

import glob
import json
import os
import subprocess

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(argv, **kwargs):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          check=False, **kwargs)
    assert proc.returncode == 0, '%s failed:\n%s%s' % (' '.join(argv), proc.stdout, proc.stderr)
    return proc.stdout


def test_build_install_and_document(tmp_path):
    run(['ansible-galaxy', 'collection', 'build', REPO, '--output-path', str(tmp_path)])
    tarballs = glob.glob(str(tmp_path / 'lago-lago-*.tar.gz'))
    assert len(tarballs) == 1
    installed = tmp_path / 'collections'
    run(['ansible-galaxy', 'collection', 'install', '--force', tarballs[0], '-p', str(installed)])
    root = installed / 'ansible_collections' / 'lago' / 'lago'
    assert (root / 'MANIFEST.json').exists()
    assert not (root / 'hack').exists() and not (root / '.venv').exists()
    assert (root / 'playbooks' / 'init.yml').exists() and (root / 'roles' / 'template_build').exists()

    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(installed))
    modules = sorted(os.path.basename(path)[:-3] for path in glob.glob(os.path.join(REPO, 'plugins/modules/*.py')))
    # lago_artifacts runs on the VMs (collect), not where libvirt is: it stays out of the group.
    host_modules = [name for name in modules if name != 'lago_artifacts']
    with open(os.path.join(REPO, 'meta', 'runtime.yml')) as handle:
        assert sorted(yaml.safe_load(handle)['action_groups']['lago']) == host_modules, \
            'every module that runs on the libvirt host belongs to the action group lago'
    docs = json.loads(run(['ansible-doc', '--json', '-t', 'module'] + ['lago.lago.%s' % m for m in modules], env=env))
    assert sorted(docs) == ['lago.lago.%s' % m for m in modules]
    for name, doc in docs.items():
        assert doc['doc']['short_description'] and doc['examples'] and doc['return'] is not None, name
    inventory = json.loads(run(['ansible-doc', '--json', '-t', 'inventory', 'lago.lago.lago'], env=env))
    assert 'prefixes' in inventory['lago.lago.lago']['doc']['options']
    roles = run(['ansible-doc', '-t', 'role', '-l', 'lago.lago'], env=env)
    assert 'template_build' in roles
