// Event Hubs: the `usage` hub the sidecars send to (partition key: pod) and the `evaluations` hub
// the regression harness sends to, each with the consumer group the Function App reads with.
// Local (SAS) auth is off: every client uses Microsoft Entra ID.

@description('Azure region of the namespace.')
param location string

@description('Namespace name, globally unique.')
param namespaceName string

@description('Partitions of the usage hub: at least the number of Function App instances that should read it at once; the daily run holds one partition at a time.')
@minValue(1)
@maxValue(32)
param usagePartitions int

@description('Throughput units (Standard tier), with auto-inflate up to maxThroughputUnits.')
@minValue(1)
param throughputUnits int

@minValue(1)
param maxThroughputUnits int

@description('Days events are retained in the hubs: how long ingestion may be down without losing any.')
@minValue(1)
@maxValue(7)
param retentionDays int

@description('Public network access; off when private networking is on.')
param publicNetworkAccess bool

param tags object

resource namespace 'Microsoft.EventHub/namespaces@2026-01-01' = {
  name: namespaceName
  location: location
  tags: tags
  sku: { name: 'Standard', tier: 'Standard', capacity: throughputUnits }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    isAutoInflateEnabled: true
    maximumThroughputUnits: maxThroughputUnits
    publicNetworkAccess: publicNetworkAccess ? 'Enabled' : 'Disabled'
  }
}

resource usage 'Microsoft.EventHub/namespaces/eventhubs@2026-01-01' = {
  parent: namespace
  name: 'usage'
  properties: {
    partitionCount: usagePartitions
    messageRetentionInDays: retentionDays
  }
}

resource chargebackGroup 'Microsoft.EventHub/namespaces/eventhubs/consumergroups@2026-01-01' = {
  parent: usage
  name: 'chargeback'
}

resource evaluations 'Microsoft.EventHub/namespaces/eventhubs@2026-01-01' = {
  parent: namespace
  name: 'evaluations'
  properties: {
    // A handful of results a day: two partitions are plenty.
    partitionCount: 2
    messageRetentionInDays: retentionDays
  }
}

resource qualityGroup 'Microsoft.EventHub/namespaces/eventhubs/consumergroups@2026-01-01' = {
  parent: evaluations
  name: 'quality'
}

output namespaceId string = namespace.id
output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'
output usageHubId string = usage.id
output evaluationsHubId string = evaluations.id
output usageHubName string = usage.name
output evaluationsHubName string = evaluations.name
output usageConsumerGroup string = chargebackGroup.name
output evaluationsConsumerGroup string = qualityGroup.name
output namespaceName string = namespace.name
