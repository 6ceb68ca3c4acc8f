# SPDX-License-Identifier: GPL-3.0-or-later
"""Test-only compatibility shim, put on PYTHONPATH by the stand-in tests.

azure.azcollection 3.12 resolves a `cloud_environment` given as a metadata
discovery URL (Azure Stack, and the local Azure stand-in of the tests) with
`azure.cli.core.cloud.get_cloud_from_metadata_endpoint`, a function that
azure-cli-core 2.75 (the version azure.azcollection itself pins) no longer
has: the module then fails with "'AttributeError' object has no attribute
'message'".  This shim supplies the missing function, built on azure-cli-core's
own mapper of ARM cloud metadata.  It changes nothing else; with a named cloud
(AzureCloud, as opskit uses on Azure) the function is never called.
"""
try:
    from azure.cli.core import cloud as _cloud
except ImportError:      # not the Azure module interpreter: nothing to do
    _cloud = None

if _cloud is not None and not hasattr(_cloud, "get_cloud_from_metadata_endpoint"):
    def get_cloud_from_metadata_endpoint(url, name=None, session=None):
        import requests
        endpoint = url.rstrip("/") + "/metadata/endpoints?api-version=2022-09-01"
        response = (session or requests).get(endpoint, timeout=30)
        response.raise_for_status()
        data = response.json()
        entry = data[0] if isinstance(data, list) else data
        if name:
            entry = dict(entry, name=name)
        return _cloud._arm_to_cli_mapper(entry)

    _cloud.get_cloud_from_metadata_endpoint = get_cloud_from_metadata_endpoint
