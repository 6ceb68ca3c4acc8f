"""Append backdated audit entries and one corrupted line to a runbook 004 audit log.

Usage: audit_append.py LOG OLD_COUNT DAYS_AGO GARBAGE
Each line is written like the service does (O_APPEND, one write per line).
Prints JSON: lines before and after, the garbage line's number.
"""
import datetime
import json
import os
import sys


def append(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def count(path):
    with open(path, 'rb') as f:
        return sum(1 for _line in f)


def main():
    path, old, days, garbage = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    before = count(path)
    base = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days)
    tools = ['json_formatter', 'text_counter', 'csv_parser']
    for i in range(old):
        ts = (base + datetime.timedelta(seconds=i)).strftime('%Y-%m-%dT%H:%M:%S.') + '000Z'
        entry = {'id': 'audit_old%06d' % i, 'timestamp': ts, 'action': 'tool.run', 'toolId': 'dt_000000000000',
                 'toolName': tools[i % 3], 'actor': 'molecule', 'details': {'executionTimeMs': 100 + i % 50},
                 'success': True, 'errorMessage': None}
        append(path, (json.dumps(entry, separators=(',', ':')) + '\n').encode())
    append(path, garbage.encode() + b'\n')
    after = count(path)
    print(json.dumps({'before': before, 'after': after, 'garbage_line': after}))


if __name__ == '__main__':
    main()
