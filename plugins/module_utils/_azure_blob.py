# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A whole blob container to a local directory and back, verified (runbook 001's ``checkpoints``).

The runbook restores with ``az storage blob download-batch --source
checkpoints``; this is that, with a manifest. Export layout, in ``dest``::

    blobs/<blob name>        every blob of the container (under ``prefix``)
    blobs.manifest.json      written last: container, count, total size and,
                             per blob, size, SHA-256, MD5, content type, metadata

Every blob is written through a temporary file; when the service holds a
Content-MD5 for it, the download is checked against it. Blobs already present
locally with the same MD5 are not downloaded again. Import checks every local
file against the manifest before it writes anything, uploads only the blobs
whose Content-MD5 in the container differs, with their content type and
metadata, reads each uploaded blob back and compares its SHA-256, and deletes
blobs the export does not hold only when asked.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import hashlib
import os

from ansible_collections.opskit.ops.plugins.module_utils._backup_common import (
    CHUNK,
    atomic_write_json,
    fsync_dir,
    isoformat,
    read_json,
    sha256_file,
)

try:
    from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
    from azure.storage.blob import ContentSettings
except ImportError:  # pragma: no cover - the module reports azure-storage-blob missing
    class ResourceExistsError(Exception):
        pass

    class ResourceNotFoundError(Exception):
        pass

    ContentSettings = None

MANIFEST = 'blobs.manifest.json'
DATA = 'blobs'


class ContainerCopyError(Exception):
    """The export or import cannot be done or verified."""


def hashes(path):
    sha, md5 = hashlib.sha256(), hashlib.md5()
    with open(path, 'rb') as handle:
        while True:
            block = handle.read(CHUNK)
            if not block:
                break
            sha.update(block)
            md5.update(block)
    return sha.hexdigest(), base64.b64encode(md5.digest()).decode('ascii')


def _md5_text(value):
    """Content-MD5 of a blob property (bytes or bytearray) as base64 text, or None."""
    if not value:
        return None
    return base64.b64encode(bytes(value)).decode('ascii')


def local_path(root, name):
    """Where blob ``name`` lands under root; refuses names that would leave it."""
    if not name or name.startswith('/') or '\\' in name or any(p in ('', '.', '..') for p in name.split('/')):
        raise ContainerCopyError('blob name %r cannot be stored as a file (empty, absolute or dot segments)' % name)
    return os.path.join(root, DATA, *name.split('/'))


def remote_blobs(client, prefix=''):
    """{name: {size, md5, content_type, metadata, last_modified}} of the container's blobs under prefix."""
    found = {}
    for blob in client.list_blobs(name_starts_with=prefix or None, include=['metadata']):
        if blob.name.endswith('/') and not blob.size:
            continue  # a folder marker of a hierarchical account
        settings = blob.content_settings
        found[blob.name] = {'size': blob.size, 'md5': _md5_text(getattr(settings, 'content_md5', None)),
                            'content_type': getattr(settings, 'content_type', None),
                            'metadata': dict(blob.metadata or {}),
                            'last_modified': blob.last_modified.isoformat() if blob.last_modified else None}
    return found


def read_export(src):
    try:
        manifest = read_json(os.path.join(src, MANIFEST))
    except (OSError, ValueError):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get('complete') is not True:
        raise ContainerCopyError('%s has no valid %s: the export is incomplete or missing' % (src, MANIFEST))
    return manifest


def export_container(client, container, dest, prefix='', check_mode=False, account=None):
    """Download every blob of the container into dest/blobs/ and write the manifest last."""
    remote = remote_blobs(client, prefix)
    names = sorted(remote)
    paths = dict((name, local_path(dest, name)) for name in names)
    total = sum(remote[n]['size'] or 0 for n in names)
    previous = None
    try:
        previous = read_export(dest)
    except ContainerCopyError:
        pass
    fresh = []
    for name in names:
        known = remote[name]['md5']
        if known and os.path.isfile(paths[name]) and hashes(paths[name])[1] == known:
            continue
        fresh.append(name)
    if check_mode:
        return {'changed': bool(fresh) or previous is None, 'container': container, 'count': len(names),
                'total_size': total, 'downloaded': fresh, 'path': dest,
                'msg': 'would download %d of %d blobs (%d bytes) of %s to %s' % (len(fresh), len(names), total,
                                                                                 container, dest)}
    entries = []
    for name in names:
        path = paths[name]
        if name in fresh:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            tmp = path + '.download'
            with open(tmp, 'wb') as handle:
                client.get_blob_client(name).download_blob().readinto(handle)
                handle.flush()
                os.fsync(handle.fileno())
            sha, md5 = hashes(tmp)
            if remote[name]['md5'] and md5 != remote[name]['md5']:
                os.unlink(tmp)
                raise ContainerCopyError('%s/%s: Content-MD5 mismatch after download, the service says %s, '
                                         'the data is %s' % (container, name, remote[name]['md5'], md5))
            os.chmod(tmp, 0o600)
            os.rename(tmp, path)
            fsync_dir(os.path.dirname(path))
        else:
            sha, md5 = hashes(path)
        entries.append(dict(remote[name], name=name, file=os.path.relpath(path, dest), sha256=sha, md5=md5,
                            size=os.path.getsize(path)))
    # Files of blobs no longer in the container do not belong to this export.
    stale = []
    data_root = os.path.join(dest, DATA)
    wanted = set(paths.values())
    for dirpath, _dirs, files in os.walk(data_root):
        for fname in files:
            full = os.path.join(dirpath, fname)
            if full not in wanted:
                os.unlink(full)
                stale.append(os.path.relpath(full, data_root))
    manifest = {'complete': True, 'kind': 'azure-blob-container', 'account': account, 'container': container,
                'prefix': prefix, 'count': len(entries), 'total_size': sum(e['size'] for e in entries),
                'blobs': entries}
    same = previous is not None and [(b['name'], b['sha256']) for b in previous.get('blobs', [])] == \
        [(b['name'], b['sha256']) for b in entries] and not fresh and not stale
    if same:
        manifest = previous
    else:
        manifest['exported_at'] = isoformat()
        os.makedirs(dest, mode=0o700, exist_ok=True)
        atomic_write_json(os.path.join(dest, MANIFEST), manifest)
    return {'changed': not same, 'container': container, 'count': len(entries), 'total_size': manifest['total_size'],
            'downloaded': fresh, 'removed': stale, 'path': dest, 'manifest_path': os.path.join(dest, MANIFEST),
            'msg': '%d blobs of %s in %s (%d downloaded)' % (len(entries), container, dest, len(fresh))}


def verify_export(src):
    """(manifest, problems): every listed file re-hashed against the manifest."""
    manifest = read_export(src)
    problems = []
    for blob in manifest.get('blobs', []):
        path = os.path.join(src, blob['file'])
        if not os.path.isfile(path):
            problems.append('%s: missing' % blob['name'])
            continue
        actual = sha256_file(path)
        if actual != blob['sha256']:
            problems.append('%s: checksum mismatch, expected sha256 %s, actual %s' % (blob['name'], blob['sha256'],
                                                                                      actual))
    return manifest, problems


def import_container(client, container, src, create=True, delete_extra=False, verify=True, check_mode=False):
    """Make the container hold the exported blobs; nothing is written before the export is verified."""
    manifest, problems = verify_export(src)
    if problems:
        raise ContainerCopyError('the export in %s failed verification, nothing was uploaded: %s'
                                 % (src, '; '.join(problems[:10])))
    exists = True
    try:
        remote = remote_blobs(client, manifest.get('prefix') or '')
    except ResourceNotFoundError:  # the container does not exist yet
        remote, exists = {}, False
    upload = [b for b in manifest.get('blobs', []) if (remote.get(b['name']) or {}).get('md5') != b['md5']]
    listed = set(b['name'] for b in manifest.get('blobs', []))
    extra = sorted(n for n in remote if n not in listed)
    delete = extra if delete_extra else []
    result = {'container': container, 'count': manifest.get('count'), 'uploaded': [b['name'] for b in upload],
              'deleted': delete, 'extra': extra, 'created': not exists}
    if not upload and not delete and exists:
        result.update(changed=False, verified=True,
                      msg='%s already holds the %d blobs of the export' % (container, len(listed)))
        return result
    if check_mode:
        result.update(changed=True, verified=False, msg='would %supload %d and delete %d blobs of %s' % (
            'create the container, ' if not exists else '', len(upload), len(delete), container))
        return result
    if not exists:
        if not create:
            raise ContainerCopyError('container %s does not exist (create_container is false)' % container)
        try:
            client.create_container()
        except ResourceExistsError:
            pass
    for blob in upload:
        settings = ContentSettings(content_type=blob.get('content_type') or 'application/octet-stream',
                                   content_md5=bytearray(base64.b64decode(blob['md5'])))
        with open(os.path.join(src, blob['file']), 'rb') as handle:
            client.upload_blob(blob['name'], handle, overwrite=True, metadata=blob.get('metadata') or {},
                               content_settings=settings)
        if verify:
            digest = hashlib.sha256(client.get_blob_client(blob['name']).download_blob().readall()).hexdigest()
            if digest != blob['sha256']:
                raise ContainerCopyError('%s/%s: read back after upload, sha256 %s, expected %s'
                                         % (container, blob['name'], digest, blob['sha256']))
    for name in delete:
        client.delete_blob(name)
    result.update(changed=True, verified=bool(verify),
                  msg='%s%d blobs uploaded%s, %d deleted; %s holds the %d blobs of the export' % (
                      'container created, ' if not exists else '', len(upload), ' and read back' if verify else '',
                      len(delete), container, len(listed)))
    return result


def export_items(set_path, dest, manifest_path):
    """Items (store blobs) of an export inside a backup set, for record_items."""
    manifest = read_json(manifest_path)
    items = []
    for blob in manifest.get('blobs', []):
        full = os.path.join(dest, blob['file'])
        rel = os.path.relpath(full, set_path)
        if rel.startswith('..'):
            raise ContainerCopyError('dest must be inside set_path (%s is not inside %s)' % (full, set_path))
        items.append({'file': rel, 'store': 'blobs', 'kind': 'azure-blob', 'size': blob['size'],
                      'sha256': blob['sha256'], 'source': '%s/%s' % (manifest.get('container'), blob['name'])})
    items.append({'file': os.path.relpath(manifest_path, set_path), 'store': 'blobs', 'kind': 'azure-blob-manifest',
                  'size': os.path.getsize(manifest_path), 'sha256': sha256_file(manifest_path),
                  'source': manifest.get('container'), 'counts': {'blobs': manifest.get('count')}})
    return items
