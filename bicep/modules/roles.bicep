// Every role assignment of the system, least privilege, each on the narrowest scope that works.
// Nobody holds Owner or Contributor; a test compares this list with an allow-list.
//
// | who                   | role                              | on                        | why |
// |-----------------------|-----------------------------------|---------------------------|-----|
// | sidecar (workload id) | Azure Event Hubs Data Sender      | the usage hub             | publishes usage and capacity events |
// | Function App          | Azure Event Hubs Data Receiver    | usage hub, evaluations hub| the two Event Hubs triggers |
// | Function App          | Storage Blob Data Owner           | ledger/reports account    | ledger and reports; the host's leases and deployment package need Owner |
// | sidecar identity      | Storage Blob Data Reader          | budget-state container    | each pod reads the spend budgets' state.json every few seconds (SIDECAR_BUDGET_STATE_URL) |
// | Function App          | Storage Queue Data Contributor    | ledger/reports account    | the day queue (restatements) |
// | Function App          | Storage Table Data Contributor    | ledger/reports account    | ledger index, alerts, quality, retraining tables |
// | Function App          | Key Vault Secrets User            | the Key Vault             | the Teams URL reference |
// | Function App          | Monitoring Metrics Publisher      | Application Insights      | telemetry with local auth off |
// | Function App          | AzureML Data Scientist            | the Azure ML workspace    | creates and reads retraining jobs |
// | harness (workload id) | Azure Event Hubs Data Sender      | the evaluations hub       | the nightly `chargeback evaluate` CronJobs send their evaluation events |
// | harness CI principal  | Azure Event Hubs Data Sender      | the evaluations hub       | the harness run outside the cluster sends its results (only when its principal is given) |
// | KEDA (workload id)    | Monitoring Data Reader            | Azure Monitor workspace   | queries vLLM's queue depth |
// | AKS kubelet           | AcrPull                           | the registry              | pulls the sidecar and command line images |
// | AKS control plane     | Network Contributor               | the nodes' subnet         | joins load balancers to the subnet |
// | operator group        | Storage Blob Data Contributor     | ledger, reports containers| replay-deadletters and sweep-orphans write the ledger container; every command creates both if missing |
// | operator group        | Storage Table Data Contributor    | ledger/reports account    | restate and replay write the ledger index; every command creates the app's tables if missing |
// | operator group        | Storage Queue Data Contributor    | the day queue             | restate queues days; every command creates the queue if missing |
//
// The operator group's roles exist only when its object id is given. They follow what the commands
// restate, replay-deadletters and sweep-orphans call (src/cli/, through createServices, which creates
// every container, table and queue it uses at start, so read-only roles would fail there). Blob access
// is on the two containers, not the account: the same account holds the Functions host's secrets
// (function and master keys) and the app-package container, and writing those is running code as the app.

param sidecarPrincipalId string

@description('Object id of the identity the harness\'s CronJobs run as (system:serviceaccount:llm-serving:evaluation-harness).')
param harnessIdentityPrincipalId string

@description('Object id of the regression harness\'s CI service principal, which runs it outside the cluster; empty: none.')
param harnessPrincipalId string
param kedaPrincipalId string
param functionAppPrincipalId string
param kubeletPrincipalId string
param clusterPrincipalId string

@description('Object id of the Entra group of operators who run restate, replay-deadletters and sweep-orphans against the ledger account; empty: none.')
param operatorGroupId string

param eventHubsNamespaceName string
param storageAccountName string
@description('The containers the operator commands touch: the ledger\'s and the reports\'.')
param operatorContainerNames string[]
@description('The day queue (RESTATE_QUEUE_NAME) that restate queues to.')
param dayQueueName string
@description('The spend budgets\' state container, which the sidecars read (SIDECAR_BUDGET_STATE_URL).')
param budgetStateContainerName string
param vaultName string
param appInsightsName string
param mlWorkspaceName string
param monitorWorkspaceName string
param registryName string
param vnetName string

var role = {
  eventHubsDataSender: '2b629674-e913-4c01-ae53-ef4638d8f975'
  eventHubsDataReceiver: 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde'
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  azureMLDataScientist: 'f6c7c914-8db3-469d-8ca1-694a8f32e121'
  monitoringDataReader: 'b0d8363b-8ddd-447d-831f-62ca05bff136'
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
  networkContributor: '4d97b98b-1d4f-4787-a291-c67834d212e7'
}

resource namespace 'Microsoft.EventHub/namespaces@2026-01-01' existing = {
  name: eventHubsNamespaceName
}
resource usageHub 'Microsoft.EventHub/namespaces/eventhubs@2026-01-01' existing = {
  parent: namespace
  name: 'usage'
}
resource evaluationsHub 'Microsoft.EventHub/namespaces/eventhubs@2026-01-01' existing = {
  parent: namespace
  name: 'evaluations'
}
resource storage 'Microsoft.Storage/storageAccounts@2025-06-01' existing = {
  name: storageAccountName
}
resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2025-06-01' existing = {
  parent: storage
  name: 'default'
}
resource operatorContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-06-01' existing = [
  for name in operatorContainerNames: {
    parent: blobService
    name: name
  }
]
resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2025-06-01' existing = {
  parent: storage
  name: 'default'
}
resource dayQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2025-06-01' existing = {
  parent: queueService
  name: dayQueueName
}
resource vault 'Microsoft.KeyVault/vaults@2025-05-01' existing = {
  name: vaultName
}
resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}
resource mlWorkspace 'Microsoft.MachineLearningServices/workspaces@2025-06-01' existing = {
  name: mlWorkspaceName
}
resource monitorWorkspace 'Microsoft.Monitor/accounts@2025-10-03' existing = {
  name: monitorWorkspaceName
}
resource registry 'Microsoft.ContainerRegistry/registries@2025-04-01' existing = {
  name: registryName
}
resource vnet 'Microsoft.Network/virtualNetworks@2025-05-01' existing = {
  name: vnetName
}
resource nodeSubnet 'Microsoft.Network/virtualNetworks/subnets@2025-05-01' existing = {
  parent: vnet
  name: 'aks-nodes'
}

resource sidecarSends 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(usageHub.id, sidecarPrincipalId, role.eventHubsDataSender)
  scope: usageHub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.eventHubsDataSender)
    principalId: sidecarPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource budgetState 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-06-01' existing = {
  parent: blobService
  name: budgetStateContainerName
}

// The pods read the budget state every few seconds; the Function App writes it (its Blob Data Owner on the account).
resource sidecarReadsBudgets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(budgetState.id, sidecarPrincipalId, role.storageBlobDataReader)
  scope: budgetState
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.storageBlobDataReader)
    principalId: sidecarPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appReadsUsage 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(usageHub.id, functionAppPrincipalId, role.eventHubsDataReceiver)
  scope: usageHub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.eventHubsDataReceiver)
    principalId: functionAppPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appReadsEvaluations 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(evaluationsHub.id, functionAppPrincipalId, role.eventHubsDataReceiver)
  scope: evaluationsHub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.eventHubsDataReceiver)
    principalId: functionAppPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appStorage 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for id in [role.storageBlobDataOwner, role.storageQueueDataContributor, role.storageTableDataContributor]: {
    name: guid(storage.id, functionAppPrincipalId, id)
    scope: storage
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', id)
      principalId: functionAppPrincipalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource harnessIdentitySends 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(evaluationsHub.id, harnessIdentityPrincipalId, role.eventHubsDataSender)
  scope: evaluationsHub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.eventHubsDataSender)
    principalId: harnessIdentityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource harnessSends 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(harnessPrincipalId)) {
  name: guid(evaluationsHub.id, harnessPrincipalId, role.eventHubsDataSender)
  scope: evaluationsHub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.eventHubsDataSender)
    principalId: harnessPrincipalId
    principalType: 'ServicePrincipal'
  }
}

var operators = !empty(operatorGroupId)

resource operatorBlobs 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (name, i) in operatorContainerNames: if (operators) {
    name: guid(operatorContainers[i].id, operatorGroupId, role.storageBlobDataContributor)
    scope: operatorContainers[i]
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.storageBlobDataContributor)
      principalId: operatorGroupId
      principalType: 'Group'
    }
  }
]

// Account scope: the commands create the ledger, alerts, quality and retraining tables at start, and
// the account's tables hold nothing of the host's that would lend the app's identity.
resource operatorTables 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (operators) {
  name: guid(storage.id, operatorGroupId, role.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.storageTableDataContributor)
    principalId: operatorGroupId
    principalType: 'Group'
  }
}

resource operatorDayQueue 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (operators) {
  name: guid(dayQueue.id, operatorGroupId, role.storageQueueDataContributor)
  scope: dayQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.storageQueueDataContributor)
    principalId: operatorGroupId
    principalType: 'Group'
  }
}

resource appSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, functionAppPrincipalId, role.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.keyVaultSecretsUser)
    principalId: functionAppPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appTelemetry 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, functionAppPrincipalId, role.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.monitoringMetricsPublisher)
    principalId: functionAppPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appRetrains 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(mlWorkspace.id, functionAppPrincipalId, role.azureMLDataScientist)
  scope: mlWorkspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.azureMLDataScientist)
    principalId: functionAppPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource kedaReads 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(monitorWorkspace.id, kedaPrincipalId, role.monitoringDataReader)
  scope: monitorWorkspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.monitoringDataReader)
    principalId: kedaPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource kubeletPulls 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, kubeletPrincipalId, role.acrPull)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.acrPull)
    principalId: kubeletPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource clusterJoinsSubnet 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(nodeSubnet.id, clusterPrincipalId, role.networkContributor)
  scope: nodeSubnet
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.networkContributor)
    principalId: clusterPrincipalId
    principalType: 'ServicePrincipal'
  }
}
