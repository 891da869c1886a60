// The container registry for the sidecar image (pulled by AKS) and Azure ML's training environments.
// Admin user off: pulls use Entra identities. Premium in prod, for the private endpoint.

param location string
param registryName string

@allowed(['Basic', 'Premium'])
param skuName string

param publicNetworkAccess bool
param tags object

resource registry 'Microsoft.ContainerRegistry/registries@2025-04-01' = {
  name: registryName
  location: location
  tags: tags
  sku: { name: skuName }
  properties: {
    adminUserEnabled: false
    anonymousPullEnabled: false
    publicNetworkAccess: publicNetworkAccess ? 'Enabled' : 'Disabled'
  }
}

output registryId string = registry.id
output registryName string = registry.name
