// The runbook's three alerts, all notifying the action group:
// error rate > 5 % over 5 minutes (log alert on the requests table),
// agent-jobs queue length > 100 (metric alert on Service Bus), and
// monthly tokens > 80 % of the budget (log alert on a custom metric).
param location string
param tags object
param actionGroupName string
param appInsightsName string
param serviceBusNamespaceName string
param queueName string
param errorRateAlertName string
param queueLengthAlertName string
param tokenBudgetAlertName string
param errorRateThresholdPercent int
param queueLengthThreshold int
param monthlyTokenBudget int
param tokenBudgetAlertPercent int
param tokenMetricName string

var actionGroupId = resourceId('Microsoft.Insights/actionGroups', actionGroupName)
var appInsightsId = resourceId('Microsoft.Insights/components', appInsightsName)
var serviceBusId = resourceId('Microsoft.ServiceBus/namespaces', serviceBusNamespaceName)

resource errorRate 'Microsoft.Insights/scheduledQueryRules@2022-06-15' = {
  name: errorRateAlertName
  location: location
  tags: tags
  properties: {
    displayName: errorRateAlertName
    description: 'Failed requests above ${errorRateThresholdPercent} percent of all requests over 5 minutes.'
    severity: 1
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      allOf: [
        {
          query: 'requests | summarize total = count(), failed = countif(success == false) | extend errorRatePercent = iff(total == 0, 0.0, 100.0 * failed / total)'
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'errorRatePercent'
          operator: 'GreaterThan'
          threshold: errorRateThresholdPercent
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroupId
      ]
    }
  }
}

resource queueLength 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: queueLengthAlertName
  location: 'global'
  tags: tags
  properties: {
    description: 'Active messages in ${queueName} above ${queueLengthThreshold}.'
    severity: 2
    enabled: true
    scopes: [
      serviceBusId
    ]
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    autoMitigate: true
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'ActiveMessages'
          metricNamespace: 'Microsoft.ServiceBus/namespaces'
          metricName: 'ActiveMessages'
          dimensions: [
            {
              name: 'EntityName'
              operator: 'Include'
              values: [
                queueName
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: queueLengthThreshold
          timeAggregation: 'Maximum'
        }
      ]
    }
    actions: [
      {
        actionGroupId: actionGroupId
      }
    ]
  }
}

resource tokenBudget 'Microsoft.Insights/scheduledQueryRules@2022-06-15' = {
  name: tokenBudgetAlertName
  location: location
  tags: tags
  properties: {
    displayName: tokenBudgetAlertName
    description: 'Tokens used this month above ${tokenBudgetAlertPercent} percent of the monthly budget of ${monthlyTokenBudget}.'
    severity: 2
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT1H'
    windowSize: 'PT6H'
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name == "${tokenMetricName}" and timestamp >= startofmonth(now()) | summarize tokensThisMonth = max(valueMax)'
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'tokensThisMonth'
          operator: 'GreaterThan'
          threshold: (monthlyTokenBudget * tokenBudgetAlertPercent) / 100
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: false
    actions: {
      actionGroups: [
        actionGroupId
      ]
    }
  }
}
