"""Boot-to-SSH benchmark for the lab template (issue: median <= 45 s under TCG).

Run inside the lab:  hack/lab exec python bench/bench_boot.py [--runs 3] [--template NAME]
Each run: createXML of a fresh overlay + NoCloud seed, then poll SSH until a
login with the seeded key (strict host key) works. Prints each run and the median.
"""

from __future__ import absolute_import, division, print_function

import argparse
import os
import shutil
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests'))
from lablib import BootedVM, Cleanup, lab_connection, make_nat_network, template_image  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import work_dir  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--template', default='debian12')
    default_repo = os.environ.get('LAGO_LAB_TEMPLATE_REPO', '/var/cache/lago-lab/templates/repo.json')
    parser.add_argument('--repo', default=default_repo)
    args = parser.parse_args()
    image = template_image(args.repo, args.template)
    conn = lab_connection()
    workdir = work_dir('lago-bench-boot-')
    cleanup = Cleanup()
    times = []
    try:
        make_nat_network(conn, 'lagobench', 232, cleanup)
        for run in range(args.runs):
            vm_cleanup = Cleanup()
            vm = BootedVM(workdir, 'bench-%d' % run, image, 'lagobench', '192.168.232.%d' % (10 + run),
                          '192.168.232.1')
            try:
                started = vm.start(conn, vm_cleanup)
                ready = vm.wait_for_ssh(timeout=300)
                times.append(ready - started)
                print('run %d: boot to SSH login %.1f s' % (run + 1, times[-1]), flush=True)
            finally:
                vm_cleanup.run()
    finally:
        cleanup.run()
        shutil.rmtree(workdir, ignore_errors=True)
    print('template %s: median boot-to-SSH %.1f s over %d runs (min %.1f, max %.1f); target <= 45 s'
          % (args.template, statistics.median(times), len(times), min(times), max(times)))


if __name__ == '__main__':
    main()
