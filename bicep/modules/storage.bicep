// The ledger and reports account: the ledger's segments and dead letters, the daily reports, the
// day queue, and the ledger, alerts, quality and retraining tables. Shared keys are off (every
// client, the Functions host included, uses Microsoft Entra ID), TLS 1.2, no public blob access.

param location string

@description('Storage account name, globally unique: 3-24 lower-case letters and digits.')
@minLength(3)
@maxLength(24)
param accountName string

@description('Days a ledger segment stays Hot before moving to Cool (restatements read recent days).')
@minValue(1)
param ledgerCoolAfterDays int

@description('Days ledger segments and dead letters are kept: how far back a day can be restated from its events.')
@minValue(30)
param ledgerRetentionDays int

@description('Days report blobs (CSV, summary, metrics, per-request files) stay Hot before Cool; they are kept.')
@minValue(1)
param reportsCoolAfterDays int

@description('Days deleted or overwritten report blobs can be recovered.')
@minValue(1)
@maxValue(365)
param softDeleteDays int

param publicNetworkAccess bool
param tags object

// The names the app's settings default to (src/composition/settings.ts); a test checks they agree.
var containers = ['ledger', 'reports', 'day-work']
var tables = ['ledger', 'alerts', 'quality', 'retraining', 'dayjobs', 'budgetspend', 'promotions']
var dayQueue = 'chargeback-days'
// The fanned-out day's unit and fan-in messages (DAY_FAN_OUT=true).
var dayWorkQueue = 'chargeback-day-units'

resource account 'Microsoft.Storage/storageAccounts@2025-06-01' = {
  name: accountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_ZRS' }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    defaultToOAuthAuthentication: true
    publicNetworkAccess: publicNetworkAccess ? 'Enabled' : 'Disabled'
    networkAcls: { defaultAction: publicNetworkAccess ? 'Allow' : 'Deny', bypass: 'AzureServices' }
  }
}

resource blobs 'Microsoft.Storage/storageAccounts/blobServices@2025-06-01' = {
  parent: account
  name: 'default'
  properties: {
    // A report overwritten by a restatement, or deleted by mistake, can be got back.
    isVersioningEnabled: true
    deleteRetentionPolicy: { enabled: true, days: softDeleteDays }
    containerDeleteRetentionPolicy: { enabled: true, days: softDeleteDays }
  }
}

resource blobContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-06-01' = [
  for name in containers: {
    parent: blobs
    name: name
    properties: { publicAccess: 'None' }
  }
]

// The spend budgets' state document (state.json): the Function App writes it, the sidecars read it
// (roles.bicep), and nothing else is in it, so the pods' read role reaches nothing else.
resource budgetStateContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-06-01' = {
  parent: blobs
  name: 'budget-state'
  properties: { publicAccess: 'None' }
}

// The Function App's deployment package (Flex Consumption deploys from a blob container).
resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-06-01' = {
  parent: blobs
  name: 'app-package'
  properties: { publicAccess: 'None' }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2025-06-01' = {
  parent: account
  name: 'default'
}

resource storageTables 'Microsoft.Storage/storageAccounts/tableServices/tables@2025-06-01' = [
  for name in tables: {
    parent: tableService
    name: name
  }
]

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2025-06-01' = {
  parent: account
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2025-06-01' = [
  for name in [dayQueue, '${dayQueue}-poison', dayWorkQueue, '${dayWorkQueue}-poison']: {
    parent: queueService
    name: name
  }
]

resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2025-06-01' = {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'ledger-segments-and-dead-letters'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: { blobTypes: ['blockBlob'], prefixMatch: ['ledger/segments/', 'ledger/deadletter/', 'ledger/replayed/'] }
            actions: {
              baseBlob: {
                tierToCool: { daysAfterModificationGreaterThan: ledgerCoolAfterDays }
                delete: { daysAfterModificationGreaterThan: ledgerRetentionDays }
              }
            }
          }
        }
        {
          name: 'reports-to-cool'
          enabled: true
          type: 'Lifecycle'
          definition: {
            // A prefix cannot single out the per-request files (chargeback/YYYY/MM/DD/requests-*),
            // so every report blob goes to Cool, where it stays readable; none is deleted here.
            filters: { blobTypes: ['blockBlob'], prefixMatch: ['reports/chargeback/'] }
            actions: {
              baseBlob: {
                tierToCool: { daysAfterModificationGreaterThan: reportsCoolAfterDays }
              }
              version: { delete: { daysAfterCreationGreaterThan: softDeleteDays } }
            }
          }
        }
      ]
    }
  }
}

output accountId string = account.id
output accountName string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
output tableEndpoint string = account.properties.primaryEndpoints.table
output containerNames array = containers
// What the operator commands touch (roles.bicep): the ledger and reports containers, not day-work.
output operatorContainerNames string[] = [containers[0], containers[1]]
output deploymentContainerUrl string = '${account.properties.primaryEndpoints.blob}${deploymentContainer.name}'
output tableNames array = tables
output budgetStateContainerName string = budgetStateContainer.name
// SIDECAR_BUDGET_STATE_URL of the vLLM pods.
output budgetStateUrl string = '${account.properties.primaryEndpoints.blob}${budgetStateContainer.name}/state.json'
output dayQueueName string = dayQueue
output dayWorkQueueName string = dayWorkQueue
