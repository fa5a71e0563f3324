"""Warm-lab benchmark: the demo lab through site.yml cold, then warm (targets: warm >= 5x faster to
"deployed"; restoring a 3-VM lab from the cache <= 10 s).

Run inside the lab:  hack/lab exec python bench/bench_warm.py [--vms 3] [--keep-cache]
From a scratch copy of examples/demo (with --vms N, N VMs like the demo's),
each as a user runs it (hack/demo's settings; the host's template store and
lease directory, a scratch cache):
  1. site, lago_warm=false: the cold lab; "deployed" is when the test hook runs;
  2. site, lago_warm=true: cold again, then saved to the cache (the save's cost);
  3. site, lago_warm=true: warm, resumed from the cache;
  4. the warm path alone (playbooks/tasks/warm_start.yml: look up, init on the
     entry, resume), then destroy: the restore time, with and without the cost of
     starting ansible-playbook (an empty play, measured too).
Prints each figure and the ratio cold / warm.
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import work_dir  # noqa: E402
EXTRA_VM = '''  %s:
    <<: *debian
    groups: [db]
'''
MARK_TASKS = '''\
- name: Mark the lab as deployed
  ansible.builtin.shell: date +%%s.%%N > %s
  changed_when: true
'''
RESTORE_PLAY = '''\
- name: The warm path of site alone
  hosts: localhost
  gather_facts: false
  vars_files: [%(repo)s/playbooks/vars/lago_defaults.yml]
  tasks:
    - name: Look up, init on the entry, resume
      ansible.builtin.include_tasks: %(repo)s/playbooks/tasks/warm_start.yml
    - name: It must have been warm
      ansible.builtin.assert:
        that: lago_warm_resumed | default(false)
'''
EMPTY_PLAY = '''\
- name: Nothing
  hosts: localhost
  gather_facts: false
  vars_files: [%s/playbooks/vars/lago_defaults.yml]
  tasks: []
'''


def demo_dir(work, vms):
    """A copy of examples/demo in ``work``, with ``vms`` VMs like the demo's (at least its own)."""
    for name in os.listdir(os.path.join(REPO, 'examples', 'demo')):
        shutil.copy2(os.path.join(REPO, 'examples', 'demo', name), os.path.join(work, name))
    init_file = os.path.join(work, 'LagoInitFile')
    with open(init_file) as handle:
        text = handle.read()
    extra = ''.join(EXTRA_VM % ('app%02d' % number) for number in range(1, vms - 1))
    if extra:
        text = re.sub(r'(\nnets:)', '\n' + extra.rstrip('\n') + r'\1', text, count=1)
        with open(init_file, 'w') as handle:
            handle.write(text)
    return init_file


def ansible_playbook(work, args, env):
    started = time.monotonic()
    proc = subprocess.run(['ansible-playbook'] + args, cwd=work, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    took = time.monotonic() - started
    if proc.returncode != 0:
        sys.stdout.write(proc.stdout[-6000:])
        raise SystemExit('ansible-playbook %s failed (rc %d)' % (' '.join(args), proc.returncode))
    return took, proc.stdout


def site(work, env, warm, mark):
    """(seconds to deployed, seconds in all, output) of one site run."""
    with open(os.path.join(work, 'mark.yml'), 'w') as handle:
        handle.write(MARK_TASKS % mark)
    started = time.time()
    took, output = ansible_playbook(work, ['lago.lago.site', '-e', json.dumps(dict(
        lago_init_file='LagoInitFile', lago_warm=warm, lago_test_local_tasks='mark.yml'))], env)
    with open(mark) as handle:
        deployed = float(handle.read()) - started
    return deployed, took, output


def collection_version():
    """The version site.yml puts in the key (a play outside the collection cannot read galaxy.yml itself)."""
    with open(os.path.join(REPO, 'galaxy.yml')) as handle:
        return re.search(r'^version:\s*(\S+)', handle.read(), re.M).group(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--vms', type=int, default=2, help='VMs in the lab (the demo has 2)')
    parser.add_argument('--keep-cache', action='store_true', help='leave the scratch cache directory')
    parser.add_argument('--skip-baseline', action='store_true', help='no run 1: the cold figure is the saving run\'s')
    args = parser.parse_args()
    work = work_dir('lago-bench-warm-')
    cache = os.path.join(work, 'cache')
    demo_dir(work, max(args.vms, 2))
    env = dict(os.environ, LAGO_TEMPLATE_REPO=os.environ.get('LAGO_LAB_TEMPLATE_REPO',
                                                             '/var/cache/lago-lab/templates/repo.json'),
               LAGO_VIRT_TYPE='qemu', LAGO_CACHE_DIR=cache, ANSIBLE_LOCALHOST_WARNING='false')
    mark = os.path.join(work, 'deployed')
    try:
        if not args.skip_baseline:
            cold, cold_all, _out = site(work, env, False, mark)
            print('cold site (%d VMs): deployed after %.1f s, %.1f s in all' % (args.vms, cold, cold_all), flush=True)
        saved, saved_all, out = site(work, env, True, mark)
        if args.skip_baseline:
            cold = saved
        assert 'no complete entry' in out, out[-3000:]
        print('cold site saving to the cache: deployed (and saved) after %.1f s, %.1f s in all'
              % (saved, saved_all), flush=True)
        warm, warm_all, out = site(work, env, True, mark)
        assert 'warm-lab cache: resumed from entry' in out, out[-3000:]
        print('warm site: deployed after %.1f s, %.1f s in all' % (warm, warm_all), flush=True)
        with open(os.path.join(work, 'restore.yml'), 'w') as handle:
            handle.write(RESTORE_PLAY % dict(repo=REPO))
        with open(os.path.join(work, 'empty.yml'), 'w') as handle:
            handle.write(EMPTY_PLAY % REPO)
        restore, out = ansible_playbook(work, ['restore.yml', '-e', json.dumps(dict(
            lago_init_file='LagoInitFile', lago_collection_version=collection_version()))], env)
        answered = re.search(r'SSH answered after \[([^\]]*)\] s', out)
        ansible_playbook(work, ['lago.lago.destroy'], env)
        startup, _out = ansible_playbook(work, ['empty.yml'], env)
        print('restore from the cache (%d VMs: look up, init on the entry, resume, SSH answers): %.1f s, '
              '%.1f s without starting ansible-playbook (%.1f s); the guests\' first SSH logins after their resume '
              'took %s s' % (args.vms, restore, restore - startup, startup, answered.group(1) if answered else '?'))
        print('warm / cold to deployed: %.1f s / %.1f s: warm is %.1fx faster (target >= 5x); '
              'the cold run that saves pays %.1f s more; restore %.1f s (target <= 10 s for 3 VMs)'
              % (warm, cold, cold / warm, saved - cold, restore - startup))
    finally:
        subprocess.run(['ansible-playbook', 'lago.lago.destroy'], cwd=work, env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        if args.keep_cache:
            print('cache kept in %s' % cache)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
