using 'main.bicep'

param prefix = 'chgbk'
param environment = 'prod'
// One partition per expected ingest instance at peak; the daily run holds one partition at a time.
param usagePartitions = 16
param privateNetworking = true
