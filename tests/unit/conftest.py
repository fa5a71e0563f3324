# -*- coding: utf-8 -*-
"""Unit tests run both through the repository's pytest.ini and through
``ansible-test units`` (its own pytest config): register our markers here so
both accept them, and keep this machine's own subnets out of the leases."""

from __future__ import absolute_import, division, print_function

import pytest


def pytest_configure(config):
    config.addinivalue_line('markers', 'lab: needs the lab (libvirtd in the lab namespace, qemu, the lab template)')
    config.addinivalue_line('markers', 'slow: boots VMs')


@pytest.fixture(autouse=True)
def _host_subnets_of_nobody(monkeypatch):
    """Leases skip subnets the host uses (host_subnets.host_in_use): unit tests must not depend
    on this machine's addresses and routes. Tests of that check override this fixture."""
    from ansible_collections.lago.lago.plugins.module_utils import host_subnets
    monkeypatch.setattr(host_subnets, 'host_in_use', lambda: [])
