# -*- coding: utf-8 -*-
"""The oVirt system-test flow on real VMs: ``ansible-playbook lago.lago.site``
(init, reposetup, start, deploy, the test hooks, collect, destroy), and the
deploy / collect verb playbooks on a kept lab."""

from __future__ import absolute_import, division, print_function

import glob
import json
import os
import textwrap

import pytest

import pkgbuild
from labrun import playbook, run
from prefixlib import left_behind

pytestmark = [pytest.mark.lab, pytest.mark.slow]

DEBIAN_VM = '''
    memory: 512
    vcpu: 1
    nics: [{net: lan}]
    disks:
      - {template_name: debian12, type: template, name: root, dev: vda, format: qcow2}
'''

TWO_VMS = '''
domains:
  vm01:%(vm)s
    metadata:
      deploy-scripts: [$LAGO_INITFILE_PATH/record-env.sh, $LAGO_INITFILE_PATH/install-hello.sh]
    artifacts: [/var/log/lago-hello.log, /var/log/lago-repomd.xml, /var/log/lago-deploy-env.log]
  vm02:%(vm)s
    metadata:
      deploy-scripts: [$LAGO_INITFILE_PATH/record-env.sh]
    artifacts: [/var/log/lago-deploy-env.log]
nets:
  lan:
    type: nat
    management: true
    dhcp: {start: 100, end: 254}
''' % dict(vm=DEBIAN_VM.rstrip())

RECORD_ENV = '''\
#!/bin/sh
set -e
env | grep '^LAGO_' | sort > /var/log/lago-deploy-env.log
'''

# apt reads only the internal repository; the yum metadata is read over HTTP too.
INSTALL_HELLO = '''\
#!/bin/sh
set -eu
''' + pkgbuild.APT_INSTALL_HELLO + '''\
python3 - <<'PY'
import os
import urllib.request
url = os.environ['LAGO_REPO_URL'] + 'repodata/repomd.xml'
with urllib.request.urlopen(url, timeout=30) as answer, open('/var/log/lago-repomd.xml', 'wb') as out:
    out.write(answer.read())
PY
'''

# The test hooks: on the controller, keep what the test checks once the prefix
# is gone; on the VMs, use the installed package (its log gets a second line).
LOCAL_TESTS = '''\
- name: Keep the prefix's state and repository manifest
  ansible.builtin.copy:
    src: "{{ item }}"
    dest: "%(keep)s/"
    mode: "0644"
  loop:
    - "{{ lago_prefix_path }}/state.json"
    - "{{ lago_prefix_path }}/reposerver.json"
    - "{{ lago_prefix_path }}/internal_repo/internal/.lago-repo.json"
'''

VM_TESTS = '''\
- name: Run the package installed from the internal repository
  ansible.builtin.command: /usr/bin/lago-hello
  changed_when: true
  when: inventory_hostname == 'vm01'
'''


def read(path):
    with open(path) as handle:
        return handle.read()


@pytest.fixture
def packages(tmp_path):
    """A local .deb directory, and a .repo file describing a local yum repository holding an .rpm."""
    work = str(tmp_path / 'packages')
    os.makedirs(work)
    debs = os.path.join(work, 'debs')
    os.makedirs(debs)
    deb = pkgbuild.build_deb(work)
    os.rename(deb, os.path.join(debs, os.path.basename(deb)))
    yum = pkgbuild.make_yum_repo(os.path.join(work, 'yum'), [pkgbuild.build_rpm(work)])
    repo_file = pkgbuild.write_repo_file(os.path.join(work, 'lab.repo'), {'lago-yum': {'baseurl': 'file://%s/' % yum}})
    return dict(debs=debs, repo_file=repo_file, reposync=os.path.join(work, 'reposync'))


def test_site_end_to_end_installs_from_the_internal_repo_and_leaves_nothing(
        prefix_vars, write_init_file, tmp_path, lab_host_dirs, packages):
    for name, text in (('record-env.sh', RECORD_ENV), ('install-hello.sh', INSTALL_HELLO)):
        (tmp_path / name).write_text(text)
    keep = tmp_path / 'kept'
    keep.mkdir()
    (tmp_path / 'local-tests.yml').write_text(LOCAL_TESTS % dict(keep=keep))
    (tmp_path / 'vm-tests.yml').write_text(VM_TESTS)
    output = tmp_path / 'collected'
    extra = dict(prefix_vars, lago_init_file=write_init_file(TWO_VMS), lago_collect_output=str(output),
                 lago_keep=False, lago_test_local_tasks=str(tmp_path / 'local-tests.yml'),
                 lago_test_tasks=str(tmp_path / 'vm-tests.yml'),
                 reposetup_local_deb_dirs=[packages['debs']], reposetup_repo_file=packages['repo_file'],
                 reposetup_reposync_dir=packages['reposync'])
    path = prefix_vars['lago_prefix_path']
    try:
        site = playbook('site', extra)
    finally:
        destroyed = playbook('destroy', prefix_vars)
    site.check()
    destroyed.check()
    assert destroyed.changed() == 0, 'site.yml must have destroyed the lab itself'
    assert site.recap()['vm01']['failed'] == 0 and site.recap()['vm02']['failed'] == 0

    # reposetup merged the synchronized .rpm and the local .deb
    manifest = json.loads(read(str(keep / '.lago-repo.json')))
    assert sorted(manifest['packages']) == ['lago-hello-1.0-1.noarch.rpm', 'lago-hello_1.0_all.deb']
    state = json.loads(read(str(keep / 'state.json')))
    gateway = state['nets']['lan']['gateway']
    repo_url = 'http://%s:8585/internal/' % gateway
    assert json.loads(read(str(keep / 'reposerver.json')))['bind'] == gateway

    # the deploy scripts saw the prefix and the repository; vm01 installed the
    # .deb with apt over HTTP (its postinst ran it once, the VM test hook once
    # more) and read the yum metadata; collect brought it all back
    hello = read(str(output / 'vm01' / '_var_log_lago-hello.log')).splitlines()
    assert len(hello) == 2 and all(line.startswith(pkgbuild.log_message()) for line in hello), hello
    repomd = read(str(output / 'vm01' / '_var_log_lago-repomd.xml'))
    assert '<repomd' in repomd and 'type="primary"' in repomd
    for vm in ('vm01', 'vm02'):
        env = read(str(output / vm / '_var_log_lago-deploy-env.log')).splitlines()
        assert env == ['LAGO_PREFIX_PATH=%s' % path, 'LAGO_REPO_URL=%s' % repo_url, 'LAGO_VM_NAME=%s' % vm]
    assert sorted(os.listdir(str(output))) == ['vm01', 'vm02']

    # nothing left: no prefix, lease, libvirt object or repository server
    assert left_behind(path, state['short_id'], lab_host_dirs['lease_dir']) == dict(
        directory=False, leases=[], libvirt=[], processes=[])


FAILING = '''
domains:
  vm01:%(vm)s
    metadata:
      deploy-scripts:
        - $LAGO_INITFILE_PATH/ok.sh
        - $LAGO_INITFILE_PATH/fail.sh
        - $LAGO_INITFILE_PATH/after.sh
    artifacts: [/var/log/flow-ok.log, /var/log/flow-after.log]
nets:
  lan:
    type: nat
    management: true
''' % dict(vm=DEBIAN_VM.rstrip())

SCRIPTS = {
    'ok.sh': '#!/bin/sh\necho "ok ran" >> /var/log/flow-ok.log\n',
    'fail.sh': textwrap.dedent('''\
        #!/bin/sh
        [ -e /etc/flow-fixed ] && exit 0
        for n in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25; do echo "noise $n"; done
        echo "about to fail"
        echo "reason on stderr" >&2
        exit 3
        '''),
    'after.sh': '#!/bin/sh\necho "after ran" >> /var/log/flow-after.log\n',
}


def test_failed_deploy_is_reported_collected_kept_and_rerun(prefix_vars, write_init_file, tmp_path, lab_host_dirs):
    for name, text in SCRIPTS.items():
        (tmp_path / name).write_text(text)
    output = tmp_path / 'collected'
    extra = dict(prefix_vars, lago_init_file=write_init_file(FAILING), lago_collect_output=str(output),
                 lago_keep=True)
    path = prefix_vars['lago_prefix_path']
    inventory = tmp_path / 'lab.lago.yml'
    inventory.write_text('plugin: lago.lago.lago\nprefixes: [%s]\n' % path)
    # a host that cannot be reached, next to the VM, for collect
    (tmp_path / 'ghost.yml').write_text(
        'lago_prefix_vms: {hosts: {ghost: {ansible_host: 192.0.2.10, lago_artifacts: [/etc/hostname]}}}\n')
    state = None
    try:
        site = playbook('site', extra)
        assert site.rc != 0, site.output[-3000:]
        state = json.loads(read(os.path.join(path, 'state.json')))
        # the play names the VM, the script, its exit code and the tail of its output
        message = site.output
        for wanted in ('deploy of vm01 failed: script 02-fail.sh', os.path.join(path, 'scripts', 'vm01', '02-fail.sh'),
                       'exited with code 3', 'about to fail', 'reason on stderr', 'noise 25'):
            assert wanted in message, (wanted, message[-4000:])
        assert 'noise 1\\n' not in message, 'only the last lines of the output are shown'
        # the failure still collected: 01 ran, 03 never did (a warning, not an error)
        assert read(str(output / 'vm01' / '_var_log_flow-ok.log')) == 'ok ran\n'
        assert not (output / 'vm01' / '_var_log_flow-after.log').exists()
        assert '/var/log/flow-after.log does not exist on the VM' in site.output
        # lago_keep: the lab is still there and reachable through the inventory plugin
        run(['ansible', '-i', str(inventory), 'vm01', '-m', 'ansible.builtin.file',
             '-a', 'path=/etc/flow-fixed state=touch']).check()

        # deploy again: the succeeded script is skipped (its stamp), the rest runs
        playbook('deploy', prefix_vars).check()
        # collect again: the old output is rotated aside, the unreachable host is
        # reported and the VM collected
        collected = playbook('collect', dict(prefix_vars, lago_collect_output=str(output)),
                             '-i', str(tmp_path / 'ghost.yml')).check()
        assert 'ghost is unreachable, its artifacts were not collected' in collected.stdout
        assert read(str(output / 'vm01' / '_var_log_flow-ok.log')) == 'ok ran\n'
        assert read(str(output / 'vm01' / '_var_log_flow-after.log')) == 'after ran\n'
        assert not (output / 'ghost').exists()
        rotated = glob.glob(str(output) + '.*')
        assert len(rotated) == 1 and os.path.exists(os.path.join(rotated[0], 'vm01', '_var_log_flow-ok.log'))
    finally:
        destroyed = playbook('destroy', prefix_vars)
    destroyed.check()
    assert left_behind(path, state['short_id'], lab_host_dirs['lease_dir']) == dict(
        directory=False, leases=[], libvirt=[], processes=[])
