"""Unit tests of the service model (plugins/plugin_utils/service_model.py)."""
import pytest

from ansible_collections.opskit.ops.plugins.plugin_utils.service_model import (
    ServiceModelError,
    service_model,
)

FRAMEWORK = [
    {'name': 'agent-framework-api', 'runbook': '001', 'role': 'api', 'user': 'agent-framework', 'port': 8000},
    {'name': 'agent-framework-worker', 'runbook': '001', 'role': 'worker', 'user': 'agent-framework',
     'shares_store_of': 'agent-framework-api', 'port': 8001},
]


def test_defaults_applied_to_a_minimal_entry():
    svc = service_model([{'name': 'el-bot', 'port': 8000}])['services'][0]
    assert svc['role'] == 'api'
    assert svc['user'] == 'el-bot'
    assert svc['group'] == 'el-bot'
    assert svc['environment'] == 'production'
    assert svc['store'] == 'sqlite'
    assert svc['workers'] == 1
    assert svc['trace'] is False
    assert svc['dynamic_tools'] is False
    assert svc['store_owner'] == 'el-bot'
    assert svc['unit'] == 'el-bot.service'
    assert svc['shares_store_of'] == ''


def test_paths_and_urls_of_a_service():
    svc = service_model([{'name': 'el-bot', 'port': 8000, 'trace': True}], address='10.0.0.5')['services'][0]
    paths = svc['paths']
    assert paths['home'] == '/var/lib/el-bot'
    assert paths['data_dir'] == '/var/lib/el-bot/data'
    assert paths['database'] == '/var/lib/el-bot/data/el_sessions.db'
    assert paths['env_file'] == '/etc/el-bot/el-bot.env'
    assert paths['state_dir'] == '/var/lib/el-bot/state'
    assert paths['log_dir'] == '/var/log/el-bot'
    assert paths['log_file'] == '/var/log/el-bot/agent.log'
    assert paths['trace_dir'] == '/var/log/el-bot/wal'
    assert paths['tools_dir'] is None and paths['audit_log'] is None
    assert paths['watched'] == ['/var/lib/el-bot', '/var/log/el-bot']
    assert svc['urls'] == {'base': 'http://10.0.0.5:8000', 'health': 'http://10.0.0.5:8000/health',
                           'metrics': 'http://10.0.0.5:8000/metrics'}


def test_dynamic_tools_layout():
    paths = service_model([{'name': 'dynamic-tools', 'port': 8000, 'dynamic_tools': True}])['services'][0]['paths']
    assert paths['tools_dir'] == '/var/lib/dynamic-tools/.pi/tools'
    assert paths['audit_log'] == '/var/lib/dynamic-tools/.pi/logs/dynamic-tools-audit.jsonl'
    assert paths['tools_backup_dir'] == '/var/lib/dynamic-tools/.pi/tools/backup'
    assert paths['quarantine_dir'] == '/var/lib/dynamic-tools/.pi/quarantine'


def test_shared_store_resolves_to_its_owner():
    model = service_model(FRAMEWORK)
    api, worker = model['services']
    assert worker['store_owner'] == 'agent-framework-api'
    assert worker['paths']['database'] == api['paths']['database'] == '/var/lib/agent-framework-api/data/el_sessions.db'
    assert worker['paths']['home'] == '/var/lib/agent-framework-api'
    # Its own state and logs stay its own.
    assert worker['paths']['state_dir'] == '/var/lib/agent-framework-worker/state'
    assert worker['paths']['log_dir'] == '/var/log/agent-framework-worker'
    assert api['shared_by'] == ['agent-framework-worker']
    assert model['stores'] == [{'owner': 'agent-framework-api', 'kind': 'sqlite',
                                'path': '/var/lib/agent-framework-api/data/el_sessions.db',
                                'data_dir': '/var/lib/agent-framework-api/data', 'user': 'agent-framework',
                                'services': ['agent-framework-api', 'agent-framework-worker']}]
    assert model['names'] == ['agent-framework-api', 'agent-framework-worker']
    assert model['by_name']['agent-framework-worker'] is worker


def test_postgres_service_has_no_sqlite_path():
    model = service_model([{'name': 'multi-agent', 'port': 8000, 'store': 'postgres'}])
    assert model['services'][0]['paths']['database'] is None
    assert model['stores'][0]['kind'] == 'postgres'


def test_roots_can_be_moved():
    model = service_model([{'name': 'x', 'port': 1}], roots={'data_root': '/srv/data/', 'log_root': '/srv/log'})
    assert model['services'][0]['paths']['database'] == '/srv/data/x/data/el_sessions.db'
    assert model['services'][0]['paths']['log_dir'] == '/srv/log/x'
    assert model['services'][0]['paths']['env_file'] == '/etc/x/x.env'


def test_strings_from_inventory_are_coerced():
    svc = service_model([{'name': 'x', 'port': '8080', 'workers': '3', 'trace': 'yes'}])['services'][0]
    assert (svc['port'], svc['workers'], svc['trace']) == (8080, 3, True)


def test_empty_and_none_give_an_empty_model():
    assert service_model(None)['services'] == []
    assert service_model([])['stores'] == []


@pytest.mark.parametrize('services, message', [
    ('el-bot', 'expected a list'),
    ([['el-bot']], r'opskit_services\[0\]: expected a dict'),
    ([{'port': 8000}], r'opskit_services\[0\].name'),
    ([{'name': 'El_Bot', 'port': 8000}], r'opskit_services\[0\].name'),
    ([{'name': 'x'}], r'opskit_services\[x\].port: required'),
    ([{'name': 'x', 'port': 70000}], r'opskit_services\[x\].port: expected an integer 1-65535'),
    ([{'name': 'x', 'port': 'http'}], r'opskit_services\[x\].port'),
    ([{'name': 'x', 'port': True}], r'opskit_services\[x\].port'),
    ([{'name': 'x', 'port': 1, 'role': 'cron'}], r'opskit_services\[x\].role: expected one of api, worker'),
    ([{'name': 'x', 'port': 1, 'store': 'mysql'}], r'\.store: expected one of sqlite, postgres'),
    ([{'name': 'x', 'port': 1, 'environment': 'prod'}], r'\.environment: expected one of test, production'),
    ([{'name': 'x', 'port': 1, 'trace': 'maybe'}], r'\.trace: expected a boolean'),
    ([{'name': 'x', 'port': 1, 'workers': 0}], r'\.workers: expected an integer 1-64'),
    ([{'name': 'x', 'port': 1, 'runbook': '9'}], r'\.runbook: expected one of'),
    ([{'name': 'x', 'port': 1, 'prot': 2}], r"opskit_services\[x\]: unknown key\(s\) prot"),
    ([{'name': 'x', 'port': 1}, {'name': 'x', 'port': 2}], 'used twice'),
    ([{'name': 'x', 'port': 1}, {'name': 'y', 'port': 1}], 'port 1 is already used by x'),
    ([{'name': 'x', 'port': 1, 'shares_store_of': 'z'}], "'z' is not a service on this host"),
    ([{'name': 'x', 'port': 1, 'shares_store_of': 'x'}], 'cannot share its own store'),
    ([{'name': 'x', 'port': 1}, {'name': 'y', 'port': 2, 'shares_store_of': 'x'}], 'same user'),
    ([{'name': 'x', 'port': 1, 'user': 'u'}, {'name': 'y', 'port': 2, 'user': 'u', 'shares_store_of': 'x',
                                              'store': 'postgres'}], 'a shared store must be the same'),
    ([{'name': 'x', 'port': 1, 'user': 'u'}, {'name': 'y', 'port': 2, 'user': 'u', 'shares_store_of': 'x'},
      {'name': 'z', 'port': 3, 'user': 'u', 'shares_store_of': 'y'}], 'point at the owner directly'),
])
def test_bad_input_names_the_entry_and_what_is_expected(services, message):
    with pytest.raises(ServiceModelError, match=message):
        service_model(services)


def test_bad_roots_are_refused():
    with pytest.raises(ServiceModelError, match='unknown key'):
        service_model([], roots={'datadir': '/x'})
    with pytest.raises(ServiceModelError, match='absolute path'):
        service_model([], roots={'data_root': 'relative'})
