"""Unit tests of plugins/filter/scaling.py (scale decisions, measurements, HAProxy backends)."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.opskit.ops.plugins.filter.scaling import (
    lb_backends,
    scale_decision,
    scale_measurements,
)
from ansible_collections.opskit.ops.plugins.plugin_utils.service_model import service_model


def _m(**values):
    out = {key: {'value': None, 'source': None}
           for key in ('cpu_percent', 'memory_percent', 'p95_seconds', 'error_rate', 'queue_length')}
    for key, value in values.items():
        out[key] = {'value': value, 'source': 'semibot-runtime-1' if key not in ('cpu_percent', 'memory_percent')
                    else 'host'}
    return out


IDLE = dict(cpu_percent=5.0, memory_percent=20.0)


@pytest.mark.parametrize('values, text', [
    (dict(cpu_percent=71.0, memory_percent=20.0), 'CPU 71% > 70%'),
    (dict(cpu_percent=5.0, memory_percent=80.5), 'memory 80.5% > 80%'),
    (dict(IDLE, p95_seconds=5.2), 'P95 latency 5.2s > 5s'),
    (dict(IDLE, error_rate=0.5), 'error rate 0.5 > 0.05 at semibot-runtime-1'),
    (dict(IDLE, queue_length=101.0), 'queue length 101 > 100'),
])
def test_each_runbook_threshold_scales_out(values, text):
    decision = scale_decision(_m(**values), current=1, minimum=1, maximum=3)
    assert decision['action'] == 'out'
    assert decision['target'] == 2
    assert text in decision['message']
    assert decision['message'].startswith('out: 1 -> 2 instance(s): ')


def test_exactly_at_the_out_threshold_is_not_out():
    decision = scale_decision(_m(cpu_percent=70.0, memory_percent=80.0, error_rate=0.05), 2, 1, 3)
    assert decision['action'] == 'hold'
    assert decision['target'] == 2


def test_idle_scales_in_and_no_traffic_counts_as_idle():
    decision = scale_decision(_m(**IDLE), current=3, minimum=1, maximum=3)
    assert (decision['action'], decision['target']) == ('in', 2)
    assert 'error rate no data' in decision['message']
    assert 'CPU 5' in decision['message']


def test_idle_at_min_instances_holds_and_says_why():
    decision = scale_decision(_m(**IDLE), current=1, minimum=1, maximum=3)
    assert (decision['action'], decision['wanted'], decision['target']) == ('hold', 'in', 1)
    assert 'is the min_instances' in decision['message']


def test_overloaded_at_max_instances_holds_and_says_why():
    decision = scale_decision(_m(cpu_percent=95.0, memory_percent=10.0), current=3, minimum=1, maximum=3)
    assert (decision['action'], decision['wanted'], decision['target']) == ('hold', 'out', 3)
    assert 'CPU 95% > 70%' in decision['message']
    assert 'is the max_instances' in decision['message']


def test_between_thresholds_holds_with_the_measurement():
    decision = scale_decision(_m(cpu_percent=50.0, memory_percent=20.0), current=2, minimum=1, maximum=3)
    assert decision['action'] == 'hold'
    assert 'CPU 50% >= 30%' in decision['message']


def test_several_reasons_are_all_listed_and_step_is_bounded():
    decision = scale_decision(_m(cpu_percent=90.0, memory_percent=20.0, error_rate=0.2), 2, 1, 4, step=5)
    assert decision['target'] == 4
    assert [r['metric'] for r in decision['reasons']] == ['cpu_percent', 'error_rate']


def test_count_outside_bounds_is_brought_back():
    decision = scale_decision(_m(cpu_percent=50.0, memory_percent=20.0), current=5, minimum=1, maximum=3)
    assert (decision['action'], decision['target']) == ('in', 3)


def test_thresholds_can_be_overridden_and_are_checked():
    decision = scale_decision(_m(cpu_percent=50.0, memory_percent=20.0), 1, 1, 2, {'out_cpu_percent': 40})
    assert decision['action'] == 'out'
    with pytest.raises(AnsibleFilterError, match='scale_thresholds: unknown key'):
        scale_decision(_m(), 1, 1, 2, {'cpu': 40})
    with pytest.raises(AnsibleFilterError, match=r'scale_thresholds.in_cpu_percent: expected a number'):
        scale_decision(_m(), 1, 1, 2, {'in_cpu_percent': 'low'})
    with pytest.raises(AnsibleFilterError, match='min_instances <= max_instances'):
        scale_decision(_m(), 1, 3, 2)


def test_measurements_take_the_worst_target_and_convert_ms():
    capacity = {'host': {'cpu_percent': 12.5, 'memory_percent': 41.2}}
    metrics = {'targets': [
        {'name': 'semibot-runtime-1', 'rules': [
            {'rule': 'error rate', 'labels': {'mode': 'runtime_orchestrator'}, 'value': 0.02},
            {'rule': 'latency p95 ms', 'labels': {'mode': 'runtime_orchestrator'}, 'value': 800.0}]},
        {'name': 'semibot-runtime-2', 'rules': [
            {'rule': 'error rate', 'labels': {'mode': 'runtime_orchestrator'}, 'value': 0.4},
            {'rule': 'latency p95 ms', 'labels': {}, 'value': None},
            {'rule': 'latency p95 ms', 'labels': {'mode': 'direct_llm'}, 'value': float('nan')},
            {'rule': 'something else', 'labels': {}, 'value': 99.0}]},
    ]}
    found = scale_measurements(capacity, metrics)
    assert found['cpu_percent'] == {'value': 12.5, 'source': 'host'}
    assert found['memory_percent'] == {'value': 41.2, 'source': 'host'}
    assert found['error_rate'] == {'value': 0.4, 'source': 'semibot-runtime-2{mode="runtime_orchestrator"}'}
    assert found['p95_seconds'] == {'value': 0.8, 'source': 'semibot-runtime-1{mode="runtime_orchestrator"}'}
    assert found['queue_length'] == {'value': None, 'source': None}


def test_measurements_of_a_single_url_result():
    found = scale_measurements({}, {'rules': [{'name': 'queue length', 'value': 150, 'labels': {'queue': 'jobs'}}]})
    assert found['queue_length'] == {'value': 150.0, 'source': '{queue="jobs"}'}
    assert found['cpu_percent']['value'] is None


def test_lb_backends_follow_the_counts():
    model = service_model([{'name': 'semibot-runtime', 'port': 8000, 'max_instances': 3, 'balancer_port': 9000},
                           {'name': 'el-bot', 'port': 8100}])
    assert lb_backends(model, {'semibot-runtime': 2}) == [{
        'name': 'semibot-runtime', 'bind': '*', 'port': 9000,
        'servers': [{'name': 'semibot-runtime-1', 'address': '127.0.0.1', 'port': 8000},
                    {'name': 'semibot-runtime-2', 'address': '127.0.0.1', 'port': 8001}]}]
    assert [len(b['servers']) for b in lb_backends(model)] == [1]
    assert [len(b['servers']) for b in lb_backends(model, {'semibot-runtime': {'instances': 3, 'workers': 1}})] == [3]
    with pytest.raises(AnsibleFilterError, match=r'instances of semibot-runtime: expected 1-3 \(max_instances\), got 4'):
        lb_backends(model, {'semibot-runtime': 4})
    with pytest.raises(AnsibleFilterError, match='expected opskit_model'):
        lb_backends([])


def test_scale_records_default_to_the_model_and_are_bounded():
    import base64
    import json
    from ansible_collections.opskit.ops.plugins.filter.scaling import scale_records
    model = service_model([{'name': 'semibot-runtime', 'port': 8000, 'max_instances': 3, 'workers': 2},
                           {'name': 'el-bot', 'port': 8100}])
    runtime, el_bot = model['services']

    def content(data):
        return base64.b64encode(json.dumps(data).encode()).decode()

    results = [{'item': runtime, 'content': content({'instances': 3, 'workers': 4})},
               {'item': el_bot, 'failed': True, 'msg': 'file not found'}]
    assert scale_records(results, model) == {'semibot-runtime': {'instances': 3, 'workers': 4},
                                             'el-bot': {'instances': 1, 'workers': 1}}
    results = [{'item': runtime, 'content': content({'instances': 9, 'workers': True})}]
    assert scale_records(results, model)['semibot-runtime'] == {'instances': 3, 'workers': 2}
    with pytest.raises(AnsibleFilterError, match='scale file of semibot-runtime .* is not JSON'):
        scale_records([{'item': runtime, 'content': base64.b64encode(b'{').decode()}], model)


def test_scale_targets_are_the_running_instances():
    from ansible_collections.opskit.ops.plugins.filter.scaling import scale_targets
    svc = service_model([{'name': 'semibot-runtime', 'port': 8000, 'max_instances': 3}])['services'][0]
    rules = [{'name': 'error rate'}]
    out = scale_targets(svc, 2, rules)
    assert out == {
        'targets': [{'name': 'semibot-runtime-1', 'url': 'http://127.0.0.1:8000/metrics', 'rules': rules},
                    {'name': 'semibot-runtime-2', 'url': 'http://127.0.0.1:8001/metrics', 'rules': rules}],
        'processes': [{'name': 'semibot-runtime-1', 'unit': 'semibot-runtime.service'},
                      {'name': 'semibot-runtime-2', 'unit': 'semibot-runtime@2.service'}],
    }
    with pytest.raises(AnsibleFilterError, match='expected one service'):
        scale_targets({}, 1)
