"""What the benchmarks share: a work directory that a stock libvirt's qemu can reach.

With Debian's stock qemu.conf qemu runs as its own user (libvirt-qemu, see
docs/LIBVIRT.md): a ``tempfile.mkdtemp()`` under /tmp (0700) stops it, and
lago's init refuses such a prefix (naming the directory). The benchmarks make
their directory under /var/tmp (a real disk, like a user's) and give qemu's
user search permission on that one directory, which they made; no directory
they did not make is changed.
"""

from __future__ import absolute_import, division, print_function

import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), '.collections'))
from ansible_collections.lago.lago.plugins.module_utils import qemu_access  # noqa: E402

BASE = os.environ.get('LAGO_BENCH_DIR', '/var/tmp')


def work_dir(prefix, conn=None, base=BASE):
    """A fresh directory under ``base`` that qemu (as libvirtd of ``conn`` runs it) can pass through."""
    work = tempfile.mkdtemp(prefix=prefix, dir=base)
    if conn is None:
        from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import connect
        conn = connect()
    qemu_access.make_reachable([os.path.join(work, 'x')], qemu_access.connection_identity(conn), owned_dirs=[work])
    return work
