# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Removing a snapshot: the other snapshots and what each VM runs on stay intact; a
layer no snapshot needs any more is compacted away (see snapshot_compact)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.lago.lago.plugins.module_utils.files import remove_path
from ansible_collections.lago.lago.plugins.module_utils.plan import Plan
from ansible_collections.lago.lago.plugins.module_utils.snapshot import (
    having, powers, running_domain, scratch, summary, sync_definition)
from ansible_collections.lago.lago.plugins.module_utils.snapshot_compact import apply_compaction, plan_compaction


def forget_records(vm, name):
    """Drop the record of snapshot ``name`` of ``vm``; True if it had one."""
    return vm.remove_snapshot(name) is not None


def plan_remove(conn, state, name, vms=None):
    """Remove snapshot ``name`` of the chosen VMs (default all) that have it."""
    names = having(state, name, vms)
    power = powers(conn, state, names)
    doms = dict((vm_name, running_domain(conn, state.vm(vm_name))) for vm_name in names)
    after = scratch(state)
    steps, work = [], []
    for vm_name in names:
        vm = after.vm(vm_name)
        memory = vm.snapshot(name).memory
        forget_records(vm, name)
        compaction = plan_compaction(vm, live=doms[vm_name] is not None)
        steps.append('%s: remove snapshot %s%s' % (vm_name, name, ' and its saved memory %s' % memory if memory else ''))
        steps += ['%s: %s' % (vm_name, step) for step in compaction]
        work.append((vm_name, memory, compaction))

    def apply():
        removed = {}
        for vm_name, memory, compaction in work:
            vm = state.vm(vm_name)
            if memory:
                remove_path(memory)
            forget_records(vm, name)
            removed[vm_name] = apply_compaction(doms[vm_name], vm, compaction)
            sync_definition(conn, vm)
            state.save()
        return dict(removed=removed, after=summary(state, names, powers(conn, state, names)))
    return Plan('snapshots', summary(state, names, power), summary(after, names, power), steps, apply,
                values=dict(removed={}))
