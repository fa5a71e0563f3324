# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run external commands: argv lists only, errors carry the command's own message."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil
import subprocess

from ansible_collections.lago.lago.plugins.module_utils.errors import CommandError, LagoError


def which(name):
    """Path of ``name`` on PATH, or a LagoError saying which package provides it."""
    path = shutil.which(name)
    if path is None:
        raise LagoError('%s was not found on PATH; install it (see bindep.txt)' % name)
    return path


def run(argv, check=True, input_data=None, env=None, cwd=None, timeout=None, stdout=None):
    """Run ``argv`` (a list) and return (rc, stdout, stderr) as text.

    With ``check`` a non-zero exit raises CommandError carrying stderr.
    ``stdout`` may be an open binary file that receives the command's output
    instead (e.g. ``xz -c``); the returned stdout is then empty.
    """
    if isinstance(argv, (str, bytes)):
        raise TypeError('run() takes an argv list, not a shell string')
    argv = [str(arg) for arg in argv]
    full_env = None
    if env:
        full_env = dict(os.environ)
        full_env.update(env)
    try:
        proc = subprocess.run(
            argv, input=input_data, stdout=stdout or subprocess.PIPE, stderr=subprocess.PIPE,
            env=full_env, cwd=cwd, timeout=timeout, check=False,
            universal_newlines=True)
    except FileNotFoundError:
        raise LagoError('%s was not found on PATH; install it (see bindep.txt)' % argv[0])
    except subprocess.TimeoutExpired as err:
        raise CommandError(argv, 'timeout', err.stdout or '', 'timed out after %ss' % timeout)
    if check and proc.returncode != 0:
        raise CommandError(argv, proc.returncode, proc.stdout, proc.stderr)
    return proc.returncode, proc.stdout or '', proc.stderr
