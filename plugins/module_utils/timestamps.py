# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The time stamps of records (snapshots, frozen layers, pool manifests)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime


def now():
    """UTC, ISO 8601, with microseconds (so that records taken in one second still sort)."""
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ')
