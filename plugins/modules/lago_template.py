#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: lago_template
short_description: Disk templates in Lago's store, and publishing images into a repository
version_added: 0.1.0
description:
  - V(present) fetches a template version from a repository in Lago's format into the
    local store, C(<store>/<repo>:<template>:<version>) with C(.hash), C(.metadata) and
    C(.users) beside it. The image appears only after its hash matched; concurrent tasks
    fetching the same version download it once. Images are kept as they are (qcow2).
  - Like Lago, a provider tries C(<handle>.xz) before C(<handle>) and decompresses it
    while it streams.
  - V(absent) removes a version (or every stored version of the template) from the
    store, and refuses while its C(.users) lists a prefix that still exists.
  - V(published) copies a local image into a C(file) repository directory (image,
    C(.hash), C(.metadata)) and adds the version to the repository JSON, atomically
    and under a lock, so that a built or exported disk becomes a template.
author:
  - Lago developers (@lago-project)
extends_documentation_fragment:
  - lago.lago.lago
  - lago.lago.lago.templates
  - lago.lago.lago.attributes
  - lago.lago.lago.group_libvirt_uri
  - lago.lago.lago.group_lease_dir
options:
  template:
    description:
      - Name of the template.
    type: str
    required: true
  template_version:
    description:
      - The version. For V(present), the one with the greatest timestamp when not given;
        for V(absent), every stored version of the template when not given.
      - Required for V(published).
    type: str
  state:
    description:
      - V(present) fetches the version into the store, V(absent) removes it from the store.
      - V(published) publishes O(image) as this version into the repository O(template_repo),
        which must then be a local path (the JSON is created when missing).
    type: str
    choices: [present, absent, published]
    default: present
  force:
    description:
      - V(absent) removes versions that live prefixes still use.
      - V(published) replaces a version already published with another image.
    type: bool
    default: false
  image:
    description:
      - The local image to publish (V(published)).
    type: path
  repo_dir:
    description:
      - Directory that receives published images, as C(<repo_dir>/<template>/<version>).
      - Defaults to the directory of O(template_repo).
    type: path
  repo_name:
    description:
      - Name of a repository JSON that V(published) creates; defaults to the name of O(repo_dir).
    type: str
  source:
    description:
      - The source of the repository the published version refers to, e.g. an C(http) source
        whose base URL serves O(repo_dir).
      - Defaults to a C(file) source rooted at O(repo_dir), added when the repository has none.
    type: str
  metadata:
    description:
      - The published version's metadata (its C(.metadata) file); it must include C(distro).
    type: dict
  timestamp:
    description:
      - The published version's timestamp (seconds since the epoch), which decides which
        version is the latest. Defaults to now (a republished unchanged image keeps its own).
    type: int
  compress:
    description:
      - Publish the image compressed with xz, as C(<handle>.xz).
    type: bool
    default: false
  hash_algorithm:
    description:
      - Algorithm of the published C(.hash); V(sha1) is written as Lago's plain hex, V(sha256) as C(sha256:<hex>).
      - Whatever the algorithm, the version's entry in the repository JSON pins the image's sha256 too.
    type: str
    choices: [sha1, sha256]
    default: sha256
  sha256:
    description:
      - For V(present), pin the image to this sha256 (64 hex digits, C(sha256:) prefix allowed).
        It is checked instead of the C(.hash) the repository serves, at download and against the
        store's entry; a repository that pins another sha256 is an error.
    type: str
notes:
  - Removing a version does not check disks of prefixes that never recorded themselves
    as users (see O(lago.lago.lago_disk#module:owner)).
seealso:
  - module: lago.lago.lago_template_info
  - module: lago.lago.lago_disk
'''

EXAMPLES = r'''
- name: Fetch the latest debian12 into the store
  lago.lago.lago_template:
    template: debian12
    template_repo: https://templates.example.com/repo.json
    template_store: /var/lib/lago/store
  register: tpl

- name: Remove an old version unless a prefix still uses it
  lago.lago.lago_template:
    template: debian12
    template_version: v1
    template_repo: https://templates.example.com/repo.json
    state: absent

- name: Publish a freshly built image as a new version
  lago.lago.lago_template:
    template: debian12
    template_version: "20240601"
    template_repo: /srv/templates/repo.json
    image: /var/tmp/build/debian12.qcow2
    metadata:
      distro: debian
      root-password: lago
    compress: true
    state: published
'''

RETURN = r'''
name:
  description: The store entry name, C(<repo>:<template>:<version>).
  returned: when O(state=present)
  type: str
  sample: lab:debian12:v2
path:
  description:
    - V(present), the template image in the store; V(published), the image file in the repository.
  returned: when O(state) is V(present) or V(published)
  type: str
  sample: /var/lib/lago/store/lab:debian12:v2
version:
  description: The version fetched or published (the latest when none was given).
  returned: when O(state) is V(present) or V(published)
  type: str
  sample: v2
hash:
  description: The image's hash, sha1 hex or C(sha256:<hex>).
  returned: when O(state) is V(present) or V(published)
  type: str
metadata:
  description: The version's metadata.
  returned: when O(state) is V(present) or V(published)
  type: dict
  sample: {distro: debian}
downloaded:
  description: Whether this task downloaded the image (not in check mode).
  returned: when O(state=present)
  type: bool
removed:
  description: Store entries removed (or that would be, in check mode).
  returned: when O(state=absent)
  type: list
  elements: str
action:
  description: What publishing did.
  returned: when O(state=published)
  type: str
  choices: [created, replaced, updated, unchanged]
handle:
  description: The published version's handle in the repository.
  returned: when O(state=published)
  type: str
  sample: debian12/20240601
repository:
  description: Path of the repository JSON published into.
  returned: when O(state=published)
  type: str
'''

from ansible_collections.lago.lago.plugins.module_utils import template_publish, template_repo, template_store
from ansible_collections.lago.lago.plugins.module_utils._runtime import TEMPLATE_ARGS, run_module
from ansible_collections.lago.lago.plugins.module_utils.errors import TemplateError

ARGUMENT_SPEC = dict(
    template=dict(type='str', required=True),
    template_version=dict(type='str'),
    state=dict(type='str', choices=['present', 'absent', 'published'], default='present'),
    force=dict(type='bool', default=False),
    image=dict(type='path'),
    repo_dir=dict(type='path'),
    repo_name=dict(type='str'),
    source=dict(type='str'),
    metadata=dict(type='dict'),
    timestamp=dict(type='int'),
    compress=dict(type='bool', default=False),
    hash_algorithm=dict(type='str', choices=sorted(template_repo.HASH_ALGORITHMS), default='sha256'),
    sha256=dict(type='str'),
    **TEMPLATE_ARGS
)


def execute(run):
    params = run.params
    store, template, version = params['template_store'], params['template'], params['template_version']
    if params['state'] == 'published':
        if not params['template_repo']:
            raise TemplateError('state=published needs template_repo, the path of the repository JSON')
        return run.carry_out(template_publish.plan_publish(
            params['template_repo'], params['image'], template, version, params['metadata'],
            timestamp=params['timestamp'], compress=params['compress'], repo_dir=params['repo_dir'],
            repo_name=params['repo_name'], source=params['source'], hash_algorithm=params['hash_algorithm'],
            force=params['force']))
    repo = template_repo.load_repository(params['template_repo'])
    if params['state'] == 'present':
        wanted = repo.version(template, version)
        if params['sha256']:
            wanted.pin(params['sha256'], 'sha256')
        return run.carry_out(template_store.plan_use(store, wanted))
    plans = template_store.plan_removal(store, repo.name, template, version, force=params['force'])
    for plan in plans:
        run.carry_out(plan)
    return dict(removed=[plan.name for plan in plans])


def main():
    run_module(ARGUMENT_SPEC, execute,
               required_if=[('state', 'published', ['template_version', 'image', 'metadata'])])


if __name__ == '__main__':
    main()
