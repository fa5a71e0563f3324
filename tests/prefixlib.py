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


def processes_mentioning(text):
    """Pids of the processes whose command line contains ``text`` (a repository server serving a prefix)."""
    pids = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(os.path.join('/proc', entry, 'cmdline'), 'rb') as handle:
                cmdline = handle.read().replace(b'\0', b' ').decode('utf-8', 'replace')
        except (IOError, OSError):
            continue
        if text in cmdline:
            pids.append(int(entry))
    return pids


def left_behind(prefix_path, short_id, lease_dir):
    """What a destroyed prefix left: its directory, leases, libvirt objects, server processes."""
    return dict(directory=os.path.exists(prefix_path), leases=leases(lease_dir),
                libvirt=libvirt_objects(short_id), processes=processes_mentioning(prefix_path))
