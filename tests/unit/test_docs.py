"""Documents state only what a user has: no pointers outside the repository,
no links to files that do not exist, every role in README's role table."""
import os
import re

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
SKIP_DIRS = {'.git', 'collections', 'build', 'reports', '.cache', '.molecule', 'node_modules', '.pytest_cache',
             '.hypothesis', '.ansible', 'output'}
# Paths of a build machine or of material outside the repository.
FORBIDDEN = [re.compile(p) for p in (r'\.\./shared\b', r'/work/(main|shared)\b', r'shared/seeds', r'/root/\.pyenv')]
LINK = re.compile(r'\[[^\]]*\]\(([^)\s]+)\)')


def _documents():
    for top, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith('.venv')]
        for name in files:
            if name.endswith('.md'):
                yield os.path.join(top, name)


DOCUMENTS = sorted(_documents())


def test_documents_found():
    assert os.path.join(ROOT, 'README.md') in DOCUMENTS
    assert len(DOCUMENTS) >= 10


@pytest.mark.parametrize('path', DOCUMENTS, ids=lambda p: os.path.relpath(p, ROOT))
def test_no_pointer_outside_the_repository(path):
    with open(path, encoding='utf-8') as handle:
        text = handle.read()
    hits = [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1)
            if any(pattern.search(line) for pattern in FORBIDDEN)]
    assert hits == []


@pytest.mark.parametrize('path', DOCUMENTS, ids=lambda p: os.path.relpath(p, ROOT))
def test_relative_links_resolve(path):
    with open(path, encoding='utf-8') as handle:
        text = handle.read()
    broken = []
    for target in LINK.findall(text):
        if re.match(r'^[a-z]+:', target) or target.startswith('#'):
            continue
        file_part = target.split('#', 1)[0]
        if not os.path.exists(os.path.normpath(os.path.join(os.path.dirname(path), file_part))):
            broken.append(target)
    assert broken == []


def test_readme_role_table_lists_every_role():
    with open(os.path.join(ROOT, 'README.md'), encoding='utf-8') as handle:
        readme = handle.read()
    roles = sorted(d for d in os.listdir(os.path.join(ROOT, 'roles'))
                   if os.path.isdir(os.path.join(ROOT, 'roles', d)) and not d.startswith('_'))
    missing = [role for role in roles if '| `%s` |' % role not in readme]
    assert missing == []


def test_runbooks_document_covers_the_five_runbooks():
    with open(os.path.join(ROOT, 'docs', 'runbooks.md'), encoding='utf-8') as handle:
        text = handle.read()
    for runbook in ('000', '001', '002', '003', '004'):
        assert re.search(r'^## %s\b' % runbook, text, re.M), runbook
