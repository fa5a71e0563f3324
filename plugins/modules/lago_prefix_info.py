#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: lago_prefix_info
short_description: Describe a Lago prefix and the live state of its VMs and nets
description:
  - Lago's C(status) - reads the prefix's state file and asks libvirt for the
    live state of every VM and net. Changes nothing.
version_added: 0.1.0
author: Lago developers (@lago-project)
options:
  path:
    description: The prefix directory.
    type: path
    required: true
extends_documentation_fragment:
  - lago.lago.lago.libvirt
  - lago.lago.lago.info_attributes
  - lago.lago.lago.group_template_store
  - lago.lago.lago.group_lease_dir
seealso:
  - module: lago.lago.lago_prefix
'''

EXAMPLES = r'''
- name: Lago's status
  lago.lago.lago_prefix_info:
    path: /var/lib/lago/prefixes/basic
  register: lab

- name: Show each VM's state and address
  ansible.builtin.debug:
    msg: "{{ item.key }}: {{ item.value.state }} at {{ item.value.address }}"
  loop: "{{ lab.prefix.vms | dict2items }}"
'''

RETURN = r'''
prefix:
  description: The prefix as lago.lago.lago_prefix returns it, with C(state) for every VM and net.
  returned: always
  type: dict
  sample:
    path: /var/lib/lago/prefixes/basic
    vms: {vm01: {address: 192.168.200.2, state: running}}
    nets: {lan: {subnet: 192.168.200.0/24, state: active}}
'''

from ansible_collections.lago.lago.plugins.module_utils._runtime import LIBVIRT_ARGS, run_module
from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import connect
from ansible_collections.lago.lago.plugins.module_utils.prefix_state import Layout, PrefixState
from ansible_collections.lago.lago.plugins.module_utils.prefix_view import describe

ARGUMENT_SPEC = dict(path=dict(type='path', required=True), **LIBVIRT_ARGS)


def execute(run):
    # Reads only, without the lock: state.json is replaced atomically, and a status must
    # not wait for a long start to end.
    state = PrefixState.load(Layout(run.params['path']))
    return dict(prefix=describe(state, connect(run.params['libvirt_uri'])))


def main():
    run_module(ARGUMENT_SPEC, execute, libraries=('libvirt-python', 'lxml'))


if __name__ == '__main__':
    main()
