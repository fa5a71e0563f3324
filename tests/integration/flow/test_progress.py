# -*- coding: utf-8 -*-
"""Visible progress in the real ansible-playbook output (docs/FLOW.md): the init
playbook fetches each template as its own tasks before init, showing how far
each download got - over HTTP from a slow server on 127.0.0.1 that drops the
connection once mid-file, so the download resumes with Range and says so; the
start playbook shows each VM while it boots (with its console) and once it is
reachable."""

from __future__ import absolute_import, division, print_function

import json
import os
import re

import pytest

from labrun import playbook
from repo_server import start_in_thread

pytestmark = [pytest.mark.lab, pytest.mark.slow]

ONE_VM = '''
    domains:
      vm01:
        memory: 512
        vcpu: 1
        nics: [{net: lan}]
        disks:
          - {type: template, template_name: debian12, name: root, dev: vda, format: qcow2}
    nets:
      lan:
        type: nat
        management: true
'''


@pytest.fixture
def http_repo(lab_template_repo, tmp_path):
    """The lab repository's debian12 served over HTTP, slowly (about 8 MB/s); yields (repo.json, server, handle)."""
    with open(lab_template_repo) as handle:
        data = json.load(handle)
    root = os.path.expandvars(data['sources']['local']['args']['root'])
    server = start_in_thread(os.path.join(os.path.dirname(lab_template_repo), root))
    data['sources'] = dict(web=dict(type='http', args=dict(baseurl=server.url)))
    data['templates'] = dict(debian12=data['templates']['debian12'])
    versions = data['templates']['debian12']['versions']
    for version in versions.values():
        version['source'] = 'web'
    newest = max(versions.values(), key=lambda version: version['timestamp'])
    repo = tmp_path / 'repo.json'
    repo.write_text(json.dumps(data))
    yield str(repo), server, '/' + newest['handle']
    server.shutdown()
    server.server_close()


def test_init_shows_each_template_download_as_it_runs(http_repo, lab_host_dirs, write_init_file, tmp_path):
    repo, server, handle = http_repo
    server.rate[handle] = 8 << 20
    server.cut_once[handle] = [40 << 20]
    prefix = str(tmp_path / 'prefix')
    extra = dict(lago_prefix_path=prefix, lago_template_repo=repo, lago_init_file=write_init_file(ONE_VM),
                 lago_template_store=str(tmp_path / 'store'), lago_lease_dir=lab_host_dirs['lease_dir'],
                 lago_virt_type='qemu', lago_progress_every=1)
    try:
        init = playbook('init', extra).check()
        out = init.stdout
        fetch = out.index('TASK [Fetch each template the store lacks (in the background)]')
        assert fetch < out.index('TASK [Create the prefix from the init file (lago init)]'), out
        percents = [int(found) for found in re.findall(r'"msg": "lago-local:debian12:\S+: (\d+)% - ', out)]
        assert len(percents) >= 3, out
        assert percents == sorted(percents) or 'attempt 2' in out, out
        assert re.search(r'"msg": "lago-local:debian12:\S+: \d+% - [\d.]+ of [\d.]+ MiB \(attempt 2: retry 1 of \d+ in '
                         r'1.0s: download of \S+ (was cut short|failed after)', out), out
        assert re.search(r'"msg": "lago-local:debian12:\S+: stored"', out), out
        assert (handle, 'bytes=%d-' % (40 << 20)) in server.range_requests, 'resumed where it broke'
        assert server.count(handle) == 2
        assert not [name for name in os.listdir(str(tmp_path / 'store')) if name.endswith('.progress')]

        start = playbook('start', extra).check().stdout
        booting = re.findall(r'"msg": "vm01: booting for (\d+) s \([^)]*\), console: (.*)"', start)
        assert booting, start
        assert [int(seconds) for seconds, _console in booting] == sorted(int(seconds) for seconds, _console in booting)
        assert any(console != '(nothing yet)' for _seconds, console in booting), 'a booting VM shows its console'
        reachable = re.findall(r'"msg": "vm01: reachable over SSH after (\d+) s"', start)
        assert len(reachable) == 1, start
        assert start.index('vm01: reachable over SSH') > start.rindex('vm01: booting for')
    finally:
        playbook('destroy', extra).check()
