# -*- coding: utf-8 -*-
"""lago_vxlan's execute(): bad input is refused naming the option, before ip(8) is run."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.lago.lago.plugins.module_utils import vxlan
from ansible_collections.lago.lago.plugins.module_utils.errors import LagoError
from ansible_collections.lago.lago.plugins.modules import lago_vxlan

from ansible_collections.lago.lago.tests.unit.plugins.modules.module_helpers import module_params


@pytest.mark.parametrize('given, message', [
    (dict(bridge='a-bridge-name-too-long', vni=1, local='192.168.250.11'), 'bridge'),
    (dict(bridge='lg0', vni=1, local='hv1'), "local: 'hv1' is not an IPv4 address"),
    (dict(bridge='lg0', vni=1, local='192.168.250.11', peers=['192.168.250.12', 'hv3']),
     "peers[1]: 'hv3' is not an IPv4 address"),
])
def test_bad_input_names_the_option_and_runs_nothing(make_run, monkeypatch, given, message):
    ran = []
    monkeypatch.setattr(vxlan, 'run', lambda argv, **kwargs: ran.append(argv))
    run = make_run(check_mode=False, diff=False, **module_params(lago_vxlan.ARGUMENT_SPEC, **given))
    with pytest.raises(LagoError) as caught:
        lago_vxlan.execute(run)
    assert message in str(caught.value)
    assert ran == []
