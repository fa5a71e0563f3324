#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: lago_disk
short_description: A VM disk as Lago makes them, thin qcow2 layers on cached templates
version_added: 0.1.0
description:
  - Creates, grows, removes and exports one disk image with C(qemu-img).
  - O(type=template) fetches a template version into the store (once, however many
    tasks ask at the same time) and creates a thin qcow2 overlay on it.
    O(type=file) makes an overlay on a plain O(backing_file), or, without one, uses
    the existing image at O(path) as it is. O(type=empty) creates a blank disk.
  - An existing disk that matches the request is left alone. A larger O(size) grows it;
    a smaller one is refused. One that differs in format, backing file or type is an
    error that names each difference, unless O(force) replaces it.
  - O(state=exported) is Lago's export; a layered export keeps only the disk's own layer,
    rebased onto C(./<template>:<version>), a standalone one is a single flattened image.
    Both write C(<dest>.hash) (sha1) and C(<dest>.metadata) beside the copy.
author:
  - Lago developers (@lago-project)
extends_documentation_fragment:
  - lago.lago.lago
  - lago.lago.lago.templates
  - lago.lago.lago.attributes
  - lago.lago.lago.group_libvirt_uri
  - lago.lago.lago.group_lease_dir
options:
  path:
    description:
      - Path of the disk image. Its directory must exist.
    type: path
    required: true
  state:
    description:
      - V(present) makes the disk exist as asked, V(absent) removes the image file.
      - V(absent) removes only an image this module made (or exported) - it records that beside
        the image, in C(<path>.lago_disk), and removes that record (and an export's C(.hash) and
        C(.metadata)) with it. Any other file at O(path) is left alone and the task fails naming
        it; remove such a file with M(ansible.builtin.file).
      - V(exported) copies it to O(dest) (the disk itself is not changed).
    type: str
    choices: [present, absent, exported]
    default: present
  type:
    description:
      - Where the disk comes from (Lago's disk C(type)).
      - Defaults to V(template) when O(template) is given, V(file) when O(backing_file)
        is given, and V(empty) otherwise.
    type: str
    choices: [empty, template, file]
  size:
    description:
      - Virtual size, in bytes or with a binary suffix (V(10G), V(512M), V(1.5G)).
      - Required for a new O(type=empty) disk; an overlay defaults to its backing
        file's size and may only be larger.
    type: str
  format:
    description:
      - Image format of the disk (and of the exported copy). Overlays are always V(qcow2).
      - Defaults to V(qcow2), or to what an existing O(type=file) image without
        O(backing_file) already is.
    type: str
    choices: [qcow2, raw]
  preallocation:
    description:
      - Preallocation mode of a new disk (C(qemu-img create -o preallocation)).
    type: str
    choices: ['off', metadata, falloc, full]
  template:
    description:
      - Name of the template in O(template_repo) (Lago's C(template_name)).
    type: str
  template_version:
    description:
      - Version of O(template); the one with the greatest timestamp when not given.
    type: str
  backing_file:
    description:
      - A plain image to build a thin overlay on (O(type=file)). It must exist.
    type: path
  backing_format:
    description:
      - Format of O(backing_file); detected with C(qemu-img info) when not given.
    type: str
    choices: [qcow2, raw]
  owner:
    description:
      - Path of the C(uuid) file of the prefix the disk belongs to. For a template
        disk it is recorded in the store entry's C(.users), so the store knows the
        version is in use while that prefix exists (see M(lago.lago.lago_template)).
      - Ignored, with a warning, for other disk types.
    type: path
  force:
    description:
      - Replace an existing disk that differs from the request (its content is lost),
        or overwrite an O(dest) that is not an export of this disk.
      - Shrinking is refused even with O(force).
    type: bool
    default: false
  dest:
    description:
      - Where O(state=exported) writes the copy; a directory receives a file named as the disk.
    type: path
  standalone:
    description:
      - Export a single flattened image instead of the disk's own layer on its template.
    type: bool
    default: false
  compress:
    description:
      - Compress the exported image with qcow2's own compression (it stays usable as it is).
    type: bool
    default: false
  metadata:
    description:
      - Extra keys for the exported C(.metadata), on top of the template's metadata.
    type: dict
    default: {}
notes:
  - The disk is changed offline with C(qemu-img); do not change the disk of a running VM.
  - Each image the module makes gets C(<path>.lago_disk) beside it, the record that it made
    that very file (by device and inode); O(state=absent) needs it.
  - An image a lago prefix records (a VM's disk, a snapshot layer, in the prefix's C(images/))
    is refused in every state; change it with M(lago.lago.lago_prefix) or M(lago.lago.lago_snapshot).
  - An export is up to date (and left alone) while the disk has not changed since it was
    made with the same O(standalone), O(compress), O(format) and O(metadata).
seealso:
  - module: lago.lago.lago_template
  - module: lago.lago.lago_template_info
'''

EXAMPLES = r'''
- name: A 20G root disk on the latest debian12 template, used by a prefix
  lago.lago.lago_disk:
    path: /srv/lab/.lago/default/images/vm01_root.qcow2
    template: debian12
    template_repo: https://templates.example.com/repo.json
    template_store: /var/lib/lago/store
    owner: /srv/lab/.lago/default/uuid
    size: 20G

- name: An empty 10G data disk
  lago.lago.lago_disk:
    path: /srv/lab/.lago/default/images/vm01_data.qcow2
    type: empty
    size: 10G

- name: A thin overlay on a local image
  lago.lago.lago_disk:
    path: /srv/lab/scratch.qcow2
    backing_file: /srv/images/golden.qcow2

- name: Export the disk as a standalone compressed image
  lago.lago.lago_disk:
    path: /srv/lab/.lago/default/images/vm01_root.qcow2
    state: exported
    dest: /srv/exports/
    standalone: true
    compress: true
    metadata:
      distro: debian

- name: Remove it
  lago.lago.lago_disk:
    path: /srv/lab/.lago/default/images/vm01_data.qcow2
    state: absent
'''

RETURN = r'''
path:
  description: The disk's path.
  returned: always
  type: str
  sample: /srv/lab/.lago/default/images/vm01_root.qcow2
action:
  description:
    - What the task did (or would do in check mode) to the disk itself.
  returned: always
  type: str
  sample: created
  choices: [created, replaced, grown, removed, exported, none]
disk:
  description:
    - The disk as it is after the task (as it would be, in check mode); empty when absent.
  returned: always
  type: dict
  contains:
    format:
      description: Image format.
      type: str
      sample: qcow2
    size:
      description: Virtual size in bytes.
      type: int
      sample: 21474836480
    backing_file:
      description: Absolute path of the backing file, or null.
      type: str
      sample: /var/lib/lago/store/lab:debian12:v2
template:
  description: The store entry a template disk sits on.
  returned: when O(type=template)
  type: dict
  contains:
    name:
      description: Store entry name, C(<repo>:<template>:<version>).
      type: str
      sample: lab:debian12:v2
    path:
      description: Path of the template image in the store.
      type: str
    hash:
      description: The image's hash (sha1 hex, or C(sha256:<hex>)).
      type: str
    metadata:
      description: The template's metadata.
      type: dict
    downloaded:
      description: Whether this task fetched it into the store.
      type: bool
export:
  description: The exported copy.
  returned: when O(state=exported)
  type: dict
  contains:
    dest:
      description: Path of the exported image.
      type: str
      sample: /srv/exports/vm01_root.qcow2
    hash:
      description: sha1 of the exported image (also in C(<dest>.hash)).
      type: str
    metadata:
      description: What C(<dest>.metadata) holds.
      type: dict
'''

from ansible_collections.lago.lago.plugins.module_utils import disk, disk_export, qemu_img
from ansible_collections.lago.lago.plugins.module_utils._runtime import TEMPLATE_ARGS, run_module
from ansible_collections.lago.lago.plugins.module_utils.rollback import Rollback

ARGUMENT_SPEC = dict(
    path=dict(type='path', required=True),
    state=dict(type='str', choices=['present', 'absent', 'exported'], default='present'),
    type=dict(type='str', choices=list(disk.DISK_TYPES)),
    size=dict(type='str'),
    format=dict(type='str', choices=list(qemu_img.FORMATS)),
    preallocation=dict(type='str', choices=list(qemu_img.PREALLOCATION_MODES)),
    template=dict(type='str'),
    template_version=dict(type='str'),
    backing_file=dict(type='path'),
    backing_format=dict(type='str', choices=list(qemu_img.FORMATS)),
    owner=dict(type='path'),
    force=dict(type='bool', default=False),
    dest=dict(type='path'),
    standalone=dict(type='bool', default=False),
    compress=dict(type='bool', default=False),
    metadata=dict(type='dict', default={}),
    **TEMPLATE_ARGS
)


def execute(run):
    params = run.params
    if params['state'] == 'absent':
        return run.carry_out(disk.plan_absent(params['path']))
    if params['state'] == 'exported':
        return run.carry_out(disk_export.plan_export(params['path'], params['dest'], params['standalone'],
                                                     params['compress'], params['format'], params['metadata'],
                                                     params['force']))
    with Rollback() as undo:
        use, make = disk.plan_present(params, undo=undo, warn=run.warn)
        values = dict(template=run.carry_out(use)) if use else {}
        values.update(run.carry_out(make))
        undo.commit()
    return values


def main():
    run_module(ARGUMENT_SPEC, execute, required_if=[('state', 'exported', ['dest'])],
               mutually_exclusive=[('template', 'backing_file')])


if __name__ == '__main__':
    main()
