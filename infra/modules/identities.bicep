// User-assigned managed identities. Only these can be federated credentials of an app
// registration (obo-proxy-identity), and only these can be shared by many services (build-agents).

param location string
param tags object
param names array

resource identities 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = [for name in names: {
  name: name
  location: location
  tags: tags
}]

output identities array = [for (name, i) in names: {
  name: name
  id: identities[i].id
  clientId: identities[i].properties.clientId
  principalId: identities[i].properties.principalId
}]
