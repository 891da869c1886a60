// The Function App on Flex Consumption, Node.js 22, with a system-assigned identity and
// identity-based connections only (no keys or connection strings). App settings are the ones
// src/composition/settings.ts declares; a test holds them to it. Its roles are in roles.bicep.
// Retraining (the AML_ settings) is on only when the training environment and code assets are given:
// they are registered in the workspace after it exists (docs/deployment.md).

param location string
param planName string
param appName string

@description('Storage account of the ledger, reports, day queue and tables; also the host storage.')
param storageAccountName string

@description('Blob container that holds the deployed package (Flex Consumption deploys from blob).')
param deploymentContainerUrl string

param eventHubsNamespace string
param usageHubName string
param usageConsumerGroup string
param evaluationsHubName string
param evaluationsConsumerGroup string
param dayQueueName string
@description('Queue of the fanned-out day\'s units (the storage module\'s dayWorkQueueName output).')
param dayWorkQueueName string = 'chargeback-day-units'
@description('DAY_FAN_OUT: the daily run as a fan-out job over dayWorkQueueName instead of one instance per day.')
param dayFanOut bool = false

@description('URI of the Key Vault secret holding the Teams Workflows webhook URL.')
param teamsWebhookSecretUri string

@description('BUDGETS_PATH, the spend budgets file in the deployed package (rules/budgets.json is an example); empty: no budgets.')
param budgetsPath string = ''

@description('BUDGET_STATE_CONTAINER, where publishBudgets writes the state the sidecars read.')
param budgetStateContainerName string = 'budget-state'

@description('REPORT_LINK_BASE, the prefix of a drift card\'s button; empty: the setting is left out and cards have no button.')
param reportLinkBase string = ''

@description('Sign-in for the report pages a drift card opens: App Service authentication with Entra ID in front of the app (getReportPage, /api/pages/{date}). The app registration\'s client id and the Key Vault secret URI of its client secret; an empty clientId leaves it off.')
param pageSignIn { clientId: string, clientSecretUri: string } = { clientId: '', clientSecretUri: '' }

param appInsightsConnectionString string

@description('Subnet for outbound VNet integration (delegated to Microsoft.App/environments).')
param virtualNetworkSubnetId string

@description('Retraining: the workspace, cluster and assets, and the most one job may cost. Off when environmentId is empty.')
param retraining {
  workspaceName: string
  computeName: string
  environmentId: string
  codeId: string
  maxUsdPerJob: int
}

@minValue(1)
@maxValue(1000)
param maximumInstanceCount int

@allowed([2048, 4096])
param instanceMemoryMB int

param tags object

var retrainingOn = !empty(retraining.environmentId) && !empty(retraining.codeId)
var pageSignInOn = !empty(pageSignIn.clientId)

resource plan 'Microsoft.Web/serverfarms@2025-03-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: { reserved: true }
}

resource app 'Microsoft.Web/sites@2025-03-01' = {
  name: appName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: { type: 'SystemAssigned' }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    virtualNetworkSubnetId: virtualNetworkSubnetId
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: { type: 'SystemAssignedIdentity' }
        }
      }
      runtime: { name: 'node', version: '22' }
      scaleAndConcurrency: { maximumInstanceCount: maximumInstanceCount, instanceMemoryMB: instanceMemoryMB }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      appSettings: concat([
        { name: 'AzureWebJobsStorage__accountName', value: storageAccountName }
        { name: 'EventHubConnection__fullyQualifiedNamespace', value: eventHubsNamespace }
        { name: 'USAGE_EVENTHUB_NAME', value: usageHubName }
        { name: 'USAGE_CONSUMER_GROUP', value: usageConsumerGroup }
        { name: 'EVALUATIONS_EVENTHUB_NAME', value: evaluationsHubName }
        { name: 'EVALUATIONS_CONSUMER_GROUP', value: evaluationsConsumerGroup }
        { name: 'DayQueueConnection__queueServiceUri', value: 'https://${storageAccountName}.queue.${az.environment().suffixes.storage}' }
        { name: 'LEDGER_STORAGE_ACCOUNT_NAME', value: storageAccountName }
        { name: 'RESTATE_QUEUE_NAME', value: dayQueueName }
        { name: 'DAY_WORK_QUEUE_NAME', value: dayWorkQueueName }
        { name: 'DAY_FAN_OUT', value: dayFanOut ? 'true' : 'false' }
        { name: 'TEAMS_WEBHOOK_URL', value: '@Microsoft.KeyVault(SecretUri=${teamsWebhookSecretUri})' }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsightsConnectionString }
        // Application Insights with local auth off: the app sends with its identity.
        { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'Authorization=AAD' }
        { name: 'BUDGET_STATE_CONTAINER', value: budgetStateContainerName }
      ], empty(budgetsPath) ? [] : [
        { name: 'BUDGETS_PATH', value: budgetsPath }
      ], empty(reportLinkBase) ? [] : [
        { name: 'REPORT_LINK_BASE', value: reportLinkBase }
      ], pageSignInOn ? [
        // With no REPORT_LINK_BASE, the app points the cards' button at its own getReportPage.
        { name: 'PAGE_SIGN_IN', value: 'entra' }
        { name: 'MICROSOFT_PROVIDER_AUTHENTICATION_SECRET', value: '@Microsoft.KeyVault(SecretUri=${pageSignIn.clientSecretUri})' }
      ] : [], retrainingOn ? [
        { name: 'AML_SUBSCRIPTION_ID', value: subscription().subscriptionId }
        { name: 'AML_RESOURCE_GROUP', value: resourceGroup().name }
        { name: 'AML_WORKSPACE', value: retraining.workspaceName }
        { name: 'AML_COMPUTE', value: retraining.computeName }
        { name: 'AML_ENVIRONMENT_ID', value: retraining.environmentId }
        { name: 'AML_CODE_ID', value: retraining.codeId }
        { name: 'RETRAIN_MAX_USD', value: string(retraining.maxUsdPerJob) }
      ] : [])
    }
  }
}

// App Service authentication: it signs colleagues in for getReportPage and sets the principal
// headers that route checks (clients cannot set them). Unauthenticated requests are let through, so
// the routes that machines call with function keys (reports, gates, requests, cost gate, ops) are
// unchanged; getReportPage itself sends an anonymous browser to /.auth/login/aad.
resource pageAuth 'Microsoft.Web/sites/config@2025-03-01' = if (pageSignInOn) {
  parent: app
  name: 'authsettingsV2'
  properties: {
    platform: { enabled: true }
    globalValidation: { requireAuthentication: false, unauthenticatedClientAction: 'AllowAnonymous' }
    httpSettings: { requireHttps: true }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: pageSignIn.clientId
          clientSecretSettingName: 'MICROSOFT_PROVIDER_AUTHENTICATION_SECRET'
          openIdIssuer: '${az.environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: { allowedAudiences: ['api://${pageSignIn.clientId}'] }
      }
    }
    login: { tokenStore: { enabled: true } }
  }
}

output appId string = app.id
output appName string = app.name
output principalId string = app.identity.principalId
