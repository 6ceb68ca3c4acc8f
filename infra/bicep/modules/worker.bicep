// The worker: a Container Apps environment logging to the workspace, and the
// worker app in multiple-revision mode (a code update starts a new revision,
// traffic moves to it once it is healthy) with a queue-length scale rule.
param location string
param tags object
param containerAppsEnvironmentName string
param workerContainerAppName string
param workerImage string
param workerPort int
param workerMinReplicas int
param workerMaxReplicas int
param queueScaleThreshold int
param appEnvironment string
param logAnalyticsName string
param appInsightsName string
param serviceBusNamespaceName string
param queueName string
param workerQueueRuleName string

resource workspace 'Microsoft.OperationalInsights/workspaces@2022-10-01' existing = {
  name: logAnalyticsName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource serviceBus 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' existing = {
  name: serviceBusNamespaceName
}

resource queue 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' existing = {
  parent: serviceBus
  name: queueName
}

resource workerQueueRule 'Microsoft.ServiceBus/namespaces/queues/authorizationRules@2022-10-01-preview' existing = {
  parent: queue
  name: workerQueueRuleName
}

resource managedEnvironment 'Microsoft.App/managedEnvironments@2023-05-01' = {
  name: containerAppsEnvironmentName
  location: location
  tags: tags
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: workspace.properties.customerId
        sharedKey: workspace.listKeys().primarySharedKey
      }
    }
  }
}

resource worker 'Microsoft.App/containerApps@2023-05-01' = {
  name: workerContainerAppName
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    managedEnvironmentId: managedEnvironment.id
    configuration: {
      activeRevisionsMode: 'Multiple'
      ingress: {
        external: false
        targetPort: workerPort
        transport: 'http'
        allowInsecure: false
        traffic: [
          {
            latestRevision: true
            weight: 100
          }
        ]
      }
      secrets: [
        {
          name: 'servicebus-connection'
          value: workerQueueRule.listKeys().primaryConnectionString
        }
        {
          name: 'appinsights-connection'
          value: appInsights.properties.ConnectionString
        }
      ]
    }
    template: {
      containers: [
        {
          name: 'worker'
          image: workerImage
          resources: {
            cpu: json('0.5')
            memory: '1Gi'
          }
          env: [
            {
              name: 'AGENT_ROLE'
              value: 'worker'
            }
            {
              name: 'AGENT_PORT'
              value: string(workerPort)
            }
            {
              name: 'ENVIRONMENT'
              value: appEnvironment
            }
            {
              name: 'SERVICEBUS_QUEUE'
              value: queueName
            }
            {
              name: 'SERVICEBUS_CONNECTION_STRING'
              secretRef: 'servicebus-connection'
            }
            {
              name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
              secretRef: 'appinsights-connection'
            }
          ]
          probes: [
            {
              type: 'Liveness'
              httpGet: {
                path: '/health'
                port: workerPort
              }
              periodSeconds: 10
            }
            {
              type: 'Readiness'
              httpGet: {
                path: '/health'
                port: workerPort
              }
              periodSeconds: 10
            }
          ]
        }
      ]
      scale: {
        minReplicas: workerMinReplicas
        maxReplicas: workerMaxReplicas
        rules: [
          {
            name: 'agent-jobs-queue'
            custom: {
              type: 'azure-servicebus'
              metadata: {
                queueName: queueName
                namespace: serviceBusNamespaceName
                messageCount: string(queueScaleThreshold)
              }
              auth: [
                {
                  secretRef: 'servicebus-connection'
                  triggerParameter: 'connection'
                }
              ]
            }
          }
        ]
      }
    }
  }
}

output latestRevisionName string = worker.properties.latestRevisionName
