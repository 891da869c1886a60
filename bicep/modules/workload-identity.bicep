// A user-assigned identity for one Kubernetes service account, federated with the cluster's OIDC
// issuer: pods running as system:serviceaccount:<namespace>:<name> get its Entra tokens, nothing else.

param location string
param identityName string
param oidcIssuerUrl string
param namespace string
param serviceAccount string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: identityName
  location: location
  tags: tags
}

resource federation 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2024-11-30' = {
  parent: identity
  name: '${namespace}-${serviceAccount}'
  properties: {
    issuer: oidcIssuerUrl
    subject: 'system:serviceaccount:${namespace}:${serviceAccount}'
    audiences: ['api://AzureADTokenExchange']
  }
}

output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
output identityName string = identity.name
