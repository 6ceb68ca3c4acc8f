// Runbook 001 (agent framework) on Azure: the whole resource group in one
// deployment. Every name is derived here and passed to the modules, so the
// playbooks can read them back from the deployment outputs.
targetScope = 'resourceGroup'

@description('Deployment environment: stg (staging) or prd (production).')
@allowed([
  'stg'
  'prd'
])
param environment string

@description('Azure region of every resource; defaults to the resource group region.')
param location string = resourceGroup().location

@description('Prefix of every resource name (lowercase letters and digits, 2 to 10 characters).')
@minLength(2)
@maxLength(10)
param namePrefix string = 'agent'

@description('App Service plan SKU (Standard or Premium: deployment slots and autoscale need it).')
@allowed([
  'S1'
  'S2'
  'P1v3'
  'P2v3'
  'P3v3'
])
param appServicePlanSku string = 'P1v3'

@description('Linux runtime of the API web app.')
param apiRuntime string = 'PYTHON|3.11'

@description('Container image of the worker (Container Apps).')
param workerImage string = 'mcr.microsoft.com/k8se/quickstart:latest'

@description('Port the worker container serves /health on.')
param workerPort int = 80

@description('Fewest worker replicas.')
@minValue(0)
@maxValue(30)
param workerMinReplicas int = 1

@description('Most worker replicas.')
@minValue(1)
@maxValue(30)
param workerMaxReplicas int = 10

@description('Autoscale of the App Service plan: fewest instances.')
@minValue(1)
@maxValue(30)
param autoscaleMinCount int = 2

@description('Autoscale of the App Service plan: most instances.')
@minValue(1)
@maxValue(30)
param autoscaleMaxCount int = 10

@description('Autoscale of the App Service plan: instances when no metric is available.')
@minValue(1)
@maxValue(30)
param autoscaleDefaultCount int = 2

@description('E-mail address the action group notifies; empty for no e-mail receiver.')
param alertEmail string = ''

@description('Error-rate alert: percentage of failed requests over 5 minutes.')
param errorRateThresholdPercent int = 5

@description('Queue alert and worker scale rule: active messages in agent-jobs.')
param queueLengthThreshold int = 100

@description('Monthly token budget (tokens).')
@minValue(1)
param monthlyTokenBudget int = 10000000

@description('Token budget alert: percentage of the monthly budget.')
@minValue(1)
@maxValue(100)
param tokenBudgetAlertPercent int = 80

@description('Application Insights custom metric carrying the tokens used this month (a gauge the worker reports).')
param tokenMetricName string = 'tokens_month_to_date'

@description('Azure AI Search SKU.')
@allowed([
  'basic'
  'standard'
  'standard2'
  'standard3'
])
param searchSku string = 'basic'

@description('Azure AI Search replicas (3 or more for the read-write SLA).')
@minValue(1)
@maxValue(12)
param searchReplicaCount int = 3

@description('Log Analytics retention in days.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 90

@description('Tags set on every resource.')
param tags object = {}

var allTags = union(tags, {
  application: 'agent-framework'
  environment: environment
  'managed-by': 'opskit'
})
var appServicePlanName = '${namePrefix}-plan-${environment}'
var apiWebAppName = '${namePrefix}-api-${environment}'
var stagingSlotName = 'staging'
var autoscaleSettingName = '${namePrefix}-api-autoscale-${environment}'
var containerAppsEnvironmentName = '${namePrefix}-cae-${environment}'
var workerContainerAppName = '${namePrefix}-worker-${environment}'
var serviceBusNamespaceName = '${namePrefix}-sb-${environment}'
var queueName = 'agent-jobs'
var workerQueueRuleName = 'worker'
var storageAccountName = take(toLower('${namePrefix}st${environment}${uniqueString(resourceGroup().id)}'), 24)
var checkpointsContainerName = 'checkpoints'
var searchServiceName = '${namePrefix}-search-${environment}'
var logAnalyticsName = '${namePrefix}-log-${environment}'
var appInsightsName = '${namePrefix}-appi-${environment}'
var appInsightsConnectionStringSetting = 'APPLICATIONINSIGHTS_CONNECTION_STRING'
var actionGroupName = '${namePrefix}-ag-${environment}'
var actionGroupShortName = take('${namePrefix}${environment}', 12)
var errorRateAlertName = '${namePrefix}-error-rate-${environment}'
var queueLengthAlertName = '${namePrefix}-queue-length-${environment}'
var tokenBudgetAlertName = '${namePrefix}-token-budget-${environment}'
var appEnvironment = (environment == 'prd') ? 'production' : 'test'

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    tags: allTags
    logAnalyticsName: logAnalyticsName
    logRetentionDays: logRetentionDays
    appInsightsName: appInsightsName
    actionGroupName: actionGroupName
    actionGroupShortName: actionGroupShortName
    alertEmail: alertEmail
  }
}

module data 'modules/data.bicep' = {
  name: 'data'
  params: {
    location: location
    tags: allTags
    serviceBusNamespaceName: serviceBusNamespaceName
    queueName: queueName
    workerQueueRuleName: workerQueueRuleName
    storageAccountName: storageAccountName
    checkpointsContainerName: checkpointsContainerName
    searchServiceName: searchServiceName
    searchSku: searchSku
    searchReplicaCount: searchReplicaCount
  }
}

module api 'modules/api.bicep' = {
  name: 'api'
  params: {
    location: location
    tags: allTags
    appServicePlanName: appServicePlanName
    appServicePlanSku: appServicePlanSku
    apiWebAppName: apiWebAppName
    stagingSlotName: stagingSlotName
    apiRuntime: apiRuntime
    appEnvironment: appEnvironment
    appInsightsName: appInsightsName
    appInsightsConnectionStringSetting: appInsightsConnectionStringSetting
    serviceBusNamespaceName: serviceBusNamespaceName
    queueName: queueName
    autoscaleSettingName: autoscaleSettingName
    autoscaleMinCount: autoscaleMinCount
    autoscaleMaxCount: autoscaleMaxCount
    autoscaleDefaultCount: autoscaleDefaultCount
  }
  dependsOn: [
    monitoring
    data
  ]
}

module worker 'modules/worker.bicep' = {
  name: 'worker'
  params: {
    location: location
    tags: allTags
    containerAppsEnvironmentName: containerAppsEnvironmentName
    workerContainerAppName: workerContainerAppName
    workerImage: workerImage
    workerPort: workerPort
    workerMinReplicas: workerMinReplicas
    workerMaxReplicas: workerMaxReplicas
    queueScaleThreshold: queueLengthThreshold
    appEnvironment: appEnvironment
    logAnalyticsName: logAnalyticsName
    appInsightsName: appInsightsName
    serviceBusNamespaceName: serviceBusNamespaceName
    queueName: queueName
    workerQueueRuleName: workerQueueRuleName
  }
  dependsOn: [
    monitoring
    data
  ]
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    location: location
    tags: allTags
    actionGroupName: actionGroupName
    appInsightsName: appInsightsName
    serviceBusNamespaceName: serviceBusNamespaceName
    queueName: queueName
    errorRateAlertName: errorRateAlertName
    queueLengthAlertName: queueLengthAlertName
    tokenBudgetAlertName: tokenBudgetAlertName
    errorRateThresholdPercent: errorRateThresholdPercent
    queueLengthThreshold: queueLengthThreshold
    monthlyTokenBudget: monthlyTokenBudget
    tokenBudgetAlertPercent: tokenBudgetAlertPercent
    tokenMetricName: tokenMetricName
  }
  dependsOn: [
    monitoring
    data
  ]
}

output environment string = environment
output location string = location
output appServicePlanName string = appServicePlanName
output autoscaleSettingName string = autoscaleSettingName
output apiWebAppName string = apiWebAppName
output apiHostName string = api.outputs.apiHostName
output stagingSlotName string = stagingSlotName
output stagingHostName string = api.outputs.stagingHostName
output containerAppsEnvironmentName string = containerAppsEnvironmentName
output workerContainerAppName string = workerContainerAppName
output workerLatestRevisionName string = worker.outputs.latestRevisionName
output serviceBusNamespaceName string = serviceBusNamespaceName
output serviceBusEndpoint string = data.outputs.serviceBusEndpoint
output queueName string = queueName
output storageAccountName string = storageAccountName
output storageBlobEndpoint string = data.outputs.storageBlobEndpoint
output checkpointsContainerName string = checkpointsContainerName
output searchServiceName string = searchServiceName
output searchServiceEndpoint string = data.outputs.searchServiceEndpoint
output logAnalyticsWorkspaceName string = logAnalyticsName
output logAnalyticsWorkspaceId string = monitoring.outputs.logAnalyticsCustomerId
output appInsightsName string = appInsightsName
output appInsightsAppId string = monitoring.outputs.appInsightsAppId
output appInsightsConnectionStringSetting string = appInsightsConnectionStringSetting
output actionGroupName string = actionGroupName
output alertRuleNames array = [
  errorRateAlertName
  queueLengthAlertName
  tokenBudgetAlertName
]
