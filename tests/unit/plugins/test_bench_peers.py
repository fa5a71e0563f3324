# -*- coding: utf-8 -*-
"""bench/bench_peers.py's arguments (the benchmark itself boots VMs of three tools: CI never runs it)."""

from __future__ import absolute_import, division, print_function

import importlib.util
import os

import pytest

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
                      'bench', 'bench_peers.py')


@pytest.fixture(scope='module')
def bench():
    spec = importlib.util.spec_from_file_location('bench_peers', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_defaults_are_the_issue_s_setup(bench):
    args = bench.parse_args([])
    assert args.what == 'run'
    assert (args.vms, args.rounds, args.memory) == (3, 2, 512)
    assert args.tools == ['lago', 'kcli', 'virt-lightning']
    assert args.venv.endswith('/venv') and args.repo.endswith('/templates/repo.json')


def test_tools_and_sizes_are_chosen(bench):
    args = bench.parse_args(['prepare', '--tools', 'lago, kcli', '--vms', '1', '--rounds', '4', '--home', '/x'])
    assert (args.what, args.tools, args.vms, args.rounds) == ('prepare', ['lago', 'kcli'], 1, 4)
    assert (args.venv, args.repo) == ('/x/venv', '/x/templates/repo.json')


@pytest.mark.parametrize('argv,message', [
    (['--tools', 'lago,vagrant'], '--tools: unknown tool(s) vagrant'),
    (['--vms', '0'], '--vms and --rounds must be at least 1'),
    (['--rounds', '0'], '--vms and --rounds must be at least 1'),
    (['measure'], "invalid choice: 'measure'"),
])
def test_bad_arguments_are_named(bench, capsys, argv, message):
    with pytest.raises(SystemExit) as exited:
        bench.parse_args(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_help_says_where_each_step_runs(bench, capsys):
    with pytest.raises(SystemExit):
        bench.parse_args(['--help'])
    out = capsys.readouterr().out
    assert 'prepare' in out and 'inside the lab' in out


def test_ratios_and_what_a_peer_cannot_do_are_printed(bench, capsys):
    args = bench.parse_args([])
    figures = {'lago': {'init': [4.0, 6.0], 'start': [50.0], 'destroy': [2.0]},
               'kcli': {'init': [2.5], 'start': [100.0], 'destroy': [4.0]},
               'virt-lightning': {'init': [], 'start': [110.0], 'destroy': []}}
    tools = [cls(args, '/nonexistent', None) for cls in (bench.Lago, bench.Kcli, bench.VirtLightning)]
    bench.report(args, tools, figures, ['round 2, virt-lightning destroy: boom'], [], [1.0, 3.0])
    out = capsys.readouterr().out
    assert 'ansible start-up: 2.0 s (`ansible localhost -m ping`, median' in out
    assert 'lago/kcli: init 2.00, start 0.50, destroy 0.50' in out
    assert 'lago/virt-lightning: start 0.45, init+start vs its create+start 0.50' in out
    assert 'cannot create VMs without starting them' in out
    assert 'FAILED: round 2, virt-lightning destroy: boom' in out
    assert 'left behind: nothing' in out
