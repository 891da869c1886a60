// The private DNS zones the private endpoints register in, each linked to the VNet, so that every
// client in it resolves the services' public names to their private addresses.

param vnetId string
param zoneNames string[]
param tags object

resource zones 'Microsoft.Network/privateDnsZones@2024-06-01' = [
  for name in zoneNames: {
    name: name
    location: 'global'
    tags: tags
  }
]

resource links 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [
  for (name, i) in zoneNames: {
    parent: zones[i]
    name: 'vnet'
    location: 'global'
    tags: tags
    properties: {
      virtualNetwork: { id: vnetId }
      registrationEnabled: false
    }
  }
]

output zoneIds string[] = [for (name, i) in zoneNames: zones[i].id]
