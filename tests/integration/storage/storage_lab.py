# -*- coding: utf-8 -*-
"""Helpers of the storage lab tests: tiny images, a repository served over HTTP
on 127.0.0.1, and a way to run the modules through ansible-playbook."""

from __future__ import absolute_import, division, print_function

import copy
import hashlib
import json
import lzma
import os
import random
import subprocess
import sys

from repo_server import start_in_thread

HERE = os.path.dirname(os.path.abspath(__file__))
COLLECTIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(HERE))), '.collections')
IMAGE_SIZE = 4 << 20


def sha(path, algorithm='sha1'):
    digest = hashlib.new(algorithm)
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def make_image(path, seed, size=IMAGE_SIZE):
    """A small qcow2 whose first MiB is pseudo-random (``seed`` makes images differ)."""
    raw = path + '.raw'
    data = random.Random(seed).randbytes(1 << 20)  # distinct per seed, incompressible
    with open(raw, 'wb') as handle:
        handle.write(data)
        handle.truncate(size)
    subprocess.check_call(['qemu-img', 'convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, path])
    os.unlink(raw)
    return path


def put_version(root, handle, image, hash_text=None, metadata=None, compress=False):
    """Place ``image`` in a repository directory as ``handle`` with its .hash and .metadata."""
    target = os.path.join(root, handle)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(image, 'rb') as source:
        data = source.read()
    if compress:
        with open(target + '.xz', 'wb') as out:
            out.write(lzma.compress(data, preset=0))
    else:
        with open(target, 'wb') as out:
            out.write(data)
    with open(target + '.hash', 'w') as out:
        out.write(hash_text if hash_text is not None else hashlib.sha1(data).hexdigest())
    with open(target + '.metadata', 'w') as out:
        json.dump(metadata if metadata is not None else {'distro': 'debian'}, out)
    return target


def write_repo(path, data):
    with open(path, 'w') as handle:
        json.dump(data, handle)
    return path


def store_listing(store):
    """Everything in the store but the lock directory."""
    return sorted(name for name in os.listdir(store) if name != '.locks') if os.path.isdir(store) else []


class Lab:
    """The served repository: its directory, URL, JSON location and the original images."""

    def __init__(self, root, server):
        self.root = root
        self.server = server
        self.url = server.url
        self.repo_url = server.url + '/repo.json'
        self.images = {}
        self.data = None

    def repo_json(self, **changes):
        data = copy.deepcopy(self.data)
        data.update(changes)
        return data

    def image_gets(self, handle):
        return self.server.count('/' + handle)


def build_lab(root):
    """Images and a repository JSON in ``root``, served by a new server on 127.0.0.1."""
    server = start_in_thread(root)
    lab = Lab(root, server)
    images = os.path.join(root, 'src')
    os.makedirs(images)
    for name in ('one', 'two', 'three'):
        lab.images[name] = make_image(os.path.join(images, name + '.qcow2'), name)
    one, two, three = lab.images['one'], lab.images['two'], lab.images['three']
    put_version(root, 'plain/v1.qcow2', one)
    put_version(root, 'plain/v2.qcow2', two, metadata={'distro': 'debian', 'release': '12'})
    put_version(root, 'packed/v1.qcow2', three, hash_text='sha256:' + sha(three, 'sha256'), compress=True)
    put_version(root, 'broken/v1.qcow2', one, hash_text=sha(two))
    put_version(root, 'cut/v1.qcow2', one)
    put_version(root, 'cutxz/v1.qcow2', two, compress=True)
    server.truncate['/cut/v1.qcow2'] = 100000
    server.truncate['/cutxz/v1.qcow2.xz'] = 20000
    version = dict(source='web', timestamp=1000)
    lab.data = dict(name='lab', sources=dict(web=dict(type='http', args=dict(baseurl=server.url))), templates=dict(
        plain=dict(versions=dict(v1=dict(version, handle='plain/v1.qcow2'),
                                 v2=dict(version, handle='plain/v2.qcow2', timestamp=2000))),
        packed=dict(versions=dict(v1=dict(version, handle='packed/v1.qcow2'))),
        broken=dict(versions=dict(v1=dict(version, handle='broken/v1.qcow2'))),
        cut=dict(versions=dict(v1=dict(version, handle='cut/v1.qcow2'))),
        cutxz=dict(versions=dict(v1=dict(version, handle='cutxz/v1.qcow2')))))
    write_repo(os.path.join(root, 'repo.json'), lab.data)
    return lab


def engine_in_subprocess(code, *args):
    """Run ``code`` (Python using the collection) in a separate process; returns the Popen."""
    env = dict(os.environ, PYTHONPATH=COLLECTIONS)
    return subprocess.Popen([sys.executable, '-c', code] + list(args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, universal_newlines=True)


FETCH = """import json, sys
from ansible_collections.lago.lago.plugins.module_utils import template_repo, template_store
version = template_repo.load_repository(sys.argv[1]).version(sys.argv[3], sys.argv[4] or None)
print(json.dumps(template_store.fetch(sys.argv[2], version)))
"""


def fetch_in_subprocess(repo_url, store, template, version=None):
    """A separate process fetching one version into ``store``; it prints the entry as JSON."""
    return engine_in_subprocess(FETCH, repo_url, store, template, version or '')


PLAYBOOK = '''
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: the module under test
      %s: %s
      register: outcome
      ignore_errors: true
    - name: keep what it returned
      ansible.builtin.copy:
        content: "{{ outcome | to_json }}"
        dest: "{{ result_file }}"
      check_mode: false
      diff: false
'''


def run_module(workdir, module, args, check=False, diff=True):
    """Run ``lago.lago.<module>`` with ``args`` through ansible-playbook; return its result dict."""
    playbook = os.path.join(workdir, 'play.yml')
    result_file = os.path.join(workdir, 'result.json')
    with open(playbook, 'w') as handle:
        handle.write(PLAYBOOK % ('lago.lago.' + module, json.dumps(args)))
    argv = ['ansible-playbook', '-i', 'localhost,', playbook, '-e', 'result_file=' + result_file]
    argv += ['--check'] if check else []
    argv += ['--diff'] if diff else []
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR='1',
               ANSIBLE_LOCALHOST_WARNING='0', ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                          universal_newlines=True, check=False)
    assert proc.returncode == 0, proc.stdout
    with open(result_file) as handle:
        return json.load(handle)
