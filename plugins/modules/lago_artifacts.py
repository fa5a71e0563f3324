#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: lago_artifacts
short_description: Pack a VM's artifacts into one gzip tarball, on the VM
version_added: 0.1.0
description:
  - The VM side of Lago's C(collect), used by the C(lago.lago.collect) role; it runs
    on the VM (a host of the P(lago.lago.lago#inventory) inventory), not on the
    libvirt host.
  - Writes the given files and directories into one gzip-compressed tarball, each
    as a top-level member named as Lago names a collected path - the path with
    every C(/) replaced by C(_) (C(/var/log) becomes C(_var_log),
    C(/var/log/x.log) becomes C(_var_log_x.log)). Fetch the tarball and extract it
    into C(<output>/<vm>/) for Lago's layout.
  - A path that does not exist is a warning, or an error with O(strict=true).
    A file that cannot be read, or disappears while the tarball is written, is
    a warning; the rest is archived.
  - Directories are archived with all they hold; symbolic links inside them are
    archived as links, a link given as an artifact itself is followed.
author:
  - Lago developers (@lago-project)
options:
  paths:
    description: Absolute paths of files and directories on the VM.
    type: list
    elements: path
    required: true
  dest:
    description:
      - The tarball to write on the VM (replaced if it exists).
      - By default a new file C(lago-artifacts-*.tar.gz) in O(tmp_dir).
    type: path
  tmp_dir:
    description: The directory of the default O(dest).
    type: path
    default: /var/tmp
  strict:
    description: Fail, writing nothing, when a path does not exist.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Reports what would be archived and missing; writes nothing.
  diff_mode:
    support: full
    description: Shows the archive written and its members.
  idempotent:
    support: none
    description: Every run writes a new archive (reported as a change).
requirements:
  - Python 3 on the VM (standard library only)
seealso:
  - module: ansible.builtin.fetch
'''

EXAMPLES = r'''
- name: Pack the VM's logs and configuration
  lago.lago.lago_artifacts:
    paths: [/var/log, /etc/ovirt-engine]
  register: artifacts

- name: Bring them to the host
  ansible.builtin.fetch:
    src: "{{ artifacts.dest }}"
    dest: "collected/{{ inventory_hostname }}.tar.gz"
    flat: true
'''

RETURN = r'''
dest:
  description: The tarball written (the one that would be written, in check mode).
  returned: success
  type: str
  sample: /var/tmp/lago-artifacts-k2j3h4.tar.gz
archived:
  description: The paths archived, each with its member name.
  returned: success
  type: list
  elements: dict
  sample: [{path: /var/log, name: _var_log}]
missing:
  description: The paths that do not exist on the VM.
  returned: success
  type: list
  elements: str
  sample: [/etc/ovirt-engine]
issues:
  description: Files met in the archived paths that could not be read in full.
  returned: success
  type: list
  elements: dict
  sample: [{path: /var/log/private/x, issue: "not archived: Permission denied"}]
size:
  description: Bytes of the tarball (0 in check mode).
  returned: success
  type: int
'''

import os
import tempfile

from ansible_collections.lago.lago.plugins.module_utils import artifacts
from ansible_collections.lago.lago.plugins.module_utils._runtime import run_module
from ansible_collections.lago.lago.plugins.module_utils.errors import LagoError

ARGUMENT_SPEC = dict(
    paths=dict(type='list', elements='path', required=True),
    dest=dict(type='path'),
    tmp_dir=dict(type='path', default='/var/tmp'),
    strict=dict(type='bool', default=False),
)


def execute(run):
    params = run.params
    entries, missing = artifacts.plan(params['paths'])
    if missing and params['strict']:
        raise LagoError('artifact paths missing on the VM: %s' % ', '.join(missing))
    for path in missing:
        run.warn('artifact path %s does not exist on the VM; not collected' % path)
    archived = [dict(path=path, name=name) for path, name in entries]
    result = dict(archived=archived, missing=missing, issues=[], size=0,
                  dest=params['dest'] or os.path.join(params['tmp_dir'], 'lago-artifacts-XXXXXX.tar.gz'))
    if not run.check_mode:
        if params['dest'] is None:
            handle, result['dest'] = tempfile.mkstemp(prefix='lago-artifacts-', suffix='.tar.gz', dir=params['tmp_dir'])
            os.close(handle)
        result['issues'] = artifacts.write_archive(result['dest'], entries)
        result['size'] = os.path.getsize(result['dest'])
    for issue in result['issues']:
        run.warn('artifact %s: %s' % (issue['path'], issue['issue']))
    # Every run writes a new archive.
    run.track('archive', None, dict(dest=result['dest'], members=[item['name'] for item in archived]), changed=True)
    return result


def main():
    run_module(ARGUMENT_SPEC, execute, group=False)


if __name__ == '__main__':
    main()
