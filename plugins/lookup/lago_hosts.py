# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: lago_hosts
short_description: The VMs of Lago prefixes as arguments of add_host
version_added: 0.1.0
author:
  - Lago developers (@lago-project)
description:
  - Reads prefixes exactly as the P(lago.lago.lago#inventory) inventory plugin does and
    returns one dictionary per VM, ready to be given to M(ansible.builtin.add_host)
    as its arguments - C(name), C(groups) and the host variables the inventory
    plugin sets (C(ansible_host), the prefix's key and C(known_hosts) with strict
    host key checking, C(lago_deploy_scripts), C(lago_artifacts), ...).
  - This makes the VMs of a prefix created earlier in the same playbook reachable
    in its later plays, without an inventory source given on the command line.
  - C(groups) holds C(lago), C(lago_<prefix>), C(lago_vm_type_<vm-type>),
    C(lago_net_<net>) and the VM's C(groups) from the init file.
    C(ansible_python_interpreter) (V(/usr/bin/python3)) is a host variable here,
    where the inventory plugin sets it on the group C(lago).
options:
  _terms:
    description: Paths of initialized prefixes (directories with a C(state.json)).
    type: list
    elements: path
    required: true
  host_name:
    description:
      - How a VM's host is named, as the inventory plugin's option of that name.
      - V(vm) uses the VM's name; V(prefixed) uses C(<prefix directory name>-<vm>).
    type: str
    choices: [vm, prefixed]
    default: vm
seealso:
  - plugin: lago.lago.lago
    plugin_type: inventory
  - module: ansible.builtin.add_host
'''

EXAMPLES = r'''
- name: Add the VMs of the prefix to the inventory
  ansible.builtin.add_host: "{{ item }}"
  loop: "{{ query('lago.lago.lago_hosts', '/srv/lab') }}"
  loop_control:
    label: "{{ item.name }}"
  changed_when: false
'''

RETURN = r'''
_raw:
  description: One dictionary per VM - C(name), C(groups) and the host variables.
  type: list
  elements: dict
'''

from ansible.errors import AnsibleLookupError
from ansible.plugins.inventory import to_safe_group_name
from ansible.plugins.lookup import LookupBase

from ansible_collections.lago.lago.plugins.inventory.lago import (
    PARENT_GROUP, PYTHON_INTERPRETER, host_names, host_vars, read_prefix_vms, vm_groups)


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        if not terms:
            raise AnsibleLookupError('lago_hosts: give at least one prefix path')
        vms = []
        for prefix in terms:
            vms.extend(read_prefix_vms(prefix))
        names = host_names(vms, prefixed=self.get_option('host_name') == 'prefixed')
        hosts = []
        for name, vm in zip(names, vms):
            # the inventory plugins' sanitizer: characters a group cannot hold become _
            lago_groups, user_groups = vm_groups(vm, to_safe_group_name)
            groups = []
            for group in [PARENT_GROUP] + lago_groups + user_groups:
                if group not in groups:
                    groups.append(group)
            entry = dict(host_vars(vm), ansible_python_interpreter=PYTHON_INTERPRETER)
            entry.update(name=name, groups=groups)
            hosts.append(entry)
        return hosts
