// Service Bus namespace with the agent-jobs queue, the Storage account with
// the checkpoints container, and Azure AI Search.
param location string
param tags object
param serviceBusNamespaceName string
param queueName string
param workerQueueRuleName string
param storageAccountName string
param checkpointsContainerName string
param searchServiceName string
param searchSku string
param searchReplicaCount int

resource serviceBus 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' = {
  name: serviceBusNamespaceName
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    minimumTlsVersion: '1.2'
  }
}

resource queue 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' = {
  parent: serviceBus
  name: queueName
  properties: {
    lockDuration: 'PT5M'
    maxDeliveryCount: 10
    deadLetteringOnMessageExpiration: true
    defaultMessageTimeToLive: 'P14D'
  }
}

// The worker receives with it and the Container Apps queue scale rule reads
// the queue length with it (KEDA's Service Bus scaler needs Manage rights).
resource workerQueueRule 'Microsoft.ServiceBus/namespaces/queues/authorizationRules@2022-10-01-preview' = {
  parent: queue
  name: workerQueueRuleName
  properties: {
    rights: [
      'Listen'
      'Send'
      'Manage'
    ]
  }
}

resource storage 'Microsoft.Storage/storageAccounts@2023-01-01' = {
  // checkov:skip=CKV_AZURE_35: no VNet in this template; the worker (Container Apps without VNet) and the backup playbooks reach blobs over the public endpoint
  // checkov:skip=CKV_AZURE_43: false positive: the name is computed (take(toLower(...), 24) of letters and digits), checkov cannot evaluate it
  name: storageAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_GRS'
  }
  properties: {
    accessTier: 'Hot'
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-01-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource checkpoints 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-01-01' = {
  parent: blobService
  name: checkpointsContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource search 'Microsoft.Search/searchServices@2022-09-01' = {
  // checkov:skip=CKV_AZURE_208: false positive: replicaCount comes from the searchReplicaCount parameter (default 3), which checkov does not follow into the module
  name: searchServiceName
  location: location
  tags: tags
  sku: {
    name: searchSku
  }
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    replicaCount: searchReplicaCount
    partitionCount: 1
    hostingMode: 'default'
  }
}

output serviceBusEndpoint string = serviceBus.properties.serviceBusEndpoint
output storageBlobEndpoint string = storage.properties.primaryEndpoints.blob
output searchServiceEndpoint string = 'https://${search.name}.search.windows.net'
