using 'main.bicep'

param prefix = 'chgbk'
param environment = 'dev'
param usagePartitions = 4
param privateNetworking = false
// Dev scales the A100 pools to zero: vLLM pods wait (Pending) until the autoscaler adds a node.
param gpuPools = [
  { name: 'a100int', vmSize: 'Standard_NC24ads_A100_v4', minCount: 0, maxCount: 2, requestClass: 'interactive' }
  { name: 'a100batch', vmSize: 'Standard_NC48ads_A100_v4', minCount: 0, maxCount: 1, requestClass: 'batch' }
]
param trainingMaxNodes = 2
