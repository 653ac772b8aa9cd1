// One function app (and, on the premium plan, its 'staging' slot), HTTPS only, with its identities.
// App settings are applied by appsettings.bicep once every identity and app registration exists.
//
// Slots: every slot has its own system-assigned identity and identities never swap, so the slot's
// identity gets its own role assignments (main.bicep passes slotPrincipalId on).

param location string
param tags object
param name string
@description('The azd service this app hosts (azure.yaml).')
param serviceName string
param planId string
@allowed(['flex', 'premium'])
param hosting string
param systemAssigned bool
@description('Resource ids of user-assigned identities to attach.')
param userAssignedIdentityIds array = []
@description('Flex Consumption: the identity that reads the deployment package ("" = system-assigned).')
param deploymentIdentityId string = ''
param deploymentStorageBlobEndpoint string
param deploymentContainer string
param pythonVersion string = '3.12'

var attachesUserAssigned = !empty(userAssignedIdentityIds)
var identityType = systemAssigned ? (attachesUserAssigned ? 'SystemAssigned, UserAssigned' : 'SystemAssigned') : 'UserAssigned'

var identity = attachesUserAssigned ? {
  type: identityType
  userAssignedIdentities: toObject(userAssignedIdentityIds, id => id, id => {})
} : { type: identityType }
var flexConfig = {
  deployment: {
    storage: {
      type: 'blobContainer'
      value: '${deploymentStorageBlobEndpoint}${deploymentContainer}'
      authentication: empty(deploymentIdentityId) ? { type: 'SystemAssignedIdentity' } : {
        type: 'UserAssignedIdentity'
        userAssignedIdentityResourceId: deploymentIdentityId
      }
    }
  }
  scaleAndConcurrency: { maximumInstanceCount: 40, instanceMemoryMB: 2048 }
  runtime: { name: 'python', version: pythonVersion }
}
// Flex Consumption refuses the classic site config (ftpsState, linuxFxVersion, even null): its
// runtime lives in functionAppConfig. Premium needs them.
var flexSiteConfig = {
  minTlsVersion: '1.2'
}
var premiumSiteConfig = {
  minTlsVersion: '1.2'
  ftpsState: 'Disabled'
  linuxFxVersion: 'Python|${pythonVersion}'
  alwaysOn: true
}
var siteConfig = (hosting == 'flex') ? flexSiteConfig : premiumSiteConfig

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: identity
  properties: {
    serverFarmId: planId
    httpsOnly: true
    siteConfig: siteConfig
    functionAppConfig: hosting == 'flex' ? flexConfig : null
  }

  resource staging 'slots' = if (hosting == 'premium') {
    name: 'staging'
    location: location
    tags: tags
    kind: 'functionapp,linux'
    identity: identity
    properties: {
      serverFarmId: planId
      httpsOnly: true
      siteConfig: siteConfig
    }
  }
}

output name string = site.name
output hostName string = site.properties.defaultHostName
output principalId string = systemAssigned ? site.identity.principalId : ''
output slotPrincipalId string = systemAssigned && hosting == 'premium' ? site::staging.identity.principalId : ''
