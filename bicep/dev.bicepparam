using 'main.bicep'

param prefix = 'chgbk'
param environment = 'dev'
param usagePartitions = 4
param privateNetworking = false
