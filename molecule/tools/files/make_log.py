"""Write a runbook 004 audit log of LINES entries, the first OLD of them 40 days old.

Usage: make_log.py PATH LINES OLD
"""
import datetime
import json
import sys


def main():
    path, lines, old = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    now = datetime.datetime.now(datetime.timezone.utc)
    with open(path, 'w', encoding='utf-8') as f:
        for i in range(lines):
            when = now - datetime.timedelta(days=40 if i < old else 0, seconds=lines - i)
            entry = {'id': 'audit_full%06d' % i, 'timestamp': when.strftime('%Y-%m-%dT%H:%M:%S.') + '000Z',
                     'action': 'tool.run', 'toolId': 'dt_0123456789ab', 'toolName': 'json_formatter',
                     'actor': 'molecule', 'details': {'executionTimeMs': 150, 'parameters': {'input': 'x' * 80}},
                     'success': True, 'errorMessage': None}
            f.write(json.dumps(entry, separators=(',', ':')) + '\n')


if __name__ == '__main__':
    main()
