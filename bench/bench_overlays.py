# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Creating thin overlays through qemu_img.create vs. bare ``qemu-img create`` calls.

Prints per-overlay times and the ratio (target: <= 1.2). Both sides run the
same qemu-img argv; calls alternate so that machine noise hits both alike.

    python bench/bench_overlays.py [--count 50]
"""

from __future__ import absolute_import, division, print_function

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, '.collections'))

from ansible_collections.lago.lago.plugins.module_utils import qemu_img  # noqa: E402


def bare(base, path):
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', base, '-F', 'qcow2', path], check=True)


def wrapped(base, path):
    qemu_img.create(path, backing_file=base, backing_format='qcow2')


def timed(create, base, path):
    start = time.perf_counter()
    create(base, path)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--count', type=int, default=50, help='overlays per side (default 50)')
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix='lago-bench-overlays-')
    try:
        base = os.path.join(work, 'base.qcow2')
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', base, '1G'], check=True)
        for number in range(3):  # imports, page cache
            wrapped(base, os.path.join(work, 'warm%d.qcow2' % number))
        times = dict(bare=[], wrapped=[])
        for number in range(args.count):
            # One of each, in alternating order, so that noise from other load hits both alike.
            pair = (('bare', bare), ('wrapped', wrapped))
            for name, create in pair if number % 2 else pair[::-1]:
                times[name].append(timed(create, base, os.path.join(work, '%s%02d.qcow2' % (name, number))))
        total = dict((name, sum(values)) for name, values in times.items())
        median = dict((name, statistics.median(values)) for name, values in times.items())
        print('overlays per side:            %d' % args.count)
        for name, label in (('bare', 'bare qemu-img create:        '), ('wrapped', 'qemu_img.create (this layer):')):
            print('%s %.2f ms/overlay mean, %.2f ms median (%.3f s total)'
                  % (label, 1000 * total[name] / args.count, 1000 * median[name], total[name]))
        print('ratio wrapped/bare:           %.3f of totals, %.3f of medians (target <= 1.2)'
              % (total['wrapped'] / total['bare'], median['wrapped'] / median['bare']))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
