# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The internal repository of a multi-host prefix, copied to the hypervisor that serves it.

The repository is built on the controller (repo_setup: ``<controller prefix>/internal_repo/<name>/``).
The VMs of a multi-host prefix cannot reach the controller: their management net's gateway is on
the net's first hypervisor (docs/MULTIHOST.md). So the repository is copied, with rsync over ssh,
into that hypervisor's part of the prefix (``<part>/internal_repo/<name>/``), and served from there
(reposerver, run on that hypervisor). rsync logs in as the controller does everywhere: the
hypervisor's recorded key and known_hosts, strict host keys, never the user's known_hosts.

``--delete`` acts on ``<part>/internal_repo/<name>/`` only: the collection owns that directory
(it is in the part it made). rsync writes each file under a temporary name and, with
``--delay-updates``, renames them all at the end: a copy cut short leaves the repository as it was
(rsync removes its temporary files). ``changed`` comes from rsync's itemized output; check mode
runs the same command with ``--dry-run``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import os
import shlex

from ansible_collections.lago.lago.plugins.module_utils.errors import CommandError, RepoError
from ansible_collections.lago.lago.plugins.module_utils.files import read_json
from ansible_collections.lago.lago.plugins.module_utils.prefix_state import Layout, PrefixState
from ansible_collections.lago.lago.plugins.module_utils.repos import MANIFEST, REPO_DIR, repo_path
from ansible_collections.lago.lago.plugins.module_utils.runner import run
from ansible_collections.lago.lago.plugins.module_utils.ssh import ssh_options

CONNECT_TIMEOUT = 10
# ssh exits 255 when it could not log in (no route, refused, host key); rsync 255 likewise,
# 12 (protocol stream) and 5 (starting the client-server protocol) when the remote side is gone.
SSH_FAILED = 255
RSYNC_LOST = (5, 12, 255)

Target = collections.namedtuple('Target', 'hypervisor jump part path gateway net')
Target.__doc__ = """Where a repository is served from: the hypervisor (its inventory name) and how
to log in to it (an ssh.Jump), its part of the prefix and the repository directory there, the
management net (its name) and its gateway, the address the VMs reach the server at."""


def management_net(state):
    """The management net of a multi-host controller prefix (the first by name when there are several)."""
    nets = [net for net in state.nets.values() if net.management]
    if not nets:
        raise RepoError('prefix %s has no management net to serve the internal repository on' % state.path)
    return nets[0]


def serving_target(state, name):
    """The Target of repository ``name`` of the multi-host controller prefix ``state``: the first
    hypervisor of the management net (the one holding its gateway); None for a single-host prefix."""
    if not state.hypervisors:
        return None
    net = management_net(state)
    if not net.hypervisors:
        raise RepoError('net %s of prefix %s records no hypervisor: its gateway, where the internal repository '
                        'is served, is on none' % (net.name, state.path))
    hv_name = net.hypervisors[0]
    why = 'the internal repository is served by hypervisor %s (the gateway of net %s)' % (hv_name, net.name)
    jump = state.jump_to(hv_name, why)
    part = state.hypervisor(hv_name).path
    if not part:
        raise RepoError('%s, but %s records no path of its part' % (why, state.layout.state_file))
    return Target(hv_name, jump, part, repo_path(part, name), net.gateway, net.name)


def where(target):
    return 'hypervisor %s (%s@%s port %s)' % (target.hypervisor, target.jump.user, target.jump.host, target.jump.port)


def ssh_command(jump):
    """The ssh command (argv) rsync and the part check log in to hypervisor ``jump`` with."""
    return ['ssh'] + ssh_options(jump.key, jump.known_hosts, CONNECT_TIMEOUT) + ['-p', str(int(jump.port))]


def _login(jump):
    host = '[%s]' % jump.host if ':' in jump.host else jump.host
    return '%s@%s' % (jump.user, host)


def check_part_argv(target):
    """ssh that prints the uuid of the part (nothing when there is no part at its path)."""
    uuid_file = shlex.quote(os.path.join(target.part, 'uuid'))
    state_file = shlex.quote(os.path.join(target.part, 'state.json'))
    command = 'if [ -f %s ] && [ -f %s ]; then cat -- %s; fi' % (state_file, uuid_file, uuid_file)
    return ssh_command(target.jump) + ['--', '%s@%s' % (target.jump.user, target.jump.host), command]


def rsync_argv(source, target, dry_run=False):
    """rsync of the repository directory ``source`` into the target's part, an argv list.

    ``<controller>/./internal_repo/<name>/`` with --relative makes ``internal_repo/<name>/`` in the
    part (rsync makes the implied directories, never the part itself: its existence is checked
    first); --delete works only in ``<name>/``, the one directory synchronized."""
    prefix = os.path.dirname(os.path.dirname(source.rstrip('/')))
    relative = os.path.join(prefix, '.', REPO_DIR, os.path.basename(source.rstrip('/'))) + '/'
    argv = ['rsync', '--recursive', '--links', '--perms', '--times', '--omit-dir-times', '--relative',
            '--delete', '--delete-delay', '--delay-updates', '--itemize-changes',
            '-e', ' '.join(shlex.quote(arg) for arg in ssh_command(target.jump))]
    if dry_run:
        argv.append('--dry-run')
    return argv + ['--', relative, '%s:%s/' % (_login(target.jump), target.part.rstrip('/'))]


def parse_itemized(output):
    """rsync's --itemize-changes lines as {'added', 'updated', 'deleted'} (sorted paths).

    ``>f+++++++++ x``: a new file; ``>f.st...... x``, ``.f...p..... x``: changed content or
    attributes; ``*deleting   x``: removed; ``cd+++++++++ d/``: a new directory. A line whose
    attributes are all unchanged (``.d          d/``, with -ii) is no change."""
    found = {'added': [], 'updated': [], 'deleted': []}
    for line in output.splitlines():
        if len(line) < 13 or line[11] != ' ':
            continue
        flags, path = line[:11], line[12:]
        if flags.startswith('*deleting'):
            found['deleted'].append(path)
        elif flags[2:] == '+' * 9:
            found['added'].append(path)
        elif flags[0] in '<>ch' or flags[2:].strip('. '):
            found['updated'].append(path)
    return dict((key, sorted(paths)) for key, paths in found.items())


def check_part(state, target):
    """RepoError naming the hypervisor unless its part of ``state`` is there (same uuid)."""
    try:
        _rc, out, _err = run(check_part_argv(target))
    except CommandError as err:
        if err.rc == SSH_FAILED:
            raise RepoError('cannot reach %s to copy the internal repository to its part %s: %s'
                            % (where(target), target.part, (err.stderr or '').strip() or 'ssh failed'))
        raise RepoError('cannot read the part %s on %s: %s' % (target.part, where(target), (err.stderr or '').strip()))
    found = out.strip()
    if not found:
        raise RepoError('hypervisor %s has no part of prefix %s at %s (run init with the hypervisors first): '
                        'the internal repository was not copied there' % (target.hypervisor, state.path, target.part))
    if found != state.uuid:
        raise RepoError('%s on hypervisor %s is the part of another prefix (uuid %s, not %s): the internal repository '
                        'was not copied there' % (target.part, target.hypervisor, found, state.uuid))


def publish(state, target, source, check_mode=False, part_checked=False):
    """Copy the repository directory ``source`` (built on the controller) to ``target``.

    The part must be there (check_part, unless ``part_checked`` says the caller just did:
    a build checks it before it starts, so a missing part fails before hours of reposync).
    Check mode runs rsync with --dry-run (when ``source`` is not built yet, everything would be
    copied: changed, nothing run). Returns ``changed``, ``added``, ``updated``, ``deleted`` and
    ``diff`` (before: the files replaced or removed; after: the files replaced or added).
    """
    if not part_checked:
        check_part(state, target)
    if not os.path.isdir(source):
        if not check_mode:
            raise RepoError('nothing to copy to hypervisor %s: %s does not exist (build it first)'
                            % (target.hypervisor, source))
        found = {'added': ['(all of %s)' % source], 'updated': [], 'deleted': []}
    else:
        try:
            _rc, out, _err = run(rsync_argv(source, target, dry_run=check_mode))
        except CommandError as err:
            what = 'cannot reach' if err.rc in RSYNC_LOST else 'rsync failed copying the internal repository to'
            raise RepoError('%s %s (into %s): %s' % (what, where(target), target.path,
                                                     (err.stderr or err.stdout or '').strip() or 'exit %s' % err.rc))
        found = parse_itemized(out)
    found['added'] = [path for path in found['added'] if not path.endswith('/')]  # the directories made for them
    before = sorted(found['updated'] + found['deleted'])
    after = sorted(found['updated'] + found['added'])
    return dict(found, changed=bool(before or after), diff={'before': before, 'after': after})


def target_of(prefix, name):
    """(PrefixState, Target) of repository ``name`` of the prefix at ``prefix`` when it is a multi-host
    controller, (state or None, None) otherwise. Reads state.json without the prefix's lock: what it
    uses (the hypervisors, the management net) does not change after init."""
    layout = Layout(prefix)
    if not layout.initialized:
        return None, None
    state = PrefixState.load(layout)
    return state, serving_target(state, name)


def built_flavours(source):
    """The flavours the repository built at ``source`` is indexed for (its manifest)."""
    try:
        manifest = read_json(os.path.join(source, MANIFEST), default=None)
    except ValueError:
        manifest = None
    if not manifest:
        raise RepoError('%s holds no repository built by lago_reposetup (no %s): build it first' % (source, MANIFEST))
    return sorted(manifest.get('flavours') or [])
