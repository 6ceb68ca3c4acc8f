"""Filter opskit.ops.agent_app_env: one service of the service model -> the reference service's environment."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.opskit.ops.plugins.filter.agent_app_env import agent_app_env
from ansible_collections.opskit.ops.plugins.plugin_utils.service_model import service_model


def _svc(entries, name, **kwargs):
    return service_model(entries, **kwargs)['by_name'][name]


def test_el_bot_with_trace_logs():
    env = agent_app_env(_svc([{'name': 'el-bot', 'port': 8000, 'trace': True}], 'el-bot'))
    assert env == {
        'ENVIRONMENT': 'production', 'AGENT_ROLE': 'api', 'AGENT_BIND': '0.0.0.0', 'AGENT_PORT': '8000',
        'AGENT_WORKERS': '1', 'AGENT_STORE': 'sqlite',
        'AGENT_STATE_DIR': '/var/lib/el-bot/state', 'AGENT_LOG_FILE': '/var/log/el-bot/agent.log',
        'EL_TRACE': '1', 'EL_TRACE_DIR': '/var/log/el-bot/wal',
        'EL_SQLITE_PATH': '/var/lib/el-bot/data/el_sessions.db',
    }


def test_worker_opens_the_store_of_its_api():
    entries = [
        {'name': 'agent-framework-api', 'user': 'agent-framework', 'port': 8000},
        {'name': 'agent-framework-worker', 'role': 'worker', 'user': 'agent-framework',
         'shares_store_of': 'agent-framework-api', 'port': 8001},
    ]
    env = agent_app_env(_svc(entries, 'agent-framework-worker'))
    assert env['EL_SQLITE_PATH'] == '/var/lib/agent-framework-api/data/el_sessions.db'
    assert env['AGENT_STATE_DIR'] == '/var/lib/agent-framework-worker/state'
    assert env['AGENT_LOG_FILE'] == '/var/log/agent-framework-worker/agent.log'
    assert env['AGENT_ROLE'] == 'worker'


def test_postgres_store_without_trace_sets_no_sqlite_or_trace_path():
    env = agent_app_env(_svc([{'name': 'multi-agent', 'port': 8000, 'store': 'postgres',
                               'environment': 'test', 'workers': '3'}], 'multi-agent'))
    assert 'EL_SQLITE_PATH' not in env
    assert 'EL_TRACE_DIR' not in env
    assert env['EL_TRACE'] == '0'
    assert env['ENVIRONMENT'] == 'test'
    assert env['AGENT_STORE'] == 'postgres'
    assert env['AGENT_WORKERS'] == '3'


def test_dynamic_tools_dir_is_the_parent_of_the_pi_dir_and_follows_the_roots():
    svc = _svc([{'name': 'dynamic-tools', 'port': 8000, 'dynamic_tools': True}], 'dynamic-tools',
               roots={'data_root': '/srv/data'})
    env = agent_app_env(svc)
    assert env['AGENT_DYNAMIC_TOOLS_DIR'] == '/srv/data/dynamic-tools'
    assert env['EL_SQLITE_PATH'] == '/srv/data/dynamic-tools/data/el_sessions.db'


def test_extra_settings_win_and_become_strings():
    env = agent_app_env(_svc([{'name': 'el-bot', 'port': 8000}], 'el-bot'), {'AGENT_BIND': '127.0.0.1', 'X': 5})
    assert env['AGENT_BIND'] == '127.0.0.1'
    assert env['X'] == '5'


@pytest.mark.parametrize('service, extra, message', [
    ({'name': 'el-bot', 'port': 8000}, None, 'el-bot is not a service of opskit_model.services (missing role'),
    ('el-bot', None, 'expected one service of opskit_model.services'),
    (None, ['A=1'], 'agent_app_extra_env: expected a dict'),
])
def test_bad_input_is_named(service, extra, message):
    if service is None:
        service = _svc([{'name': 'el-bot', 'port': 8000}], 'el-bot')
    with pytest.raises(AnsibleFilterError) as exc:
        agent_app_env(service, extra)
    assert message in str(exc.value)
