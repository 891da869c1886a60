using 'main.bicep'

param prefix = 'chgbk'
param environment = 'prod'
// One partition per expected ingest instance at peak; the daily run holds one partition at a time.
param usagePartitions = 16
param privateNetworking = true
// One vLLM pod per node (one GPU interactive, two GPUs batch); the bounds are the KEDA replica bounds
// of vllm-deploy/keda.yaml, so every pod KEDA asks for has a node (a test holds them together).
param gpuPools = [
  { name: 'a100int', vmSize: 'Standard_NC24ads_A100_v4', minCount: 2, maxCount: 8, requestClass: 'interactive' }
  { name: 'a100batch', vmSize: 'Standard_NC48ads_A100_v4', minCount: 1, maxCount: 4, requestClass: 'batch' }
]
param trainingMaxNodes = 2
