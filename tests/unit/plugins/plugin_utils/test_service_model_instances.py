"""Unit tests of the instances and balancer fields of the service model."""
import pytest

from ansible_collections.opskit.ops.plugins.plugin_utils.service_model import (
    ServiceModelError,
    service_model,
)


def _one(**entry):
    base = {'name': 'semibot-runtime', 'port': 8000}
    base.update(entry)
    return service_model([base])['services'][0]


def test_single_instance_is_the_plain_unit_and_needs_no_balancer():
    svc = _one()
    assert svc['instances'] == 1
    assert svc['min_instances'] == 1
    assert svc['max_instances'] == 1
    assert svc['balancer'] is None
    assert svc['scaled'] is False
    assert svc['instance_list'] == svc['instance_slots']
    first = svc['instance_list'][0]
    assert first == {
        'index': 1,
        'name': 'semibot-runtime',
        'unit': 'semibot-runtime.service',
        'port': 8000,
        'server': 'semibot-runtime-1',
        'current_link': '/opt/semibot-runtime/current',
        'env_file': '/etc/semibot-runtime/instance-1.env',
        'log_file': '/var/log/semibot-runtime/agent.log',
        'urls': {'base': 'http://127.0.0.1:8000', 'health': 'http://127.0.0.1:8000/health',
                 'metrics': 'http://127.0.0.1:8000/metrics'},
    }
    assert first['unit'] == svc['unit'] and first['urls'] == svc['urls']
    assert svc['paths']['scale_file'] == '/etc/semibot-runtime/scale.json'
    assert svc['paths']['releases_dir'] == '/opt/semibot-runtime/releases'


def test_slots_up_to_max_instances_with_template_units_and_own_ports():
    svc = _one(instances=2, max_instances=4, balancer_port=9000)
    assert [s['port'] for s in svc['instance_slots']] == [8000, 8001, 8002, 8003]
    assert [s['index'] for s in svc['instance_list']] == [1, 2]
    assert svc['scaled'] is True
    assert _one(balancer_port=9000)['scaled'] is True
    third = svc['instance_slots'][2]
    assert third['unit'] == 'semibot-runtime@3.service'
    assert third['name'] == 'semibot-runtime@3'
    assert third['current_link'] == '/opt/semibot-runtime/current@3'
    assert third['log_file'] == '/var/log/semibot-runtime/agent@3.log'
    assert third['env_file'] == '/etc/semibot-runtime/instance-3.env'
    assert third['urls']['health'] == 'http://127.0.0.1:8002/health'
    assert svc['balancer'] == {
        'port': 9000, 'frontend': 'semibot-runtime', 'backend': 'semibot-runtime',
        'socket': '/run/haproxy/admin.sock',
        'urls': {'base': 'http://127.0.0.1:9000', 'health': 'http://127.0.0.1:9000/health'},
    }


def test_instances_share_store_and_state():
    svc = _one(instances=3)
    assert svc['max_instances'] == 3
    assert svc['paths']['database'] == '/var/lib/semibot-runtime/data/el_sessions.db'
    assert len({s['port'] for s in svc['instance_list']}) == 3
    assert len({s['log_file'] for s in svc['instance_list']}) == 3


def test_strings_are_coerced():
    svc = _one(instances='2', max_instances='3', min_instances='1', balancer_port='9100')
    assert (svc['instances'], svc['max_instances'], svc['balancer_port']) == (2, 3, 9100)


def test_reserved_ports_of_two_services_must_not_overlap():
    services = [{'name': 'agent-framework-api', 'port': 8000, 'max_instances': 2},
                {'name': 'agent-framework-worker', 'port': 8001}]
    with pytest.raises(ServiceModelError, match=r'agent-framework-worker\]\.port: port 8001 is already used by agent-framework-api \(instance 2\)'):
        service_model(services)


def test_balancer_port_must_not_hit_an_instance_port():
    with pytest.raises(ServiceModelError, match=r'balancer_port: port 8001 \(balancer\) is already used'):
        _one(max_instances=2, balancer_port=8001)


@pytest.mark.parametrize('entry, message', [
    ({'instances': 0}, r'\.instances: expected an integer 1-32'),
    ({'instances': 33}, r'\.instances: expected an integer 1-32'),
    ({'instances': 'many'}, r'\.instances: expected an integer'),
    ({'instances': 3, 'max_instances': 2}, r'min_instances <= instances <= max_instances, got 1 <= 3 <= 2'),
    ({'instances': 1, 'min_instances': 2, 'max_instances': 3}, r'got 2 <= 1 <= 3'),
    ({'balancer_port': 70000}, r'\.balancer_port: expected an integer 0-65535'),
    ({'port': 65535, 'max_instances': 2}, r'\.max_instances: ports 65535-65536 go beyond 65535'),
])
def test_bad_scaling_input_names_the_key(entry, message):
    with pytest.raises(ServiceModelError, match=message):
        _one(**entry)
