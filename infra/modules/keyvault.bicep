// Key Vault with Azure RBAC (no access policies) holding the webhook signing secret.

param location string
param tags object
param name string
param secretName string
@secure()
@description('Empty: do not write the secret (a re-deployment keeps the value and version the vault has).')
param secretValue string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
  }

  resource secret 'secrets' = if (!empty(secretValue)) {
    name: secretName
    properties: {
      value: secretValue
    }
  }
}

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
