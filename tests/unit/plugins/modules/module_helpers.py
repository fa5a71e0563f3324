# -*- coding: utf-8 -*-
"""Helpers of the module tests: a module's parameters with its spec's defaults, a small
template repository with a ``file`` source made with real qemu-img, file listings."""

from __future__ import absolute_import, division, print_function

import hashlib
import json
import os
import subprocess

from ansible_collections.lago.lago.plugins.module_utils import _runtime

UUID = '0123456789abcdef0123456789abcdef'


def module_params(argument_spec, **given):
    """What AnsibleModule would hand execute(): every option of the spec (and the group's), defaults filled in."""
    spec = dict(_runtime.GROUP_ARGS, **argument_spec)
    params = dict((name, option.get('default')) for name, option in spec.items())
    params.update(given)
    return params


class Repo(object):
    """A repository JSON at ``path`` whose template ``base`` has versions v1 (8 MiB) and v2 (16 MiB)."""

    def __init__(self, root):
        self.root = root
        self.path = os.path.join(root, 'repo.json')
        versions = {}
        for number, size in ((1, '8M'), (2, '16M')):
            image = os.path.join(root, 'base', 'v%d' % number)
            if not os.path.isdir(os.path.dirname(image)):
                os.makedirs(os.path.dirname(image))
            subprocess.check_call(['qemu-img', 'create', '-q', '-f', 'qcow2', image, size])
            with open(image, 'rb') as handle:
                digest = hashlib.sha1(handle.read()).hexdigest()
            with open(image + '.hash', 'w') as handle:
                handle.write(digest)
            with open(image + '.metadata', 'w') as handle:
                json.dump({'distro': 'debian'}, handle)
            versions['v%d' % number] = dict(source='local', handle='base/v%d' % number, timestamp=number)
        with open(self.path, 'w') as handle:
            json.dump(dict(name='lab', sources=dict(local=dict(type='file', args=dict(root=root))),
                           templates=dict(base=dict(versions=versions))), handle)


def listing(path):
    """Every file below ``path``, relative, sorted."""
    found = []
    for top, _dirs, files in os.walk(path):
        found += [os.path.relpath(os.path.join(top, name), path) for name in files]
    return sorted(found)
