// The virtual network every part sits in: AKS nodes, the Function App's outbound integration, the
// Azure ML training cluster and, when private networking is on, the private endpoints. The VNet costs
// nothing; it is always there so that turning private networking on changes no address.

param location string
param vnetName string

@description('Address space of the VNet; the subnets below are carved from it.')
param addressPrefix string = '10.40.0.0/16'

param tags object

resource nsg 'Microsoft.Network/networkSecurityGroups@2025-05-01' = {
  name: '${vnetName}-nsg'
  location: location
  tags: tags
  properties: { securityRules: [] }
}

resource vnet 'Microsoft.Network/virtualNetworks@2025-05-01' = {
  name: vnetName
  location: location
  tags: tags
  properties: {
    addressSpace: { addressPrefixes: [addressPrefix] }
    subnets: [
      {
        // AKS nodes (Azure CNI overlay: pods get addresses outside the VNet).
        name: 'aks-nodes'
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 20, 0)
          networkSecurityGroup: { id: nsg.id }
        }
      }
      {
        // The Function App's outbound VNet integration (Flex Consumption delegates to Microsoft.App).
        name: 'functions'
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 24, 16)
          networkSecurityGroup: { id: nsg.id }
          delegations: [{ name: 'flex', properties: { serviceName: 'Microsoft.App/environments' } }]
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 24, 17)
          networkSecurityGroup: { id: nsg.id }
          privateEndpointNetworkPolicies: 'Enabled'
        }
      }
      {
        // Azure ML's A100 training cluster.
        name: 'training'
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 24, 18)
          networkSecurityGroup: { id: nsg.id }
        }
      }
    ]
  }
}

output vnetId string = vnet.id
output aksSubnetId string = resourceId('Microsoft.Network/virtualNetworks/subnets', vnet.name, 'aks-nodes')
output functionsSubnetId string = resourceId('Microsoft.Network/virtualNetworks/subnets', vnet.name, 'functions')
output endpointsSubnetId string = resourceId('Microsoft.Network/virtualNetworks/subnets', vnet.name, 'private-endpoints')
output trainingSubnetId string = resourceId('Microsoft.Network/virtualNetworks/subnets', vnet.name, 'training')
output vnetName string = vnet.name
