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
'''

from ansible_collections.lago.lago.plugins.module_utils import template_repo, template_store
from ansible_collections.lago.lago.plugins.module_utils._runtime import TEMPLATE_ARGS, run_module

ARGUMENT_SPEC = dict(template=dict(type='str'), **TEMPLATE_ARGS)


def execute(run):
    template = run.params['template']
    repository = None
    if run.params['template_repo']:
        repository = template_repo.load_repository(run.params['template_repo']).describe(template)
    listing = template_store.list_store(run.params['template_store'])
    store = [entry for entry in listing['entries'] if not template or entry['template'] == template]
    return dict(repository=repository, store=store, downloading=listing['downloading'])


def main():
    run_module(ARGUMENT_SPEC, execute)


if __name__ == '__main__':
    main()
