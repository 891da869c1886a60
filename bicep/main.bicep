// The whole system, area by area: Event Hubs, Storage, Key Vault, monitoring and alerts, the
// Function App, AKS with the A100 pools, the sidecar's, the regression harness's and KEDA's workload
// identities, Azure ML with
// its A100 training cluster, every role assignment (roles.bicep), and private networking as an option.
// docs/deployment.md says how to deploy it and what must exist first.

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

@description('A100 pools of AKS, with autoscaler bounds. vLLM pods select them by VM size (vllm-deploy/).')
param gpuPools {
  name: string
  vmSize: string
  minCount: int
  maxCount: int
  requestClass: string
}[]

@description('VM size of the Azure ML training cluster: rules/retraining.json computeSku.')
param trainingVmSize string = 'Standard_ND96asr_v4'

@description('Most nodes the training cluster may scale to (it scales to zero between jobs).')
@minValue(1)
param trainingMaxNodes int

@description('ARM id of the training environment asset; retraining stays off until it and amlCodeId are set.')
param amlEnvironmentId string = ''

@description('ARM id of the training code asset.')
param amlCodeId string = ''

@description('Most one retraining job may be estimated to cost, in USD (RETRAIN_MAX_USD).')
@minValue(0)
param retrainMaxUsdPerJob int = 500

@description('Object id of a service principal that runs the regression harness outside the cluster (CI) and sends evaluation results to the evaluations hub; empty: none. The cluster\'s CronJobs have an identity of their own (harnessClientId).')
param harnessPrincipalId string = ''

@description('Object id of the Entra group whose members run restate, replay-deadletters and sweep-orphans against the ledger account (docs/operations.md); empty: none.')
param operatorGroupId string = ''

@description('REPORT_LINK_BASE: the URL prefix a drift card\'s button opens, <prefix>YYYY-MM-DD; empty: cards have no button. docs/operations.md says what serves it.')
param reportLinkBase string = ''

@description('BUDGETS_PATH: the spend budgets file in the Function App package (docs/budgets.md); empty: no budgets.')
param budgetsPath string = ''

@description('Entra app registration (client id) that signs colleagues in to the report pages a drift card opens; its client secret is the Key Vault secret page-sign-in-secret. Empty: no sign-in, and cards have a button only with reportLinkBase. docs/operations.md says how to create the registration.')
param pageSignInClientId string = ''

@description('Where alerts are e-mailed.')
param alertEmails string[] = []

var suffix = uniqueString(resourceGroup().id, prefix, environment)
var tags = { system: 'gpu-chargeback', environment: environment }

// Where the vLLM pods and their sidecar run (vllm-deploy/namespace.yaml, serviceaccount.yaml; a test
// holds them together), the regression harness's CronJobs (vllm-deploy/evaluation-cronjob.yaml, in
// the same namespace under an account of their own), and KEDA's operator (the AKS add-on's service
// account).
var servingNamespace = 'llm-serving'
var sidecarServiceAccount = 'vllm-chargeback'
var harnessServiceAccount = 'evaluation-harness'
// The training cluster's name in the workspace: the app setting AML_COMPUTE.
var trainingComputeName = 'a100-train'

// Names known at the start of the deployment (private endpoints are looped over them).
var names = {
  eventHubs: 'evh-${prefix}-${environment}-${suffix}'
  storage: take('st${prefix}${environment}${suffix}', 24)
  vault: take('kv-${prefix}-${environment}-${suffix}', 24)
  mlWorkspace: 'mlw-${prefix}-${environment}-${suffix}'
  mlStorage: take('stml${prefix}${environment}${suffix}', 24)
  mlVault: take('kvml-${prefix}-${environment}-${suffix}', 24)
  registry: 'cr${prefix}${environment}${suffix}'
}

module network 'modules/network.bicep' = {
  name: 'network'
  params: {
    location: location
    vnetName: 'vnet-${prefix}-${environment}-${suffix}'
    tags: tags
  }
}

module eventHubs 'modules/eventhubs.bicep' = {
  name: 'eventhubs'
  params: {
    location: location
    namespaceName: names.eventHubs
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
    accountName: names.storage
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
    vaultName: names.vault
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
    dayWorkQueueName: storage.outputs.dayWorkQueueName
    // The secret is set by hand (it is the Workflows URL, with its signature); the app resolves it.
    teamsWebhookSecretUri: '${keyVault.outputs.vaultUri}secrets/teams-webhook-url/'
    reportLinkBase: reportLinkBase
    budgetsPath: budgetsPath
    budgetStateContainerName: storage.outputs.budgetStateContainerName
    pageSignIn: {
      clientId: pageSignInClientId
      clientSecretUri: empty(pageSignInClientId) ? '' : '${keyVault.outputs.vaultUri}secrets/page-sign-in-secret/'
    }
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    virtualNetworkSubnetId: network.outputs.functionsSubnetId
    retraining: {
      workspaceName: machineLearning.outputs.workspaceName
      computeName: machineLearning.outputs.computeName
      environmentId: amlEnvironmentId
      codeId: amlCodeId
      maxUsdPerJob: retrainMaxUsdPerJob
    }
    maximumInstanceCount: environment == 'prod' ? 40 : 10
    instanceMemoryMB: environment == 'prod' ? 4096 : 2048
    tags: tags
  }
}

module registry 'modules/registry.bicep' = {
  name: 'registry'
  params: {
    location: location
    registryName: names.registry
    // A private endpoint needs Premium.
    skuName: privateNetworking ? 'Premium' : 'Basic'
    publicNetworkAccess: !privateNetworking
    tags: tags
  }
}

module aks 'modules/aks.bicep' = {
  name: 'aks'
  params: {
    location: location
    clusterName: 'aks-${prefix}-${environment}-${suffix}'
    monitorWorkspaceName: 'amw-${prefix}-${environment}-${suffix}'
    nodeSubnetId: network.outputs.aksSubnetId
    tier: environment == 'prod' ? 'Standard' : 'Free'
    gpuPools: gpuPools
    tags: tags
  }
}

module sidecarIdentity 'modules/workload-identity.bicep' = {
  name: 'sidecar-identity'
  params: {
    location: location
    identityName: 'id-${prefix}-${environment}-sidecar'
    oidcIssuerUrl: aks.outputs.oidcIssuerUrl
    namespace: servingNamespace
    serviceAccount: sidecarServiceAccount
    tags: tags
  }
}

// The nightly `chargeback evaluate` CronJobs: they send to the evaluations hub and nothing else.
module harnessIdentity 'modules/workload-identity.bicep' = {
  name: 'harness-identity'
  params: {
    location: location
    identityName: 'id-${prefix}-${environment}-harness'
    oidcIssuerUrl: aks.outputs.oidcIssuerUrl
    namespace: servingNamespace
    serviceAccount: harnessServiceAccount
    tags: tags
  }
}

module kedaIdentity 'modules/workload-identity.bicep' = {
  name: 'keda-identity'
  params: {
    location: location
    identityName: 'id-${prefix}-${environment}-keda'
    oidcIssuerUrl: aks.outputs.oidcIssuerUrl
    namespace: 'kube-system'
    serviceAccount: 'keda-operator'
    tags: tags
  }
}

module machineLearning 'modules/machinelearning.bicep' = {
  name: 'machinelearning'
  params: {
    location: location
    workspaceName: names.mlWorkspace
    storageAccountName: names.mlStorage
    vaultName: names.mlVault
    appInsightsId: monitoring.outputs.appInsightsId
    registryId: registry.outputs.registryId
    computeName: trainingComputeName
    computeVmSize: trainingVmSize
    computeMaxNodes: trainingMaxNodes
    idleMinutesBeforeScaleDown: 15
    publicNetworkAccess: !privateNetworking
    trainingSubnetId: network.outputs.trainingSubnetId
    tags: tags
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  params: {
    sidecarPrincipalId: sidecarIdentity.outputs.principalId
    harnessIdentityPrincipalId: harnessIdentity.outputs.principalId
    harnessPrincipalId: harnessPrincipalId
    kedaPrincipalId: kedaIdentity.outputs.principalId
    functionAppPrincipalId: functionApp.outputs.principalId
    kubeletPrincipalId: aks.outputs.kubeletObjectId
    clusterPrincipalId: aks.outputs.clusterPrincipalId
    operatorGroupId: operatorGroupId
    eventHubsNamespaceName: eventHubs.outputs.namespaceName
    storageAccountName: storage.outputs.accountName
    operatorContainerNames: storage.outputs.operatorContainerNames
    dayQueueName: storage.outputs.dayQueueName
    budgetStateContainerName: storage.outputs.budgetStateContainerName
    vaultName: keyVault.outputs.vaultName
    appInsightsName: monitoring.outputs.appInsightsName
    mlWorkspaceName: machineLearning.outputs.workspaceName
    monitorWorkspaceName: aks.outputs.monitorWorkspaceName
    registryName: registry.outputs.registryName
    vnetName: network.outputs.vnetName
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    location: location
    namePrefix: 'chargeback-${environment}'
    alertEmails: alertEmails
    appInsightsId: monitoring.outputs.appInsightsId
    usageHubNamespaceId: eventHubs.outputs.namespaceId
    monitorWorkspaceId: aks.outputs.monitorWorkspaceId
    clusterId: aks.outputs.clusterId
    clusterName: aks.outputs.clusterName
    deadLettersPerDay: environment == 'prod' ? 10 : 100
    ingestLagSeconds: 900
    spoolBytesAlert: 1048576
    tags: tags
  }
}

// Private networking: one private DNS zone per kind of endpoint, linked to the VNet, and an endpoint
// for every data service. Public access is off on each of them (see the modules' publicNetworkAccess).
module privateDns 'modules/private-dns.bicep' = if (privateNetworking) {
  name: 'private-dns'
  params: {
    vnetId: network.outputs.vnetId
    zoneNames: flatten(map(items(zonesOf), z => z.value))
    tags: tags
  }
}

var storageDns = az.environment().suffixes.storage
var zonesOf = {
  blob: ['privatelink.blob.${storageDns}']
  table: ['privatelink.table.${storageDns}']
  queue: ['privatelink.queue.${storageDns}']
  file: ['privatelink.file.${storageDns}']
  namespace: ['privatelink.servicebus.windows.net']
  vault: ['privatelink.vaultcore.azure.net']
  amlworkspace: ['privatelink.api.azureml.ms', 'privatelink.notebooks.azure.net']
  registry: ['privatelink${az.environment().suffixes.acrLoginServer}']
}

var endpoints = [
  { name: 'ledger-blob', target: resourceId('Microsoft.Storage/storageAccounts', names.storage), group: 'blob' }
  { name: 'ledger-table', target: resourceId('Microsoft.Storage/storageAccounts', names.storage), group: 'table' }
  { name: 'ledger-queue', target: resourceId('Microsoft.Storage/storageAccounts', names.storage), group: 'queue' }
  { name: 'eventhubs', target: resourceId('Microsoft.EventHub/namespaces', names.eventHubs), group: 'namespace' }
  { name: 'keyvault', target: resourceId('Microsoft.KeyVault/vaults', names.vault), group: 'vault' }
  {
    name: 'ml-workspace'
    target: resourceId('Microsoft.MachineLearningServices/workspaces', names.mlWorkspace)
    group: 'amlworkspace'
  }
  { name: 'ml-blob', target: resourceId('Microsoft.Storage/storageAccounts', names.mlStorage), group: 'blob' }
  { name: 'ml-file', target: resourceId('Microsoft.Storage/storageAccounts', names.mlStorage), group: 'file' }
  { name: 'ml-keyvault', target: resourceId('Microsoft.KeyVault/vaults', names.mlVault), group: 'vault' }
  { name: 'registry', target: resourceId('Microsoft.ContainerRegistry/registries', names.registry), group: 'registry' }
]

module privateEndpoints 'modules/private-endpoint.bicep' = [
  for endpoint in endpoints: if (privateNetworking) {
    name: 'pe-${endpoint.name}'
    params: {
      location: location
      name: 'pe-${prefix}-${environment}-${endpoint.name}'
      subnetId: network.outputs.endpointsSubnetId
      targetId: endpoint.target
      groupId: endpoint.group
      zoneNames: zonesOf[endpoint.group]
      tags: tags
    }
    dependsOn: [privateDns, storage, eventHubs, keyVault, machineLearning, registry]
  }
]

output functionAppName string = functionApp.outputs.appName
output keyVaultUri string = keyVault.outputs.vaultUri
output logAnalyticsWorkspaceId string = monitoring.outputs.workspaceId
output eventHubsNamespace string = eventHubs.outputs.fullyQualifiedNamespace
output storageAccountName string = storage.outputs.accountName
output aksClusterName string = aks.outputs.clusterName
output sidecarClientId string = sidecarIdentity.outputs.clientId
output budgetStateUrl string = storage.outputs.budgetStateUrl
output harnessClientId string = harnessIdentity.outputs.clientId
output kedaClientId string = kedaIdentity.outputs.clientId
output prometheusQueryEndpoint string = aks.outputs.prometheusQueryEndpoint
output mlWorkspaceName string = machineLearning.outputs.workspaceName
output trainingComputeName string = machineLearning.outputs.computeName
