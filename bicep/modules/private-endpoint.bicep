// One private endpoint for one sub-resource (blob, table, namespace, vault, ...) of a service, with
// its DNS records in the given private zones.

param location string
param name string
param subnetId string

@description('Resource id of the service the endpoint connects to.')
param targetId string

@description('The sub-resource: blob, table, queue, file, namespace, vault, amlworkspace, registry.')
param groupId string

@description('Private DNS zones (in this resource group) the endpoint registers its addresses in.')
param zoneNames string[]
param tags object

resource endpoint 'Microsoft.Network/privateEndpoints@2025-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    subnet: { id: subnetId }
    privateLinkServiceConnections: [
      {
        name: name
        properties: { privateLinkServiceId: targetId, groupIds: [groupId] }
      }
    ]
  }
}

resource dns 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2025-05-01' = {
  parent: endpoint
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      for (zone, i) in zoneNames: {
        name: 'zone${i}'
        properties: { privateDnsZoneId: resourceId('Microsoft.Network/privateDnsZones', zone) }
      }
    ]
  }
}
