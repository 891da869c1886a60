// Azure ML for retraining: the workspace with its own storage account and Key Vault (both
// identity-only), the shared Application Insights and container registry, and the A100 training
// cluster the retraining jobs run on. The cluster scales to zero: it costs nothing between jobs.
// Its name and VM size are the retraining settings' AML_COMPUTE and computeSku (a test holds them).

param location string
param workspaceName string

@minLength(3)
@maxLength(24)
param storageAccountName string

@minLength(3)
@maxLength(24)
param vaultName string

param appInsightsId string
param registryId string

@description('Name of the A100 cluster in the workspace (the app setting AML_COMPUTE).')
param computeName string

@description('VM size of the cluster (rules/retraining.json computeSku): 8x A100 on Standard_ND96asr_v4.')
param computeVmSize string

@minValue(1)
param computeMaxNodes int

@description('Minutes a node stays after its last job before the cluster scales it down.')
@minValue(1)
param idleMinutesBeforeScaleDown int

param publicNetworkAccess bool

@description('Subnet of the cluster\'s nodes.')
param trainingSubnetId string

param tags object

resource storage 'Microsoft.Storage/storageAccounts@2025-06-01' = {
  name: storageAccountName
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

resource vault 'Microsoft.KeyVault/vaults@2025-05-01' = {
  name: vaultName
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enablePurgeProtection: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    publicNetworkAccess: publicNetworkAccess ? 'Enabled' : 'Disabled'
    networkAcls: { defaultAction: publicNetworkAccess ? 'Allow' : 'Deny', bypass: 'AzureServices' }
  }
}

resource workspace 'Microsoft.MachineLearningServices/workspaces@2025-06-01' = {
  name: workspaceName
  location: location
  tags: tags
  kind: 'Default'
  sku: { name: 'Basic', tier: 'Basic' }
  identity: { type: 'SystemAssigned' }
  properties: {
    friendlyName: workspaceName
    storageAccount: storage.id
    keyVault: vault.id
    applicationInsights: appInsightsId
    containerRegistry: registryId
    // The workspace's datastores use identities, as the storage account refuses shared keys.
    systemDatastoresAuthMode: 'identity'
    publicNetworkAccess: publicNetworkAccess ? 'Enabled' : 'Disabled'
    v1LegacyMode: false
  }
}

resource cluster 'Microsoft.MachineLearningServices/workspaces/computes@2025-06-01' = {
  parent: workspace
  name: computeName
  location: location
  tags: tags
  identity: { type: 'SystemAssigned' }
  properties: {
    computeType: 'AmlCompute'
    description: 'A100 cluster for retraining jobs submitted by a failed quality gate.'
    disableLocalAuth: true
    properties: {
      vmSize: computeVmSize
      vmPriority: 'Dedicated'
      osType: 'Linux'
      scaleSettings: {
        minNodeCount: 0
        maxNodeCount: computeMaxNodes
        nodeIdleTimeBeforeScaleDown: 'PT${idleMinutesBeforeScaleDown}M'
      }
      // No SSH, no public IP on the nodes when the network is private.
      remoteLoginPortPublicAccess: 'Disabled'
      enableNodePublicIp: publicNetworkAccess
      subnet: { id: trainingSubnetId }
    }
  }
}

output workspaceId string = workspace.id
output workspaceName string = workspace.name
output storageAccountId string = storage.id
output vaultId string = vault.id
output computeName string = cluster.name
