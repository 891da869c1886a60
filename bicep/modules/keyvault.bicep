// Key Vault for the secrets the app reads as Key Vault references (TEAMS_WEBHOOK_URL). RBAC mode
// (no access policies), purge protection and soft delete on, no public access when private.

param location string

@minLength(3)
@maxLength(24)
param vaultName string

@minValue(7)
@maxValue(90)
param softDeleteDays int

param publicNetworkAccess bool
param tags object

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
    softDeleteRetentionInDays: softDeleteDays
    publicNetworkAccess: publicNetworkAccess ? 'Enabled' : 'Disabled'
    networkAcls: { defaultAction: publicNetworkAccess ? 'Allow' : 'Deny', bypass: 'AzureServices' }
  }
}

output vaultId string = vault.id
output vaultName string = vault.name
output vaultUri string = vault.properties.vaultUri
