# -*- coding: utf-8 -*-
"""The README's "Using the collection" commands, run as written, the way a new user runs them.

The blocks of README.md marked ``<!-- readme-check -->`` are run, in the order
they appear, each as one ``bash -e`` script whose working directory is a fresh
scratch directory; a block marked ``<!-- readme-check: NAME -->`` is written to
the file NAME there instead (the inventory file). Editing the README changes
what this test runs.

The scratch directory holds what the README says the user's directory holds:
the init file (a copy of examples/demo: VMs web01 and db01, its deploy script),
and the files the commands name - ``debs/`` (one .deb), ``tests.yml`` and
``notes.txt``. Every path in the commands is relative to it.

The lab substitutes nothing in the commands. It sets only the environment the
README documents for the host's settings:
  - LAGO_TEMPLATE_REPO: the lab's template repository;
  - LAGO_VIRT_TYPE=qemu: the lab's KVM cannot run guests;
  - LAGO_TEMPLATE_STORE, LAGO_LEASE_DIR: the test session's own, so that a
    lease left behind is this run's.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import pathlib
import re
import shutil

import pytest

import pkgbuild
from labrun import REPO, user_dir_with_demo, run
from prefixlib import leases, libvirt_objects, processes_mentioning

README = os.path.join(REPO, 'README.md')
MARK_RE = re.compile(r'^<!-- readme-check(?::\s*(?P<file>\S+))?\s*-->\s*\n+```[\w-]*\n(?P<text>.*?)^```\s*$',
                     re.M | re.S)

# What the README must show a user (each a regular expression over the run blocks).
STEPS = [r'ansible-playbook lago\.lago\.%s\b' % verb
         for verb in ('site', 'init', 'start', 'deploy', 'collect', 'status', 'stop', 'destroy')]
STEPS += [r'^ansible -i lab\.lago\.yml \S+ -m %s\b' % module for module in ('ping', 'shell', 'copy', 'fetch')]
STEPS += [r'^ansible-inventory -i lab\.lago\.yml --list\b']

TESTS_YML = '''\
# The user's tests (lago_test_local_tasks), run on the controller after deploy:
# keep what the README check looks at once the lab is gone, next to the init file.
- name: Make the directory of what is kept
  ansible.builtin.file:
    path: "{{ 'kept' | lago.lago.user_path }}"
    state: directory
    mode: "0755"

- name: Keep the prefix's state and the internal repository's manifest
  ansible.builtin.copy:
    src: "{{ lago_prefix_path | lago.lago.user_path }}/{{ item }}"
    dest: "{{ ('kept/' ~ (item | basename)) | lago.lago.user_path }}"
    mode: "0644"
  loop:
    - state.json
    - internal_repo/internal/.lago-repo.json
'''

NOTES = 'a file the user copies to a VM and back\n'


def readme_blocks(text=None):
    """[(file or None, text)] of the README's marked blocks, in order."""
    if text is None:
        with open(README) as handle:
            text = handle.read()
    return [(match.group('file'), match.group('text')) for match in MARK_RE.finditer(text)]


def collection_files():
    """Every file under the collection's playbooks/ and roles/ (where modules run)."""
    return sorted(os.path.join(top, name) for base in ('playbooks', 'roles')
                  for top, _dirs, names in os.walk(os.path.join(REPO, base)) for name in names)


def read(path):
    with open(path) as handle:
        return handle.read()


def test_blocks_are_found_by_their_marks():
    text = ('x\n<!-- readme-check -->\n```sh\necho one\n```\n\n<!-- readme-check: a.yml -->\n\n'
            '```yaml\nk: v\n```\n```sh\nnot marked\n```\n')
    assert readme_blocks(text) == [(None, 'echo one\n'), ('a.yml', 'k: v\n')]


def test_readme_shows_every_step():
    commands = '\n'.join(text for target, text in readme_blocks() if target is None)
    missing = [step for step in STEPS if not re.search(step, commands, re.M)]
    assert not missing, 'the marked blocks of README.md lack %s' % missing
    assert [target for target, _text in readme_blocks() if target] == ['lab.lago.yml']


@pytest.fixture
def user_dir(tmp_path):
    """A directory of the user's own: the demo init file and the files the README's commands name."""
    work = pathlib.Path(user_dir_with_demo(tmp_path))
    (work / 'debs').mkdir()
    deb = pkgbuild.build_deb(str(tmp_path))
    shutil.move(deb, str(work / 'debs'))
    (work / 'tests.yml').write_text(TESTS_YML)
    (work / 'notes.txt').write_text(NOTES)
    return work


@pytest.mark.lab
@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_readme_usage_runs_as_written_from_a_users_directory(user_dir, lab_template_repo, lab_host_dirs):
    env = dict(LAGO_TEMPLATE_REPO=lab_template_repo, LAGO_VIRT_TYPE='qemu',
               LAGO_TEMPLATE_STORE=lab_host_dirs['template_store'], LAGO_LEASE_DIR=lab_host_dirs['lease_dir'])
    work = str(user_dir)
    libvirt_before = set(libvirt_objects(''))
    collection_before = collection_files()
    outputs = []
    for target, text in readme_blocks():
        if target:
            with open(os.path.join(work, target), 'w') as handle:
                handle.write(text)
            continue
        block = run(['bash', '-eux', '-o', 'pipefail', '-c', text], env=env, cwd=work, timeout=3000)
        assert block.rc == 0, 'README block failed (rc %s):\n%s\n--- output:\n%s' % (
            block.rc, text, block.output[-8000:])
        outputs.append(block.stdout)
    output = '\n'.join(outputs)

    # site: the relative init file, debs and tests.yml were found, the prefix
    # was ./.lago, the artifacts went to ./collected, and the lab is gone
    kept = os.path.join(work, 'kept')
    manifest = json.loads(read(os.path.join(kept, '.lago-repo.json')))
    assert sorted(manifest['packages']) == ['lago-hello_1.0_all.deb']
    for vm in ('web01', 'db01'):
        log = read(os.path.join(work, 'collected', vm, '_var_log_lago-demo.log'))
        assert log.startswith('deployed on %s' % vm) and 'prefix: %s\n' % os.path.join(work, '.lago') in log, log
    assert not os.path.exists(os.path.join(work, '.lago'))

    # the session on ./lab: collect into ./out, status, the inventory plugin's
    # ad-hoc commands (a copy to web01 and back into ./fetched)
    for vm in ('web01', 'db01'):
        log = read(os.path.join(work, 'out', vm, '_var_log_lago-demo.log'))
        assert 'prefix: %s\n' % os.path.join(work, 'lab') in log, log
        assert re.search(r'vm %s: running at \d+\.\d+\.\d+\.\d+' % vm, output), output[-4000:]
        assert re.search(r'^%s \| SUCCESS => ' % vm, output, re.M), output[-4000:]
    assert read(os.path.join(work, 'fetched', 'web01', 'root', 'notes.txt')) == NOTES
    assert '"lago_prefix"' in output and '"%s"' % os.path.join(work, 'lab') in output, output[-4000:]

    # nothing of either lab is left; the user's directory holds its files and
    # what the commands made, and nothing was written into the collection
    assert not os.path.exists(os.path.join(work, 'lab'))
    assert leases(lab_host_dirs['lease_dir']) == []
    assert sorted(set(libvirt_objects('')) - libvirt_before) == []
    assert processes_mentioning(work) == []
    assert sorted(os.listdir(work)) == sorted(
        ['LagoInitFile', 'deploy.sh', 'debs', 'tests.yml', 'notes.txt', 'lab.lago.yml',
         'kept', 'collected', 'out', 'fetched'])
    assert collection_files() == collection_before
