# -*- coding: utf-8 -*-
"""repo_publish: which hypervisor serves a multi-host prefix's repository, the rsync and ssh
command lines that copy it there, and how rsync's itemized output becomes ``changed``."""

from __future__ import absolute_import, division, print_function

import os

import pytest

from ansible_collections.lago.lago.plugins.module_utils import repo_publish
from ansible_collections.lago.lago.plugins.module_utils.errors import PrefixError, RepoError
from ansible_collections.lago.lago.plugins.module_utils.prefix_state import Layout, PrefixState


def _state(tmp_path, hypervisors=True, net_hvs=('hv2', 'hv1'), **hv2):
    layout = Layout(str(tmp_path / 'ctl'))
    os.makedirs(layout.path)
    state = PrefixState.new(layout, uuid='a' * 32, short_id='aaaaaaaa')
    state.add_net('lan', dict(libvirt_name='aaaaaaaa-lan', subnet='192.168.200.0/24', gateway='192.168.200.1',
                              management=True, hypervisors=list(net_hvs)))
    state.add_net('storage', dict(libvirt_name='aaaaaaaa-storage', gateway='192.168.201.1', management=False,
                                  hypervisors=['hv1']))
    if hypervisors:
        state.set('hypervisors', {
            'hv1': dict(ssh_host='192.168.250.11', ssh_key='/k/id', known_hosts='/k/kh', path='/parts/one'),
            'hv2': dict(dict(ssh_host='192.168.250.12', ssh_user='admin', ssh_port=2222, ssh_key='keys/id',
                             known_hosts='/k/kh', path='/var/lib/lago parts/two'), **hv2),
        })
    state.save()
    return PrefixState.load(layout)


def test_the_first_hypervisor_of_the_management_net_serves_it(tmp_path):
    state = _state(tmp_path)
    target = repo_publish.serving_target(state, 'internal')
    assert (target.hypervisor, target.net, target.gateway) == ('hv2', 'lan', '192.168.200.1')
    assert target.part == '/var/lib/lago parts/two'
    assert target.path == '/var/lib/lago parts/two/internal_repo/internal'
    assert (target.jump.host, target.jump.port, target.jump.user) == ('192.168.250.12', 2222, 'admin')
    assert target.jump.key == os.path.join(state.path, 'keys/id')  # relative to the controller's prefix
    read, found = repo_publish.target_of(state.path, 'internal')
    assert read.uuid == 'a' * 32 and found == target


def test_a_single_host_prefix_or_none_has_no_target(tmp_path):
    assert repo_publish.serving_target(_state(tmp_path, hypervisors=False), 'internal') is None
    assert repo_publish.target_of(str(tmp_path / 'nothing'), 'internal') == (None, None)


def test_what_the_state_lacks_is_named(tmp_path):
    with pytest.raises(RepoError, match=r'^net lan of prefix .* records no hypervisor'):
        repo_publish.serving_target(_state(tmp_path / 'a', net_hvs=()), 'internal')
    with pytest.raises(RepoError, match=r'^the internal repository is served by hypervisor hv2 \(the gateway of net '
                                        r'lan\), but .*state.json records no path of its part$'):
        repo_publish.serving_target(_state(tmp_path / 'b', path=''), 'internal')
    with pytest.raises(PrefixError, match=r'^the internal repository is served by hypervisor hv2 \(the gateway of '
                                          r'net lan\), but .*hypervisors.hv2 has no known_hosts$'):
        repo_publish.serving_target(_state(tmp_path / 'c', known_hosts=None), 'internal')
    with pytest.raises(RepoError, match=r"name '\.\./x' is not a valid repository name"):
        repo_publish.serving_target(_state(tmp_path / 'd'), '../x')


def test_rsync_copies_only_the_repository_with_strict_host_keys(tmp_path):
    target = repo_publish.serving_target(_state(tmp_path), 'internal')
    argv = repo_publish.rsync_argv('/ctl/internal_repo/internal', target)
    assert argv[-3:] == ['--', '/ctl/./internal_repo/internal/', 'admin@192.168.250.12:/var/lib/lago parts/two/']
    for option in ('--delete', '--relative', '--delay-updates', '--itemize-changes'):
        assert option in argv
    assert '--dry-run' not in argv and '--dry-run' in repo_publish.rsync_argv('/ctl/internal_repo/internal', target,
                                                                              dry_run=True)
    ssh = argv[argv.index('-e') + 1]
    assert ssh.startswith('ssh -i %s ' % os.path.join(str(tmp_path), 'ctl/keys/id'))
    for option in ('StrictHostKeyChecking=yes', 'UserKnownHostsFile=/k/kh', 'GlobalKnownHostsFile=/dev/null',
                   'BatchMode=yes', '-p 2222'):
        assert option in ssh
    check = repo_publish.check_part_argv(target)
    assert check[-2] == 'admin@192.168.250.12'
    assert check[-1] == ("if [ -f '/var/lib/lago parts/two/state.json' ] && [ -f '/var/lib/lago parts/two/uuid' ]; "
                         "then cat -- '/var/lib/lago parts/two/uuid'; fi")


def test_an_ipv6_hypervisor_is_bracketed_for_rsync(tmp_path):
    target = repo_publish.serving_target(_state(tmp_path, ssh_host='fd00::2'), 'internal')
    assert repo_publish.rsync_argv('/c/internal_repo/r', target)[-1] == 'admin@[fd00::2]:/var/lib/lago parts/two/'


def test_itemized_output_says_what_changed():
    output = '\n'.join([
        'cd+++++++++ internal_repo/',
        'cd+++++++++ internal_repo/internal/',
        '>f+++++++++ internal_repo/internal/Packages',
        '>f.st...... internal_repo/internal/Release',
        '.f...p..... internal_repo/internal/a.deb',
        '*deleting   internal_repo/internal/old.deb',
        '.d          internal_repo/internal/',
        'sending incremental file list',
        '',
    ])
    assert repo_publish.parse_itemized(output) == {
        'added': ['internal_repo/', 'internal_repo/internal/', 'internal_repo/internal/Packages'],
        'updated': ['internal_repo/internal/Release', 'internal_repo/internal/a.deb'],
        'deleted': ['internal_repo/internal/old.deb'],
    }
    assert repo_publish.parse_itemized('') == {'added': [], 'updated': [], 'deleted': []}
