# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Can qemu reach the files of a VM? With a stock libvirt it runs as its own user.

libvirt's DAC driver (dynamic ownership) hands every image, backing file and
seed of a VM to the qemu user while the VM runs, but it does not touch
directories: qemu still needs search (x) permission on each directory above
those files. The prefix is 0700, so the collection gives the qemu user (and
no one else) search permission on the directories it made itself, with one
POSIX ACL entry; a directory it did not make (a user's 0700 home) is never
changed unless asked: the error names it and what to run.

ACLs are read and written as the kernel's ``system.posix_acl_access``
extended attribute, so no setfacl binary is needed.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import pwd
import stat
import struct

from ansible_collections.lago.lago.plugins.module_utils.errors import PrefixError

ACL_XATTR = 'system.posix_acl_access'
_VERSION = 2
_UNDEFINED_ID = 0xFFFFFFFF
USER_OBJ, USER, GROUP_OBJ, GROUP, MASK, OTHER = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
SEARCH = 1


def qemu_identity(capabilities_xml):
    """(uid, gid) qemu runs as, from the DAC baselabel of libvirt's capabilities; None for root or no DAC."""
    from lxml import etree
    root = etree.fromstring(capabilities_xml.encode() if isinstance(capabilities_xml, str) else capabilities_xml)
    for model in root.iterfind('host/secmodel'):
        if model.findtext('model') != 'dac':
            continue
        for label in model.iterfind('baselabel'):
            if label.get('type') in ('kvm', 'qemu') and label.text:
                uid, gid = (int(part.lstrip('+')) for part in label.text.split(':'))
                return None if uid == 0 else (uid, gid)
    return None


def connection_identity(conn):
    """(uid, gid) qemu runs as under the libvirtd of ``conn``; None when it runs as root."""
    return qemu_identity(conn.getCapabilities())


def _under(directory, trees):
    return any(directory == tree or directory.startswith(tree.rstrip(os.sep) + os.sep) for tree in trees)


def _user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def read_acl(path):
    """[(tag, perm, id)] of ``path``'s access ACL; the one its mode implies when it has none."""
    try:
        raw = os.getxattr(path, ACL_XATTR)
    except OSError as err:
        if err.errno not in (errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        mode = os.stat(path).st_mode
        return [(USER_OBJ, (mode >> 6) & 7, _UNDEFINED_ID), (GROUP_OBJ, (mode >> 3) & 7, _UNDEFINED_ID),
                (OTHER, mode & 7, _UNDEFINED_ID)]
    version, = struct.unpack_from('<I', raw)
    if version != _VERSION:
        raise PrefixError('%s: unsupported ACL version %d' % (path, version))
    return [struct.unpack_from('<HHI', raw, offset) for offset in range(4, len(raw), 8)]


def write_acl(path, entries):
    entries = sorted(entries, key=lambda entry: (entry[0], entry[2]))
    os.setxattr(path, ACL_XATTR, struct.pack('<I', _VERSION) + b''.join(struct.pack('<HHI', *e) for e in entries))


def can_search(path, uid, gids):
    """Whether a process of ``uid`` / ``gids`` may pass through directory ``path`` (the kernel's rule)."""
    if uid == 0:
        return True
    info = os.stat(path)
    entries = read_acl(path)
    mask = next((perm for tag, perm, _id in entries if tag == MASK), 7)
    if info.st_uid == uid:
        return bool((info.st_mode >> 6) & SEARCH)
    named = [perm for tag, perm, ident in entries if tag == USER and ident == uid]
    if named:
        return bool(named[0] & mask & SEARCH)
    group_perms = [perm for tag, perm, _id in entries if tag == GROUP_OBJ and info.st_gid in gids]
    group_perms += [perm for tag, perm, ident in entries if tag == GROUP and ident in gids]
    if group_perms:
        return any(perm & mask & SEARCH for perm in group_perms)
    return bool(info.st_mode & SEARCH)


def grant_search(path, uid):
    """Give ``uid`` search permission on directory ``path`` with a named ACL entry. True when changed."""
    entries = read_acl(path)
    named = [entry for entry in entries if entry[0] == USER and entry[2] == uid]
    mask = [entry for entry in entries if entry[0] == MASK]
    if named and named[0][1] & SEARCH and (not mask or mask[0][1] & SEARCH):
        return False
    kept = [entry for entry in entries if not (entry[0] == USER and entry[2] == uid) and entry[0] != MASK]
    perm = (named[0][1] if named else 0) | SEARCH
    kept.append((USER, perm, uid))
    # The mask bounds every named entry and the owning group: keep what they had, plus search.
    bound = 0
    for tag, entry_perm, _id in kept:
        if tag in (USER, GROUP_OBJ, GROUP):
            bound |= entry_perm
    kept.append((MASK, bound, _UNDEFINED_ID))
    write_acl(path, kept)
    return True


def _ancestors(path):
    """The directories above ``path``, from / down."""
    parts = []
    directory = os.path.dirname(os.path.abspath(path))
    while True:
        parts.append(directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            return list(reversed(parts))
        directory = parent


def make_reachable(paths, identity, owned_dirs=(), grant_others=False, owned_trees=()):
    """Let qemu (``identity`` = (uid, gid), None for root) reach every file of ``paths``.

    Directories in ``owned_dirs``, or at or below one of ``owned_trees`` (the
    prefix, the template store: the collection's own), get the qemu user's
    search ACL entry; any other directory in the way is changed only with
    ``grant_others``, else PrefixError names the file, the directory and what
    qemu needs. Returns the directories changed.
    """
    if identity is None:
        return []
    uid, gid = identity
    gids = {gid}
    try:
        gids.update(os.getgrouplist(_user_name(uid), gid))
    except (KeyError, OSError):
        pass
    owned = set(os.path.abspath(path) for path in owned_dirs)
    trees = [os.path.abspath(path) for path in owned_trees if path]
    changed = []
    for path in paths:
        for directory in _ancestors(path):
            if can_search(directory, uid, gids):
                continue
            if directory in owned or _under(directory, trees) or grant_others:
                if grant_search(directory, uid):
                    changed.append(directory)
                continue
            info = os.stat(directory)
            raise PrefixError(
                'qemu runs as %s (uid %d) and cannot reach %s: directory %s (mode %04o, owner %s) gives it no '
                'search (x) permission. Grant it with `setfacl -m u:%s:x %s` (or move the prefix and the '
                'template store elsewhere); nothing was started'
                % (_user_name(uid), uid, path, directory, stat.S_IMODE(info.st_mode), _user_name(info.st_uid),
                   _user_name(uid), directory))
    return changed


def give_back(paths, owner, identity):
    """chown ``paths`` that qemu's user (``identity``) owns back to ``owner`` (uid, gid).

    libvirt's DAC driver restores the owner of a VM's writable images when it
    stops, never that of a read-only disk (another VM might still use it): the
    seed, a secret, would stay readable by qemu's user. Returns the paths changed.
    """
    if identity is None:
        return []
    changed = []
    for path in paths:
        try:
            info = os.stat(path)
        except FileNotFoundError:
            continue
        if info.st_uid == identity[0] and info.st_uid != owner[0]:
            os.chown(path, owner[0], owner[1])
            changed.append(path)
    return changed
