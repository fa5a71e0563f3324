#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: lago_template_info
short_description: List the templates of a repository and of the local store
version_added: 0.1.0
description:
  - Reads a template repository in Lago's format (its templates, versions and the
    latest of each) and the local template store (each entry with its hash, metadata
    and the prefixes recorded as its users, live or not).
  - With O(init_file), also the store entries that init file's template disks need
    (RV(needed)), so that a playbook can fetch them as tasks of their own before init.
  - With O(downloads), the progress of those entries' downloads (RV(downloads)), as the
    fetches write it; O(wait) first waits while they run. The playbooks fetch templates
    in the background (C(async)) and show this while they wait (docs/FLOW.md).
  - Changes nothing.
author:
  - Lago developers (@lago-project)
extends_documentation_fragment:
  - lago.lago.lago
  - lago.lago.lago.templates
  - lago.lago.lago.info_attributes
  - lago.lago.lago.group_libvirt_uri
  - lago.lago.lago.group_lease_dir
options:
  template:
    description:
      - Only list this template.
    type: str
  init_file:
    description:
      - A LagoInitFile; RV(needed) lists the store entries its template disks take from
        O(template_repo) (the latest version when a disk names none).
    type: path
  prefix_path:
    description:
      - The prefix O(init_file) is for, which C($LAGO_PREFIX_PATH) in its paths means.
    type: path
  downloads:
    description:
      - Store entry names (C(<repo>:<template>:<version>)) whose fetch progress to return.
    type: list
    elements: str
  wait:
    description:
      - Seconds to wait first while one of O(downloads) is downloading or not started yet;
        returns as soon as none is.
    type: float
    default: 0
notes:
  - Without O(template_repo) only the store is listed.
seealso:
  - module: lago.lago.lago_template
'''

EXAMPLES = r'''
- name: What the repository offers and what the store holds
  lago.lago.lago_template_info:
    template_repo: https://templates.example.com/repo.json
    template_store: /var/lib/lago/store
  register: info

- name: Store entries no live prefix uses (candidates for pruning)
  ansible.builtin.debug:
    msg: "{{ info.store | rejectattr('in_use') | map(attribute='name') }}"
'''

RETURN = r'''
repository:
  description: The repository, or null without O(template_repo).
  returned: always
  type: dict
  contains:
    name:
      description: The repository's name.
      type: str
      sample: lab
    location:
      description: Where it was read from.
      type: str
    sources:
      description: Its sources as written in the JSON.
      type: dict
    templates:
      description:
        - Per template, its C(versions) (C(source), C(handle), C(timestamp) each) and
          the C(latest) version.
      type: dict
      sample: {debian12: {latest: v2, versions: {v1: {source: web, handle: debian12/v1, timestamp: 1700000000}}}}
store:
  description: The complete entries of the store.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: C(<repo>:<template>:<version>).
      type: str
    repo:
      description: Repository name.
      type: str
    template:
      description: Template name.
      type: str
    version:
      description: Version.
      type: str
    path:
      description: Path of the image.
      type: str
    hash:
      description: Its hash.
      type: str
    metadata:
      description: Its metadata.
      type: dict
    size:
      description: Size of the image file in bytes.
      type: int
    users:
      description: Prefixes recorded as users; C(live) while their uuid file still holds C(uuid).
      type: list
      elements: dict
      sample: [{path: /srv/lab/.lago/default/uuid, uuid: 0a1b..., live: true}]
    in_use:
      description: Whether a live prefix uses it.
      type: bool
downloading:
  description: Store entries with a download in progress (or left by one that was killed).
  returned: always
  type: list
  elements: str
needed:
  description: The store entries the template disks of O(init_file) need, each once.
  returned: when O(init_file) is given
  type: list
  elements: dict
  contains:
    name:
      description: The store entry name.
      type: str
      sample: lab:debian12:v2
    template:
      description: Template name.
      type: str
    version:
      description: The version (the latest when the disk names none).
      type: str
    stored:
      description: Whether the store holds it already.
      type: bool
downloads:
  description: The fetch progress of each of O(downloads), in that order.
  returned: when O(downloads) is given
  type: list
  elements: dict
  contains:
    name:
      description: The store entry name.
      type: str
    state:
      description:
        - V(stored) (in the store, nothing running), V(downloading), V(killed) (its process is gone)
          or V(missing) (no download running - not started yet, or failed).
      type: str
    received:
      description: Bytes received so far (compressed bytes for an C(.xz) image).
      type: int
    total:
      description: Bytes expected, when the source said.
      type: int
    percent:
      description: Percent received, when the total is known.
      type: int
    attempt:
      description: The attempt (1, then 2... after a broken connection).
      type: int
    note:
      description: The last retry, and why.
      type: str
'''

from ansible_collections.lago.lago.plugins.module_utils import template_progress, template_repo, template_store
from ansible_collections.lago.lago.plugins.module_utils import spec_normalize as specs
from ansible_collections.lago.lago.plugins.module_utils._runtime import TEMPLATE_ARGS, run_module
from ansible_collections.lago.lago.plugins.module_utils.errors import TemplateError

ARGUMENT_SPEC = dict(template=dict(type='str'), init_file=dict(type='path'), prefix_path=dict(type='path'),
                     downloads=dict(type='list', elements='str'), wait=dict(type='float', default=0),
                     **TEMPLATE_ARGS)


def execute(run):
    params = run.params
    template, store_path = params['template'], params['template_store']
    result = {}
    if params['downloads'] is not None:
        result['downloads'] = template_progress.downloads(store_path, params['downloads'], wait=params['wait'])
    repo = template_repo.load_repository(params['template_repo']) if params['template_repo'] else None
    if params['init_file']:
        if repo is None:
            raise TemplateError('init_file needs template_repo, the repository its template disks come from')
        result['needed'] = template_progress.templates_needed(
            specs.load_init_file(params['init_file'], prefix_path=params['prefix_path']), repo, store_path)
    listing = template_store.list_store(store_path)
    store = [entry for entry in listing['entries'] if not template or entry['template'] == template]
    return dict(result, repository=repo.describe(template) if repo else None, store=store,
                downloading=listing['downloading'])


def main():
    run_module(ARGUMENT_SPEC, execute)


if __name__ == '__main__':
    main()
