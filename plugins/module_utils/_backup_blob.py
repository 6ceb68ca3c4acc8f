# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Backup sets in Azure Blob Storage (runbook 001), with the Azure SDK.

Blob names mirror the directory layout: ``[<prefix>/]<host>/<set>/<file>``.
Upload sends every item first and ``manifest.json`` last, so a set whose
upload was interrupted has no manifest blob and is never taken for complete.
Each blob carries its SHA-256 in its metadata; an upload skips blobs whose
checksum already matches. Download fetches the manifest first, refuses a
set without one, writes each item through a temporary file, checks its
SHA-256 against the manifest and writes the manifest last.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

from ansible_collections.opskit.ops.plugins.module_utils._backup_common import (
    MANIFEST_NAME,
    atomic_write_bytes,
    fsync_dir,
    parse_stamp,
    sha256_file,
)

try:
    from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
    from azure.storage.blob import BlobServiceClient, ContentSettings
    HAS_AZURE_BLOB = True
    AZURE_BLOB_IMPORT_ERROR = None
except ImportError as _exc:  # pragma: no cover - reported by the module
    HAS_AZURE_BLOB = False
    AZURE_BLOB_IMPORT_ERROR = _exc
    ResourceExistsError = ResourceNotFoundError = Exception


class BlobSetError(Exception):
    """An upload or download could not be completed or verified."""


def service_client(connection_string=None, account_url=None, credential=None, api_version=None):
    kwargs = {}
    if api_version:
        kwargs["api_version"] = api_version
    if connection_string:
        return BlobServiceClient.from_connection_string(connection_string, **kwargs)
    if not account_url:
        raise BlobSetError("give connection_string, or account_url with account_key or sas_token")
    return BlobServiceClient(account_url=account_url, credential=credential, **kwargs)


def container_client(service, container, create=False):
    client = service.get_container_client(container)
    if create:
        try:
            client.create_container()
        except ResourceExistsError:
            pass
    return client


def set_prefix(prefix, host, name):
    parts = [p.strip("/") for p in (prefix, host, name) if p and p.strip("/")]
    return "/".join(parts) + "/"


def _read_local_manifest(set_dir):
    path = os.path.join(set_dir, MANIFEST_NAME)
    try:
        with open(path, "rb") as handle:
            manifest = json.loads(handle.read().decode("utf-8"))
    except (OSError, ValueError):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("complete") is not True:
        raise BlobSetError("%s is not a complete backup set (no valid %s); it is not uploaded" % (set_dir, MANIFEST_NAME))
    return manifest


def upload_set(client, set_dir, prefix):
    """Upload a complete local set; manifest last. Returns (uploaded, skipped) blob names."""
    manifest = _read_local_manifest(set_dir)
    existing = dict((b.name, b) for b in client.list_blobs(name_starts_with=prefix, include=["metadata"]))
    uploaded, skipped = [], []
    files = [(i["file"], i["sha256"]) for i in manifest.get("items", [])]
    files.append((MANIFEST_NAME, sha256_file(os.path.join(set_dir, MANIFEST_NAME))))
    for rel, digest in files:
        local = os.path.join(set_dir, rel)
        actual = sha256_file(local)
        if actual != digest:
            raise BlobSetError("%s: checksum mismatch before upload, expected sha256 %s, actual %s" % (rel, digest, actual))
        name = prefix + rel.replace(os.sep, "/")
        blob = existing.get(name)
        if blob is not None and (blob.metadata or {}).get("sha256") == digest:
            skipped.append(name)
            continue
        with open(local, "rb") as handle:
            client.upload_blob(name, handle, overwrite=True, metadata={"sha256": digest},
                               content_settings=ContentSettings(content_type="application/octet-stream"))
        uploaded.append(name)
    return uploaded, skipped


def read_remote_manifest(client, prefix):
    try:
        data = client.get_blob_client(prefix + MANIFEST_NAME).download_blob().readall()
    except ResourceNotFoundError:
        return None
    try:
        manifest = json.loads(data.decode("utf-8"))
    except ValueError:
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("complete") is True else None


def download_set(client, prefix, dest_dir):
    """Download a complete remote set into ``dest_dir`` and verify it. Returns the file list."""
    manifest = read_remote_manifest(client, prefix)
    if manifest is None:
        raise BlobSetError("%s has no valid %s: the set is incomplete or missing" % (prefix, MANIFEST_NAME))
    os.makedirs(dest_dir, mode=0o700, exist_ok=True)
    written = []
    for item in manifest.get("items", []):
        local = os.path.join(dest_dir, item["file"])
        if os.path.commonpath([os.path.abspath(local), os.path.abspath(dest_dir)]) != os.path.abspath(dest_dir):
            raise BlobSetError("manifest item %s points outside the set" % item["file"])
        os.makedirs(os.path.dirname(local), mode=0o700, exist_ok=True)
        if os.path.isfile(local) and sha256_file(local) == item["sha256"]:
            written.append(item["file"])
            continue
        tmp = local + ".download"
        try:
            with open(tmp, "wb") as handle:
                client.get_blob_client(prefix + item["file"]).download_blob().readinto(handle)
                handle.flush()
                os.fsync(handle.fileno())
        except ResourceNotFoundError:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise BlobSetError("%s%s: listed in the manifest but missing from the container" % (prefix, item["file"]))
        actual = sha256_file(tmp)
        if actual != item["sha256"]:
            os.unlink(tmp)
            raise BlobSetError("%s: checksum mismatch after download, expected sha256 %s, actual %s"
                               % (item["file"], item["sha256"], actual))
        os.chmod(tmp, 0o600)
        os.rename(tmp, local)
        fsync_dir(os.path.dirname(local))
        written.append(item["file"])
    atomic_write_bytes(os.path.join(dest_dir, MANIFEST_NAME),
                       (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    return written, manifest


def list_remote_sets(client, prefix, host, with_stores=True):
    """Sets of ``host`` in the container, oldest first: {name, complete, stores, blobs}."""
    base = set_prefix(prefix, host, None)
    groups = {}
    for blob in client.list_blobs(name_starts_with=base):
        rest = blob.name[len(base):]
        name, _sep, rel = rest.partition("/")
        if parse_stamp(name) is None:
            continue
        groups.setdefault(name, []).append(rel)
    sets = []
    for name in sorted(groups):
        complete = MANIFEST_NAME in groups[name]
        entry = {"name": name, "complete": complete, "blobs": len(groups[name]), "stores": []}
        if complete and with_stores:
            manifest = read_remote_manifest(client, base + name + "/")
            if manifest is None:
                entry["complete"] = False
            else:
                entry["stores"] = sorted(set(i["store"] for i in manifest.get("items", [])))
        sets.append(entry)
    return sets


def delete_remote_set(client, prefix):
    """Delete a remote set: its manifest first, so a half-deleted set is incomplete."""
    names = [b.name for b in client.list_blobs(name_starts_with=prefix)]
    names.sort(key=lambda n: 0 if n.endswith("/" + MANIFEST_NAME) else 1)
    for name in names:
        try:
            client.delete_blob(name)
        except ResourceNotFoundError:
            pass
    return names
