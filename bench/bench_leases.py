# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Subnet lease latency: 50 subnets leased and released one after another, then
from 8 processes at once. Prints the median and p99 per lease and per release
(target: p99 <= 50 ms per lease).

    python bench/bench_leases.py [--leases 50] [--procs 8] [--rounds 5] [--dir DIR]

Run it from the repository (it puts .collections on sys.path). The lease
directory is a fresh temporary one under --dir (default /var/tmp, a real disk:
every lease is fsync'ed), never the host's /var/lib/lago/subnets.
"""

from __future__ import absolute_import, division, print_function

import argparse
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, '.collections'))

from ansible_collections.lago.lago.plugins.module_utils import lease_owner  # noqa: E402
from ansible_collections.lago.lago.plugins.module_utils import subnet_lease as sl  # noqa: E402

TARGET_P99_MS = 50.0


def _owners(root, count):
    return [lease_owner.ensure_owner(os.path.join(root, 'owners', 'p%03d' % i, 'uuid'))[0] for i in range(count)]


def _lease_and_release(lease_dir, owners):
    """Lease one subnet per owner, then release them all; (lease ms, release ms) lists."""
    took, gave, leases = [], [], []
    for owner in owners:
        start = time.perf_counter()
        leases.append(sl.acquire(lease_dir, owner))
        took.append((time.perf_counter() - start) * 1000)
    for owner, lease in zip(owners, leases):
        start = time.perf_counter()
        assert sl.release(lease_dir, owner, lease['subnet'])
        gave.append((time.perf_counter() - start) * 1000)
    return took, gave


def _worker(lease_dir, owners, barrier, results):
    barrier.wait()
    results.put(_lease_and_release(lease_dir, owners))


def _parallel(lease_dir, owners, procs):
    ctx = multiprocessing.get_context('fork')
    barrier, results = ctx.Barrier(procs), ctx.Queue()
    shares = [owners[i::procs] for i in range(procs)]
    workers = [ctx.Process(target=_worker, args=(lease_dir, share, barrier, results)) for share in shares]
    for worker in workers:
        worker.start()
    took, gave = [], []
    for _done in workers:
        lease_ms, release_ms = results.get(timeout=120)
        took += lease_ms
        gave += release_ms
    for worker in workers:
        worker.join()
        if worker.exitcode != 0:
            raise SystemExit('a worker failed (exit %s)' % worker.exitcode)
    return took, gave


def _p99(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]


def _report(label, took, gave):
    print('%-34s lease: median %6.2f ms  p99 %6.2f ms  max %6.2f ms | release: median %6.2f ms  p99 %6.2f ms  (n=%d)'
          % (label, statistics.median(took), _p99(took), max(took),
             statistics.median(gave), _p99(gave), len(took)))
    return _p99(took)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--leases', type=int, default=50)
    parser.add_argument('--procs', type=int, default=8)
    parser.add_argument('--rounds', type=int, default=5, help='repeat each scenario to get enough samples for p99')
    parser.add_argument('--dir', default='/var/tmp')
    args = parser.parse_args()

    root = tempfile.mkdtemp(prefix='lago-bench-leases-', dir=args.dir)
    try:
        lease_dir = os.path.join(root, 'subnets')
        owners = _owners(root, args.leases)
        seq, par = ([], []), ([], [])
        for _round in range(args.rounds):
            for sink, (took, gave) in ((seq, _lease_and_release(lease_dir, owners)),
                                       (par, _parallel(lease_dir, owners, args.procs))):
                sink[0].extend(took)
                sink[1].extend(gave)
        assert sl.list_leases(lease_dir) == [], 'leases left behind'
        print('%d leases x %d rounds, lease dir on %s' % (args.leases, args.rounds, args.dir))
        worst = max(_report('sequential (1 process)', *seq),
                    _report('concurrent (%d processes at once)' % args.procs, *par))
        print('target p99 <= %.0f ms per lease: %s (worst p99 %.2f ms, %.1fx the target)'
              % (TARGET_P99_MS, 'met' if worst <= TARGET_P99_MS else 'MISSED', worst, worst / TARGET_P99_MS))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == '__main__':
    main()
