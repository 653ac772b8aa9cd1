// Storage for the Functions host, the deployment packages and the notifications table.
// Shared keys are off: every app reaches it with its managed identity.

param location string
param tags object
param name string
param deploymentContainers array
param tableName string

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    defaultToOAuthAuthentication: true
  }

  resource blobs 'blobServices' = {
    name: 'default'
    resource containers 'containers' = [for container in deploymentContainers: {
      name: container
    }]
  }

  resource tables 'tableServices' = {
    name: 'default'
    resource notifications 'tables' = {
      name: tableName
    }
  }
}

output id string = account.id
output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
output tableEndpoint string = account.properties.primaryEndpoints.table
