// The whole system, area by area. Written so far: Event Hubs, Storage, Key Vault, Log Analytics,
// Application Insights and the Function App. Still to write (see README.md in this folder): alerts, AKS
// with the A100 pools, Azure ML with its A100 cluster, identities and roles, private networking.

targetScope = 'resourceGroup'

@description('Short name of the deployment, used in resource names: lower-case letters and digits.')
@minLength(2)
@maxLength(10)
param prefix string

@description('dev or prod: sizes and retention differ.')
@allowed(['dev', 'prod'])
param environment string

@description('Region of every resource; the resource group\'s by default.')
param location string = resourceGroup().location

@description('Partitions of the usage hub.')
param usagePartitions int

@description('Private endpoints and no public access (the prod parameters turn it on).')
param privateNetworking bool

var suffix = uniqueString(resourceGroup().id, prefix, environment)
var tags = { system: 'gpu-chargeback', environment: environment }

module eventHubs 'modules/eventhubs.bicep' = {
  name: 'eventhubs'
  params: {
    location: location
    namespaceName: 'evh-${prefix}-${environment}-${suffix}'
    usagePartitions: usagePartitions
    throughputUnits: environment == 'prod' ? 2 : 1
    maxThroughputUnits: environment == 'prod' ? 10 : 2
    retentionDays: environment == 'prod' ? 7 : 1
    publicNetworkAccess: !privateNetworking
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    accountName: take('st${prefix}${environment}${suffix}', 24)
    ledgerCoolAfterDays: 30
    // RESTATE_DAYS is 35 by default; events are kept well beyond it, for audits and replays.
    ledgerRetentionDays: environment == 'prod' ? 400 : 60
    reportsCoolAfterDays: 30
    softDeleteDays: environment == 'prod' ? 30 : 7
    publicNetworkAccess: !privateNetworking
    tags: tags
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    location: location
    vaultName: take('kv-${prefix}-${environment}-${suffix}', 24)
    softDeleteDays: environment == 'prod' ? 90 : 7
    publicNetworkAccess: !privateNetworking
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    workspaceName: 'log-${prefix}-${environment}-${suffix}'
    appInsightsName: 'appi-${prefix}-${environment}-${suffix}'
    retentionDays: environment == 'prod' ? 90 : 30
    tags: tags
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    location: location
    planName: 'asp-${prefix}-${environment}-${suffix}'
    appName: 'func-${prefix}-${environment}-${suffix}'
    storageAccountName: storage.outputs.accountName
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    eventHubsNamespace: eventHubs.outputs.fullyQualifiedNamespace
    usageHubName: eventHubs.outputs.usageHubName
    usageConsumerGroup: eventHubs.outputs.usageConsumerGroup
    evaluationsHubName: eventHubs.outputs.evaluationsHubName
    evaluationsConsumerGroup: eventHubs.outputs.evaluationsConsumerGroup
    dayQueueName: storage.outputs.dayQueueName
    // The secret is set by hand (it is the Workflows URL, with its signature); the app resolves it.
    teamsWebhookSecretUri: '${keyVault.outputs.vaultUri}secrets/teams-webhook-url/'
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    maximumInstanceCount: environment == 'prod' ? 40 : 10
    instanceMemoryMB: environment == 'prod' ? 4096 : 2048
    tags: tags
  }
}

output functionAppName string = functionApp.outputs.appName
output keyVaultUri string = keyVault.outputs.vaultUri
output logAnalyticsWorkspaceId string = monitoring.outputs.workspaceId
output eventHubsNamespace string = eventHubs.outputs.fullyQualifiedNamespace
output storageAccountName string = storage.outputs.accountName
