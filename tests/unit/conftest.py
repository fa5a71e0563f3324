# -*- coding: utf-8 -*-
"""Unit tests run both through the repository's pytest.ini and through
``ansible-test units`` (its own pytest config): register our markers here so
both accept them."""

from __future__ import absolute_import, division, print_function


def pytest_configure(config):
    config.addinivalue_line('markers', 'lab: needs the lab (libvirtd in the lab namespace, qemu, the lab template)')
    config.addinivalue_line('markers', 'slow: boots VMs')
