# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Snapshot timings: offline snapshot + revert of a 3-VM prefix (target <= 1 s),
and how long a live snapshot holds a running guest.

Run inside the lab:
    hack/lab exec python bench/bench_snapshot.py [--runs 5] [--no-live]

Offline: a 3-VM prefix that never boots; each run takes a snapshot of all
three and reverts to it, through the engine (snapshot_take / snapshot_revert plans)
as lago_snapshot calls it. Live: one VM is booted; a disk-only snapshot and a
memory snapshot are taken, each timed around the libvirt call and from the
domain's suspend/resume events.
"""

from __future__ import absolute_import, division, print_function

import argparse
import os
import shutil
import statistics
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, '.collections'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import work_dir  # noqa: E402

from ansible_collections.lago.lago.plugins.module_utils import (  # noqa: E402
    prefix_build, prefix_power, prefix_state, prefix_teardown, snapshot_revert, snapshot_take, spec_normalize as specs)
from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import connect, libvirt, lookup_domain  # noqa: E402
from ansible_collections.lago.lago.plugins.module_utils.prefix_state import Layout, PrefixState  # noqa: E402

INIT = {
    'domains': {name: {'memory': 512, 'nics': [{'net': 'lan'}],
                       'disks': [{'type': 'template', 'template_name': 'debian12', 'name': 'root', 'dev': 'vda'}]}
                for name in ('vm01', 'vm02', 'vm03')},
    'nets': {'lan': {'type': 'nat', 'management': True}},
}


class LifecycleEvents(object):
    """Suspend/resume events of one domain, with the time each arrived."""

    def __init__(self, conn, dom):
        self.seen = []
        self.callback = conn.domainEventRegisterAny(dom, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._event, None)
        self.conn = conn

    def _event(self, _conn, _dom, event, detail, _opaque):
        self.seen.append((time.monotonic(), event, detail))

    def paused_seconds(self, since):
        """Seconds between the first suspend and the next resume after ``since`` (None: no pause seen)."""
        suspended = next((at for at, event, _detail in self.seen
                          if at >= since and event == libvirt.VIR_DOMAIN_EVENT_SUSPENDED), None)
        if suspended is None:
            return None
        resumed = next((at for at, event, _detail in self.seen
                        if at >= suspended and event == libvirt.VIR_DOMAIN_EVENT_RESUMED), None)
        return None if resumed is None else resumed - suspended

    def close(self):
        self.conn.domainEventDeregisterAny(self.callback)


def start_event_loop():
    libvirt.virEventRegisterDefaultImpl()

    def loop():
        while True:
            libvirt.virEventRunDefaultImpl()
    threading.Thread(target=loop, name='libvirt-events', daemon=True).start()


def offline(layout, conn, runs):
    state = PrefixState.load(layout)
    times = []
    for run in range(runs):
        name = 'bench%d' % run
        started = time.perf_counter()
        snapshot_take.plan_take(conn, state, name).apply()
        taken = time.perf_counter()
        snapshot_revert.plan_revert(conn, state, name).apply()
        done = time.perf_counter()
        times.append((done - started, taken - started, done - taken))
        print('run %d: snapshot %.0f ms + revert %.0f ms = %.0f ms'
              % (run + 1, times[-1][1] * 1000, times[-1][2] * 1000, times[-1][0] * 1000), flush=True)
    total = statistics.median(item[0] for item in times)
    print('offline snapshot + revert of 3 VMs: median %.0f ms over %d runs (snapshot %.0f ms, revert %.0f ms); '
          'target <= 1000 ms -> %s' % (total * 1000, runs, statistics.median(item[1] for item in times) * 1000,
                                       statistics.median(item[2] for item in times) * 1000,
                                       'met' if total <= 1.0 else 'MISSED'))


def live(layout, conn):
    state = PrefixState.load(layout)
    prefix_power.start(conn, state, ['vm01'])
    ready = prefix_power.wait_for_ssh(state, ['vm01'])
    print('vm01 booted to SSH in %.1f s' % ready['vm01'], flush=True)
    dom = lookup_domain(conn, state.vm('vm01').libvirt_name)
    events = LifecycleEvents(conn, dom)
    try:
        for name, memory in (('live-disk', False), ('live-memory', True)):
            since = time.monotonic()
            taken = snapshot_take.plan_take(conn, state, name, ['vm01'], memory=memory).apply()['taken']['vm01']
            time.sleep(0.5)  # let the events arrive
            paused = events.paused_seconds(since)
            print('%s snapshot (%s): libvirt call %.0f ms; guest paused %s'
                  % (name, taken['consistency'], taken['pause_seconds'] * 1000,
                     'for %.0f ms (suspend -> resume events)' % (paused * 1000) if paused is not None
                     else 'never (no suspend event)'), flush=True)
    finally:
        events.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--no-live', action='store_true', help='skip the live snapshot (no boot)')
    default_repo = os.environ.get('LAGO_LAB_TEMPLATE_REPO', '/var/cache/lago-lab/templates/repo.json')
    parser.add_argument('--repo', default=default_repo)
    args = parser.parse_args()
    start_event_loop()
    work = work_dir('lago-bench-snapshot-')
    layout = Layout(os.path.join(work, 'prefix'))
    conn = connect()
    options = prefix_build.Options(template_repo=args.repo, template_store=os.path.join(work, 'store'),
                                   lease_dir=os.path.join(work, 'subnets'), virt_type='qemu')
    try:
        with prefix_state.open_prefix(layout.path, must_exist=False) as state:
            wanted = specs.normalize_spec(INIT, base_dir=work, prefix_path=layout.path)
            prefix_build.plan_present(conn, state, wanted, options).apply()
        offline(layout, conn, args.runs)
        if not args.no_live:
            live(layout, conn)
    finally:
        if os.path.exists(layout.state_file):
            prefix_teardown.destroy(conn, PrefixState.load(layout))
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
