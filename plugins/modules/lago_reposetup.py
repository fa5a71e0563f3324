#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: lago_reposetup
short_description: Build a prefix's internal package repository (Lago's ovirt reposetup)
version_added: 0.1.0
description:
  - Builds C(<prefix>/internal_repo/<name>/), the package repository the
    prefix's VMs install from during deploy.
  - Sources are sections of a yum C(.repo) file, synchronized with
    C(dnf reposync) (newest versions only) into a download cache shared by
    every prefix on the host, one lock per section; and local directories of
    C(.rpm) and C(.deb) files.
  - Packages are merged flat into the repository directory (hard links where
    possible, copies otherwise). C(createrepo_c) indexes the C(.rpm) files
    (C(repodata/)); C(dpkg-scanpackages) indexes the C(.deb) files as a flat
    apt repository (C(Packages), C(Packages.gz), C(Release)), used as
    C(deb [trusted=yes] http://<gateway>:8585/<name>/ ./).
  - Rebuilding from the same packages (same names and sha256) changes nothing.
  - Only packages are synchronized; the metadata is written anew, so groups
    (comps) and modular metadata of the source repositories are not carried over.
  - Synchronizing apt sources (a Debian mirror) is not supported; put the
    C(.deb) files in a directory given in O(local_deb_dirs).
  - Serve the result with M(lago.lago.lago_reposerver).
  - On the controller of a multi-host prefix (docs/MULTIHOST.md) the repository is built there as
    on one host, then copied with C(rsync) over ssh into the part of the prefix on the first
    hypervisor of the management net (the one holding its gateway), at
    C(<part>/internal_repo/<name>/), logging in with that hypervisor's recorded key and
    C(known_hosts) (strict host keys). C(--delete) acts on that directory only. Serve it there
    with M(lago.lago.lago_reposerver) delegated to that hypervisor (RV(served_by)), O(lago.lago.lago_reposerver#module:prefix)
    set to RV(served_prefix). The hypervisor needs C(rsync).
author:
  - Lago developers (@lago-project)
extends_documentation_fragment:
  - lago.lago.lago.attributes
  - lago.lago.lago.group_libvirt_uri
  - lago.lago.lago.group_template_store
  - lago.lago.lago.group_lease_dir
attributes:
  check_mode:
    details: Nothing is downloaded in check mode; the prediction uses the packages the sync cache already holds.
options:
  prefix:
    description:
      - Path of the prefix directory. It must exist.
    type: path
    required: true
  name:
    description:
      - Name of the repository, the directory under C(<prefix>/internal_repo/)
        and the last part of its URL.
    type: str
    default: internal
  repo_file:
    description:
      - A yum C(.repo) file whose sections are synchronized with C(dnf reposync).
      - Needs no system yum or dnf configuration.
    type: path
  sections:
    description:
      - The sections of O(repo_file) to synchronize.
      - By default every enabled section (C(enabled) missing or true).
    type: list
    elements: str
  local_rpm_dirs:
    description:
      - Directories searched (recursively) for C(.rpm) files to add.
      - A missing directory or one without any C(.rpm) file is an error.
    type: list
    elements: path
    default: []
  local_deb_dirs:
    description:
      - Directories searched (recursively) for C(.deb) files to add.
      - A missing directory or one without any C(.deb) file is an error.
    type: list
    elements: path
    default: []
  reposync_dir:
    description:
      - The download cache shared by the prefixes of this host; each section
        is kept in C(<reposync_dir>/<section>-<hash>/).
    type: path
    default: /var/lib/lago/reposync
  flavour:
    description:
      - Which indexes to build.
      - V(auto) builds the rpm index when O(repo_file) or O(local_rpm_dirs) is
        given and the apt index when O(local_deb_dirs) is given.
      - V(both) builds both, an index possibly empty.
    type: str
    choices: [auto, rpm, deb, both]
    default: auto
  releasever:
    description:
      - Value of C($releasever) for dnf (it cannot guess it on a host that is
        not Fedora/EL). Required when a chosen section uses C($releasever).
    type: str
  arch:
    description:
      - Architecture to synchronize for (dnf's C(--forcearch)); the host's by default.
    type: str
  sync_timeout:
    description:
      - Seconds one section's C(dnf reposync) may take.
    type: int
    default: 3600
  gateway:
    description:
      - IP address the VMs reach the repository server at (the management network's
        gateway). When given, the result carries the URLs the VMs use.
      - It and O(port) are checked before anything is built.
    type: str
  port:
    description:
      - Port of the repository server, for the URLs in the result.
    type: int
    default: 8585
  build:
    description:
      - V(false) builds nothing and only copies the repository already built on the controller to
        the hypervisor that serves it, on a multi-host prefix only (the deploy of an existing lab
        makes sure the hypervisor has it). The source options are then ignored.
    type: bool
    default: true
requirements:
  - createrepo_c (rpm flavour)
  - dnf with dnf-plugins-core (with O(repo_file))
  - dpkg-scanpackages from dpkg-dev (deb flavour)
  - rsync and ssh on the controller and rsync on the hypervisors (a multi-host prefix)
seealso:
  - module: lago.lago.lago_reposerver
'''

EXAMPLES = r'''
- name: Merge a synced repository and local packages into the prefix
  lago.lago.lago_reposetup:
    prefix: /var/lib/lago/prefixes/lab
    repo_file: /etc/lago/ovirt.repo
    sections: [ovirt-master-snapshot]
    releasever: "9"
    local_rpm_dirs: [/srv/build/rpms]
    local_deb_dirs: [/srv/build/debs]
    gateway: 192.168.200.1
  register: repo

- name: Show the apt source line the VMs use
  ansible.builtin.debug:
    msg: "{{ repo.apt_source }}"

- name: Copy the repository a multi-host lab already has to the hypervisor that serves it
  lago.lago.lago_reposetup:
    prefix: /var/lib/lago/prefixes/lab
    build: false
  register: repo

- name: Serve it there, on the management net's gateway
  lago.lago.lago_reposerver:
    prefix: "{{ repo.served_prefix }}"
    bind: "{{ repo.gateway }}"
  delegate_to: "{{ repo.served_by }}"
'''

RETURN = r'''
path:
  description: The repository directory.
  returned: always
  type: str
  sample: /var/lib/lago/prefixes/lab/internal_repo/internal
name:
  description: The repository name.
  returned: always
  type: str
  sample: internal
flavours:
  description: The indexes the repository has.
  returned: always
  type: list
  elements: str
  sample: [deb, rpm]
rpm_packages:
  description: File names of the C(.rpm) packages in the repository.
  returned: when O(build) is true
  type: list
  elements: str
  sample: [lago-hello-1.0-1.noarch.rpm]
deb_packages:
  description: File names of the C(.deb) packages in the repository.
  returned: when O(build) is true
  type: list
  elements: str
  sample: [lago-hello_1.0_all.deb]
checksums:
  description: The sha256 of every package, by file name.
  returned: when O(build) is true
  type: dict
  sample: {lago-hello_1.0_all.deb: 0bf78dccf68ed7da7c0d088f7c9f21d121cb8e8b411f66357028ebd208c1a6d6}
added:
  description: Packages added by this run (or that would be, in check mode).
  returned: when O(build) is true
  type: list
  elements: str
removed:
  description: Packages removed by this run.
  returned: when O(build) is true
  type: list
  elements: str
updated:
  description: Packages whose content was replaced by this run.
  returned: when O(build) is true
  type: list
  elements: str
reindexed:
  description: Indexes rebuilt (or removed) by this run.
  returned: when O(build) is true
  type: list
  elements: str
  sample: [rpm]
synced:
  description: For each synchronized section, its cache directory and packages.
  returned: when O(build) is true
  type: dict
  sample: {ovirt: {path: /var/lib/lago/reposync/ovirt-0123456789ab, packages: [a-1-1.noarch.rpm]}}
url:
  description: The repository's URL for the VMs.
  returned: when O(gateway) is given
  type: str
  sample: http://192.168.200.1:8585/internal/
yum_repo:
  description: A C(.repo) file for the VMs (rpm flavour).
  returned: when O(gateway) is given and the rpm index is built
  type: str
apt_source:
  description: An apt source line for the VMs (deb flavour).
  returned: when O(gateway) is given and the apt index is built
  type: str
  sample: deb [trusted=yes] http://192.168.200.1:8585/internal/ ./
gateway:
  description: The address of the URLs, O(gateway) or, on a multi-host prefix, the management net's gateway.
  returned: when O(gateway) is given or the prefix is a multi-host controller
  type: str
  sample: 192.168.200.1
served_by:
  description: The hypervisor the repository was copied to, which serves it (a multi-host prefix).
  returned: when the prefix is a multi-host controller
  type: str
  sample: hv1
served_prefix:
  description: That hypervisor's part of the prefix (the O(lago.lago.lago_reposerver#module:prefix) to serve it with).
  returned: when the prefix is a multi-host controller
  type: str
  sample: /var/lib/lago/prefixes/lab
served_path:
  description: The repository directory on that hypervisor.
  returned: when the prefix is a multi-host controller
  type: str
  sample: /var/lib/lago/prefixes/lab/internal_repo/internal
published:
  description:
    - What the copy to that hypervisor changed (or would, in check mode), from rsync's itemized
      output, paths relative to the part.
  returned: when the prefix is a multi-host controller
  type: dict
  sample: {added: [internal_repo/internal/Packages], updated: [], deleted: []}
'''

import os

from ansible_collections.lago.lago.plugins.module_utils import repo_publish
from ansible_collections.lago.lago.plugins.module_utils._runtime import run_module
from ansible_collections.lago.lago.plugins.module_utils.errors import RepoError
from ansible_collections.lago.lago.plugins.module_utils.repo_setup import reposetup
from ansible_collections.lago.lago.plugins.module_utils.repo_sync import DEFAULT_REPOSYNC_DIR
from ansible_collections.lago.lago.plugins.module_utils.repos import DEFAULT_PORT, DEFAULT_REPO_NAME, check_gateway, repo_path, repo_urls

ARGUMENT_SPEC = dict(
    prefix=dict(type='path', required=True),
    name=dict(type='str', default=DEFAULT_REPO_NAME),
    repo_file=dict(type='path'),
    sections=dict(type='list', elements='str'),
    local_rpm_dirs=dict(type='list', elements='path', default=[]),
    local_deb_dirs=dict(type='list', elements='path', default=[]),
    reposync_dir=dict(type='path', default=DEFAULT_REPOSYNC_DIR),
    flavour=dict(type='str', default='auto', choices=['auto', 'rpm', 'deb', 'both']),
    releasever=dict(type='str'),
    arch=dict(type='str'),
    sync_timeout=dict(type='int', default=3600),
    gateway=dict(type='str'),
    port=dict(type='int', default=DEFAULT_PORT),
    build=dict(type='bool', default=True),
)


def _build(run):
    params = run.params
    result = reposetup(
        params['prefix'], name=params['name'], repo_file=params['repo_file'],
        sections=params['sections'], local_rpm_dirs=params['local_rpm_dirs'],
        local_deb_dirs=params['local_deb_dirs'], reposync_dir=params['reposync_dir'],
        flavour=params['flavour'], releasever=params['releasever'], arch=params['arch'],
        sync_timeout=params['sync_timeout'], check_mode=run.check_mode)
    for warning in result.pop('warnings'):
        run.warn(warning)
    diff = result.pop('diff')
    # One line per package: a diff shows each package added or removed on its own line.
    run.track('packages', diff['before'].splitlines(), diff['after'].splitlines(), changed=result.pop('changed'))
    return result


def execute(run):
    params = run.params
    if params['gateway']:
        check_gateway(params['gateway'], params['port'])  # before anything is built
    state, target = repo_publish.target_of(params['prefix'], params['name'])  # before too
    source = repo_path(params['prefix'], params['name'])
    if target is not None:
        repo_publish.check_part(state, target)  # a part missing or out of reach: before anything is built
    if params['build']:
        result = _build(run)
    elif target is None:
        raise RepoError('build=false copies the repository to the hypervisor of a multi-host prefix, but %s is %s'
                        % (params['prefix'], 'a single-host prefix' if state else 'no prefix'))
    else:
        # check mode: a repository a checked build before it would have made is not there yet
        flavours = [] if run.check_mode and not os.path.isdir(source) else repo_publish.built_flavours(source)
        result = dict(path=source, name=params['name'], flavours=flavours)
    gateway = params['gateway']
    if target is not None:
        published = repo_publish.publish(state, target, source, check_mode=run.check_mode, part_checked=True)
        diff = published.pop('diff')
        run.track('published', diff['before'], diff['after'], changed=published.pop('changed'))
        result.update(served_by=target.hypervisor, served_prefix=target.part, served_path=target.path,
                      published=published)
        gateway = gateway or target.gateway
    if gateway:
        result.update(repo_urls(gateway, params['name'], params['port'], result['flavours']), gateway=gateway)
    return result


def main():
    run_module(ARGUMENT_SPEC, execute,
               required_by={'sections': 'repo_file', 'releasever': 'repo_file', 'arch': 'repo_file'})


if __name__ == '__main__':
    main()
