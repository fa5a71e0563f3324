#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: lago_hypervisor_info
short_description: What the controller of a multi-host prefix needs to know of one hypervisor
version_added: 0.1.0
description:
  - Runs on a hypervisor of a multi-host prefix (docs/MULTIHOST.md) and reports its free memory and number of
    domains (what placement weighs) and its own IPv4 addresses and routes and the subnets of its libvirt
    networks, running or only defined (what a leased /24 must avoid).
  - Its result is one element of M(lago.lago.lago_prefix)'s O(lago.lago.lago_prefix#module:hypervisors) with
    the hypervisor's name and how to reach it added.
author:
  - Lago developers (@lago-project)
extends_documentation_fragment:
  - lago.lago.lago.libvirt
  - lago.lago.lago.info_attributes
  - lago.lago.lago.group_template_store
  - lago.lago.lago.group_lease_dir
options: {}
seealso:
  - module: lago.lago.lago_prefix
'''

EXAMPLES = r'''
- name: What each hypervisor offers
  lago.lago.lago_hypervisor_info:
  delegate_to: "{{ item }}"
  loop: "{{ groups['lago_hypervisors'] }}"
  register: lago_hypervisor_facts
'''

RETURN = r'''
facts:
  description: Free memory in MiB and number of domains of this hypervisor's libvirtd.
  returned: always
  type: dict
  sample: {free_memory_mib: 3712, vms: 0}
routes:
  description: The IPv4 networks of this host's addresses and routes and of its libvirt networks (running or only defined).
  returned: always
  type: list
  elements: str
  sample: [192.168.250.0/24]
'''

from ansible_collections.lago.lago.plugins.module_utils import placement
from ansible_collections.lago.lago.plugins.module_utils._runtime import LIBVIRT_ARGS, run_module
from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import connect

ARGUMENT_SPEC = dict(**LIBVIRT_ARGS)


def execute(run):
    return placement.hypervisor_report(connect(run.params['libvirt_uri']))


def main():
    run_module(ARGUMENT_SPEC, execute, libraries=('libvirt-python',))


if __name__ == '__main__':
    main()
