# -*- coding: utf-8 -*-
"""What a prefix may leave behind: helpers for asserting it left nothing."""

from __future__ import absolute_import, division, print_function

import glob
import os

from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import connect


def libvirt_objects(short_id):
    """Names of every libvirt domain and network carrying ``short_id``."""
    conn = connect('qemu:///system')
    names = [dom.name() for dom in conn.listAllDomains()] + [net.name() for net in conn.listAllNetworks()]
    return sorted(name for name in names if name.startswith(short_id))


def leases(lease_dir):
    return sorted(os.path.basename(path) for path in glob.glob(os.path.join(lease_dir, '*.lease')))
