// The API: App Service plan (Linux), web app with a staging deployment slot
// (code updates go to the slot, are health-checked, then swapped) and the
// plan's CPU autoscale with both a scale-out and a scale-in rule.
param location string
param tags object
param appServicePlanName string
param appServicePlanSku string
param apiWebAppName string
param stagingSlotName string
param apiRuntime string
param appEnvironment string
param appInsightsName string
param appInsightsConnectionStringSetting string
param serviceBusNamespaceName string
param queueName string
param autoscaleSettingName string
param autoscaleMinCount int
param autoscaleMaxCount int
param autoscaleDefaultCount int

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2022-09-01' = {
  // checkov:skip=CKV_AZURE_225: zone redundancy needs at least 3 instances; the runbook sets 2 to 10 instances (min 2); see docs/azure-infra.md
  name: appServicePlanName
  location: location
  tags: tags
  kind: 'linux'
  sku: {
    name: appServicePlanSku
    capacity: autoscaleDefaultCount
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2022-09-01' = {
  // checkov:skip=CKV_AZURE_222: the API is public by design (clients and the /health check reach it over the internet)
  // checkov:skip=CKV_AZURE_17: clients authenticate with bearer tokens, not TLS client certificates
  // checkov:skip=CKV_AZURE_212: instance count is set on the plan (capacity 2, autoscale minimum 2), not per site
  name: apiWebAppName
  location: location
  tags: tags
  kind: 'app,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      linuxFxVersion: apiRuntime
      alwaysOn: true
      ftpsState: 'Disabled'
      minTlsVersion: '1.2'
      http20Enabled: true
      healthCheckPath: '/health'
      appSettings: [
        {
          name: appInsightsConnectionStringSetting
          value: appInsights.properties.ConnectionString
        }
        {
          name: 'ENVIRONMENT'
          value: appEnvironment
        }
        {
          name: 'AGENT_ROLE'
          value: 'api'
        }
        {
          name: 'SERVICEBUS_NAMESPACE'
          value: '${serviceBusNamespaceName}.servicebus.windows.net'
        }
        {
          name: 'SERVICEBUS_QUEUE'
          value: queueName
        }
      ]
    }
  }
}

resource stagingSlot 'Microsoft.Web/sites/slots@2022-09-01' = {
  // checkov:skip=CKV_AZURE_222: the staging slot is health-checked over its public hostname before the swap
  // checkov:skip=CKV_AZURE_17: clients authenticate with bearer tokens, not TLS client certificates
  // checkov:skip=CKV_AZURE_212: instance count is set on the plan (capacity 2, autoscale minimum 2), not per slot
  parent: site
  name: stagingSlotName
  location: location
  tags: tags
  kind: 'app,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      linuxFxVersion: apiRuntime
      alwaysOn: true
      ftpsState: 'Disabled'
      minTlsVersion: '1.2'
      http20Enabled: true
      healthCheckPath: '/health'
      appSettings: [
        {
          name: appInsightsConnectionStringSetting
          value: appInsights.properties.ConnectionString
        }
        {
          name: 'ENVIRONMENT'
          value: appEnvironment
        }
        {
          name: 'AGENT_ROLE'
          value: 'api'
        }
        {
          name: 'SERVICEBUS_NAMESPACE'
          value: '${serviceBusNamespaceName}.servicebus.windows.net'
        }
        {
          name: 'SERVICEBUS_QUEUE'
          value: queueName
        }
      ]
    }
  }
}

resource autoscale 'Microsoft.Insights/autoscalesettings@2022-10-01' = {
  name: autoscaleSettingName
  location: location
  tags: tags
  properties: {
    enabled: true
    targetResourceUri: plan.id
    profiles: [
      {
        name: 'cpu'
        capacity: {
          minimum: string(autoscaleMinCount)
          maximum: string(autoscaleMaxCount)
          default: string(autoscaleDefaultCount)
        }
        rules: [
          {
            metricTrigger: {
              metricName: 'CpuPercentage'
              metricResourceUri: plan.id
              timeGrain: 'PT1M'
              statistic: 'Average'
              timeWindow: 'PT5M'
              timeAggregation: 'Average'
              operator: 'GreaterThan'
              threshold: 70
            }
            scaleAction: {
              direction: 'Increase'
              type: 'ChangeCount'
              value: '1'
              cooldown: 'PT5M'
            }
          }
          {
            metricTrigger: {
              metricName: 'CpuPercentage'
              metricResourceUri: plan.id
              timeGrain: 'PT1M'
              statistic: 'Average'
              timeWindow: 'PT10M'
              timeAggregation: 'Average'
              operator: 'LessThan'
              threshold: 30
            }
            scaleAction: {
              direction: 'Decrease'
              type: 'ChangeCount'
              value: '1'
              cooldown: 'PT10M'
            }
          }
        ]
      }
    ]
  }
}

output apiHostName string = site.properties.defaultHostName
output stagingHostName string = stagingSlot.properties.defaultHostName
