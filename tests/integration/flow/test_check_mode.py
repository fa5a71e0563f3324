# -*- coding: utf-8 -*-
"""Check mode of the flows on a prefix that does not exist yet: ``--check`` of
site, init and start succeeds, reports what a real run would change, and makes
nothing - no prefix directory, no lease, no store entry, no libvirt object.

Run as a user runs them: from a directory holding the init file, every path
relative to it."""

from __future__ import absolute_import, division, print_function

import os
import pathlib

import pytest

from labrun import playbook, user_dir_with_demo
from prefixlib import libvirt_objects

pytestmark = [pytest.mark.lab]

USER_FILES = ['LagoInitFile', 'deploy.sh', 'debs']


@pytest.fixture
def user_dir(tmp_path):
    work = pathlib.Path(user_dir_with_demo(tmp_path))
    (work / 'debs').mkdir()
    return str(work)


@pytest.fixture
def check_vars(lab_template_repo):
    """The verbs' variables, every host path relative to the user's directory."""
    return dict(lago_prefix_path='lab', lago_init_file='LagoInitFile', lago_template_repo=lab_template_repo,
                lago_template_store='store', lago_lease_dir='leases', lago_virt_type='qemu')


def check_run(name, extra, work, *args):
    before = set(libvirt_objects(''))
    result = playbook(name, extra, '--check', *args, cwd=work).check()
    assert sorted(os.listdir(work)) == sorted(USER_FILES), 'check mode made files: %s' % os.listdir(work)
    assert sorted(set(libvirt_objects('')) - before) == [], 'check mode made libvirt objects'
    return result


def test_init_check_reports_the_nets_and_vms_it_would_add(user_dir, check_vars):
    init = check_run('init', check_vars, user_dir, '-v')
    assert init.changed() == 1, init.stdout
    for wanted in ('"nets": {"added": ["lab"]', '"vms": {"added": ["db01", "web01"]'):
        assert wanted in init.stdout, (wanted, init.stdout)


def test_start_check_on_a_new_prefix_reports_the_vms_it_would_start(user_dir, check_vars):
    start = check_run('start', dict(check_vars, lago_vms=['web01']), user_dir)
    assert start.changed() >= 1, start.stdout
    assert ('check mode: %s does not exist yet; once init has made it from %s, start would start its nets '
            'and the VMs web01 and wait for SSH' % (os.path.join(user_dir, 'lab'), os.path.join(user_dir, 'LagoInitFile'))
            in start.stdout), start.stdout


def test_site_check_on_a_new_prefix_predicts_the_run(user_dir, check_vars):
    site = check_run('site', dict(check_vars, lago_collect_output='collected', reposetup_local_deb_dirs=['debs']),
                     user_dir)
    assert site.recap()['localhost']['failed'] == 0
    assert site.changed() >= 3, site.stdout  # init, reposetup and start
    for wanted in ('check mode: reposetup would build the internal repository of the new prefix from %s'
                   % os.path.join(user_dir, 'debs'),
                   'start would start its nets and the VMs db01, web01 and wait for SSH',
                   'check mode: %s does not exist yet, so there are no VMs to reach' % os.path.join(user_dir, 'lab')):
        assert wanted in site.stdout, (wanted, site.stdout[-4000:])
