# -*- coding: utf-8 -*-
"""The collection as users get it: `ansible-galaxy collection build` and
install work, and `ansible-doc` renders every plugin from the installed copy."""

from __future__ import absolute_import, division, print_function

import glob
import json
import os
import re
import subprocess
import sys

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


def test_execution_environment_dependencies(tmp_path):
    """ansible-builder reads the collection's Python and system requirements from meta/execution-environment.yml."""
    run(['ansible-galaxy', 'collection', 'build', REPO, '--output-path', str(tmp_path)])
    installed = tmp_path / 'collections'
    run(['ansible-galaxy', 'collection', 'install', '--force', glob.glob(str(tmp_path / 'lago-lago-*.tar.gz'))[0],
         '-p', str(installed)])
    deps = yaml.safe_load(run(['ansible-builder', 'introspect', str(installed)]).split('\n', 1)[1])
    python = ' '.join(deps['python'])
    for requirement in ('libvirt-python', 'lxml', 'paramiko'):
        assert requirement in python, (requirement, deps['python'])
    system = ' '.join(deps['system'])
    assert 'qemu-utils [platform:dpkg hypervisor]' in system and 'qemu-img [platform:rpm hypervisor]' in system


def test_bindep_profiles_are_installed_here():
    """bindep itself parses bindep.txt; on the lab machine (all profiles at once) nothing is missing."""
    proc = subprocess.run(['bindep', '-b', '-f', os.path.join(REPO, 'bindep.txt'),
                           'hypervisor', 'compile', 'build', 'reposetup', 'test'],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
    assert proc.returncode == 0 and proc.stdout.strip() == '', 'missing: %s%s' % (proc.stdout, proc.stderr)


def _imported_names():
    names = set()
    for path in glob.glob(os.path.join(REPO, 'plugins', '**', '*.py'), recursive=True):
        with open(path) as handle:
            for line in handle:
                words = line.split()
                if len(words) > 1 and words[0] in ('import', 'from'):
                    names.add(words[1].split('.')[0])
                if '__import__' in line or '_IMPORT_NAMES' in line:
                    names.update(word.strip("'\":,{}()") for word in words)
    return names


def test_every_python_requirement_is_used():
    imports = {'libvirt-python': 'libvirt', 'PyYAML': 'yaml', 'ansible-core': 'ansible'}
    used = _imported_names()
    with open(os.path.join(REPO, 'requirements.txt')) as handle:
        for line in handle:
            name = line.split('#')[0].strip().split('>')[0].split('<')[0].split('=')[0]
            if name:
                assert imports.get(name, name) in used, '%s is listed in requirements.txt but never imported' % name


def test_metadata_has_no_placeholders_and_changelog_lints():
    with open(os.path.join(REPO, 'galaxy.yml')) as handle:
        galaxy = handle.read()
    for placeholder in ('example.invalid', 'example.com', 'TODO', 'CHANGEME', 'your_name'):
        assert placeholder not in galaxy, placeholder
    run(['antsibull-changelog', 'lint'], cwd=REPO)
    fragments = ''.join(open(path).read() for path in glob.glob(os.path.join(REPO, 'changelogs/fragments/*.yml')))
    assert 'release_summary:' in fragments


def test_ansible_builder_create_makes_a_context_whose_introspection_finds_the_requirements(tmp_path):
    """``ansible-builder create`` of an execution environment holding the built collection writes a
    build context; the context's own introspect.py (what its build runs once the collection is
    installed) finds the collection's Python requirements and its system packages by profile."""
    run(['ansible-galaxy', 'collection', 'build', REPO, '--output-path', str(tmp_path)])
    tarball = os.path.basename(glob.glob(str(tmp_path / 'lago-lago-*.tar.gz'))[0])
    (tmp_path / 'requirements.yml').write_text('collections:\n  - name: /build/collection/%s\n    type: file\n' % tarball)
    (tmp_path / 'execution-environment.yml').write_text(yaml.safe_dump(dict(
        version=3, images=dict(base_image=dict(name='registry.invalid/ee-base:latest')),
        dependencies=dict(galaxy='requirements.yml', python_interpreter=dict(package_system='python3')),
        additional_build_files=[dict(src=tarball, dest='collection')])))
    run(['ansible-builder', 'create', '-f', 'execution-environment.yml', '-c', 'context'], cwd=str(tmp_path))
    context = tmp_path / 'context'
    assert (context / '_build' / 'collection' / tarball).exists()
    containerfile = [path for path in ('Containerfile', 'Dockerfile') if (context / path).exists()]
    assert containerfile and 'introspect.py introspect' in (context / containerfile[0]).read_text()

    installed = tmp_path / 'collections'
    run(['ansible-galaxy', 'collection', 'install', '--force', str(tmp_path / tarball), '-p', str(installed)])
    pip, bindep = tmp_path / 'pip.txt', tmp_path / 'bindep.txt'
    run([sys.executable, str(context / '_build' / 'scripts' / 'introspect.py'), 'introspect', str(installed),
         '--write-pip', str(pip), '--write-bindep', str(bindep)])
    for requirement in ('libvirt-python', 'lxml', 'paramiko'):  # ansible-core and PyYAML: the builder's own
        assert requirement in pip.read_text(), (requirement, pip.read_text())
    system = bindep.read_text()
    for line in ('openssh-client [platform:dpkg]', 'libvirt0 [platform:dpkg]', 'libvirt-libs [platform:rpm]',
                 'gcc [platform:dpkg platform:rpm compile]', 'libvirt-devel [platform:rpm compile]',
                 'qemu-utils [platform:dpkg hypervisor]'):
        assert line in system, (line, system)


def test_docs_name_libvirt_objects_as_the_code_makes_them():
    """The state.json of docs/PREFIX.md names its nets, bridges, VMs and MACs as values.py makes
    them, and no page spells a libvirt name the way it is not made (``lago-<short id>-...``)."""
    from ansible_collections.lago.lago.plugins.module_utils import values

    with open(os.path.join(REPO, 'docs', 'PREFIX.md')) as handle:
        page = handle.read()
    state = json.loads(page.split('## state.json', 1)[1].split('```json', 1)[1].split('```', 1)[0])
    short_id = state['short_id']
    owner = short_id + '0' * 24  # only the short id goes into names
    for name, net in state['nets'].items():
        assert (net['libvirt_name'], net['bridge']) == values.derive_names(owner, name), name
    for name, vm in state['vms'].items():
        assert vm['libvirt_name'] == values.libvirt_name(short_id, name), name
        for nic in vm['nics']:
            assert nic['mac'] == values.mac_for_ip(nic['ip']), nic
    pages = glob.glob(os.path.join(REPO, 'docs', '*.md')) + [os.path.join(REPO, 'README.md')]
    for path in pages:
        with open(path) as handle:
            text = handle.read()
        assert not re.search(r'lago-[0-9a-f]{8}-', text), '%s spells a libvirt name as lago-<short id>-...' % path
