// AKS for vLLM: a small system pool and the two A100 pools the manifests in vllm-deploy/ select
// (interactive on Standard_NC24ads_A100_v4, batch on Standard_NC48ads_A100_v4), tainted so that only
// GPU workloads land there (the manifests tolerate sku=gpu:NoSchedule; a test holds the two together).
// OIDC issuer and workload identity for the sidecar's Event Hubs identity, the KEDA add-on that scales
// vLLM on its queue, and managed Prometheus: an Azure Monitor workspace, a data collection endpoint
// and rule, and the rule's association with the cluster.

param location string
param clusterName string
param monitorWorkspaceName string

@description('Subnet of the nodes (the VNet module\'s aks-nodes).')
param nodeSubnetId string

@description('Free for dev, Standard (financially backed API server SLA) for prod.')
@allowed(['Free', 'Standard'])
param tier string

@description('The A100 pools: name, VM size, and autoscaler bounds. The fixed-cost estimate reads them.')
param gpuPools {
  name: string
  vmSize: string
  minCount: int
  maxCount: int
  @description('The request class the pool serves, as a node label.')
  requestClass: string
}[]

param tags object

// The manifests tolerate this taint (vllm-deploy/interactive.yaml, batch.yaml); nothing else does.
var gpuTaint = 'sku=gpu:NoSchedule'

resource cluster 'Microsoft.ContainerService/managedClusters@2025-10-01' = {
  name: clusterName
  location: location
  tags: tags
  sku: { name: 'Base', tier: tier }
  identity: { type: 'SystemAssigned' }
  properties: {
    dnsPrefix: clusterName
    enableRBAC: true
    // Microsoft Entra ID only: no local admin kubeconfig.
    disableLocalAccounts: true
    aadProfile: { managed: true, enableAzureRBAC: true }
    oidcIssuerProfile: { enabled: true }
    securityProfile: { workloadIdentity: { enabled: true } }
    workloadAutoScalerProfile: { keda: { enabled: true } }
    azureMonitorProfile: { metrics: { enabled: true } }
    autoUpgradeProfile: { upgradeChannel: 'patch', nodeOSUpgradeChannel: 'NodeImage' }
    networkProfile: {
      networkPlugin: 'azure'
      networkPluginMode: 'overlay'
      networkPolicy: 'cilium'
      networkDataplane: 'cilium'
      podCidr: '192.168.0.0/16'
      serviceCidr: '172.16.0.0/16'
      dnsServiceIP: '172.16.0.10'
    }
    agentPoolProfiles: concat(
      [
        {
          name: 'system'
          mode: 'System'
          vmSize: 'Standard_D4ds_v5'
          osType: 'Linux'
          osSKU: 'AzureLinux'
          type: 'VirtualMachineScaleSets'
          vnetSubnetID: nodeSubnetId
          enableAutoScaling: true
          count: 2
          minCount: 2
          maxCount: 3
          // Keeps application pods off the system nodes.
          nodeTaints: ['CriticalAddonsOnly=true:NoSchedule']
        }
      ],
      map(gpuPools, pool => {
        name: pool.name
        mode: 'User'
        vmSize: pool.vmSize
        osType: 'Linux'
        // Ubuntu: AKS installs the NVIDIA driver on GPU node images.
        osSKU: 'Ubuntu'
        type: 'VirtualMachineScaleSets'
        vnetSubnetID: nodeSubnetId
        enableAutoScaling: true
        count: pool.minCount
        minCount: pool.minCount
        maxCount: pool.maxCount
        nodeTaints: [gpuTaint]
        nodeLabels: { 'chargeback/request-class': pool.requestClass }
      })
    )
  }
}

resource monitorWorkspace 'Microsoft.Monitor/accounts@2025-10-03' = {
  name: monitorWorkspaceName
  location: location
  tags: tags
}

resource endpoint 'Microsoft.Insights/dataCollectionEndpoints@2024-03-11' = {
  name: 'MSProm-${clusterName}'
  location: location
  tags: tags
  kind: 'Linux'
  properties: {}
}

resource rule 'Microsoft.Insights/dataCollectionRules@2024-03-11' = {
  name: 'MSProm-${clusterName}'
  location: location
  tags: tags
  kind: 'Linux'
  properties: {
    dataCollectionEndpointId: endpoint.id
    dataSources: {
      prometheusForwarder: [
        { name: 'PrometheusDataSource', streams: ['Microsoft-PrometheusMetrics'], labelIncludeFilter: {} }
      ]
    }
    destinations: {
      monitoringAccounts: [{ name: 'MonitoringAccount', accountResourceId: monitorWorkspace.id }]
    }
    dataFlows: [{ streams: ['Microsoft-PrometheusMetrics'], destinations: ['MonitoringAccount'] }]
  }
}

resource association 'Microsoft.Insights/dataCollectionRuleAssociations@2024-03-11' = {
  name: 'MSProm-${clusterName}'
  scope: cluster
  properties: {
    dataCollectionRuleId: rule.id
    description: 'Managed Prometheus: vLLM and sidecar metrics (PodMonitor in vllm-deploy/monitoring.yaml).'
  }
}

output clusterId string = cluster.id
output clusterName string = cluster.name
output oidcIssuerUrl string = cluster.properties.oidcIssuerProfile.issuerURL
output kubeletObjectId string = cluster.properties.identityProfile.kubeletidentity.objectId
output clusterPrincipalId string = cluster.identity.principalId
output monitorWorkspaceId string = monitorWorkspace.id
output prometheusQueryEndpoint string = monitorWorkspace.properties.metrics.prometheusQueryEndpoint
output monitorWorkspaceName string = monitorWorkspace.name
