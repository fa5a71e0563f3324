# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compaction: the layers no snapshot needs any more are removed, or merged with their only child.

``plan_compaction`` changes a VM's records step by step (on a scratch copy for
a plan) and returns the steps; ``apply_compaction`` carries the same steps out
on the files and changes the real records with the same ``change_records``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.lago.lago.plugins.module_utils import live_snapshot, qemu_img
from ansible_collections.lago.lago.plugins.module_utils.files import remove_path
from ansible_collections.lago.lago.plugins.module_utils.snapshot import (
    next_compaction, rehash, replace_references, running_chain)


class Step(object):
    """One compaction step of disk ``disk``: ``kind`` drop, merge (offline) or merge-live."""

    def __init__(self, disk, kind, layer, child=None):
        self.disk = disk
        self.kind = kind
        self.layer = layer
        self.child = child

    def __str__(self):
        if self.kind == 'drop':
            return 'removed layer %s' % self.layer
        if self.kind == 'merge-live':
            return 'merged layer %s with %s (live)' % (self.layer, self.child)
        return 'merged layer %s into %s' % (self.layer, self.child)

    def __eq__(self, other):
        return isinstance(other, Step) and vars(self) == vars(other)

    def __repr__(self):
        return 'Step(%s)' % self


def plan_compaction(vm, live=False):
    """Change ``vm``'s records as compaction will and return its steps; ``live``: the VM runs."""
    steps = []
    for disk in vm.disks:
        found = next_compaction(vm, disk)
        while found is not None:
            kind, layer, child = found
            if kind == 'merge' and live and child in running_chain(disk):
                kind = 'merge-live'
            step = Step(disk.name, kind, layer, child)
            change_records(vm, step)
            steps.append(step)
            found = next_compaction(vm, disk)
    return steps


def change_records(vm, step):
    """What ``step`` does to the records (sizes and hashes of changed files: see apply_compaction)."""
    disk = vm.disk(step.disk)
    layer = disk.layer(step.layer)
    if step.kind == 'drop':
        disk.remove_layer(step.layer)
    elif step.kind == 'merge':
        # The child is committed into the layer, which then takes the child's name:
        # whatever sits on the child stays valid without a rebase.
        disk.remove_layer(step.layer)
        if step.child == disk.path:
            disk.parent = layer.backing
        else:
            disk.layer(step.child).backing = layer.backing
    elif step.child == disk.path:  # merge-live into the running image: it pulls the layer in
        disk.remove_layer(step.layer)
        disk.parent = layer.backing
    else:  # merge-live of an intermediate child: committed down, the layer stands for it
        kid = disk.layer(step.child)
        layer.frozen = kid.frozen
        disk.remove_layer(step.child)
        replace_references(vm, disk, step.child, step.layer)


def apply_compaction(dom, vm, steps):
    """Carry ``steps`` out on the files and the records of ``vm``; ``dom``: its running domain
    (for merge-live steps). Returns the steps' descriptions."""
    for step in steps:
        disk = vm.disk(step.disk)
        layer = disk.layer(step.layer)
        if step.kind == 'drop':
            if layer.owned:
                remove_path(step.layer)
        elif step.kind == 'merge':
            qemu_img.commit(step.child, drop=True)
            os.rename(step.layer, step.child)
        elif step.child == disk.path:
            live_snapshot.pull(dom, disk.dev, layer.backing)
            remove_path(step.layer)
        else:
            live_snapshot.commit(dom, disk.dev, step.child, step.layer)
            remove_path(step.child)
        change_records(vm, step)
        # The file that now holds the merged data has a new size and hash.
        merged = step.child if step.kind == 'merge' else step.layer
        if step.kind != 'drop' and disk.layer(merged) is not None:
            rehash(disk.layer(merged))
    return [str(step) for step in steps]
