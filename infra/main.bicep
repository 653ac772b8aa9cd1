// The whole suite in one resource group: three function apps from one package, their identities,
// storage, Key Vault, Application Insights, and the Entra app registrations (modules/entra.bicep).
// Re-running it is safe: names and role assignment ids are derived, not random.

targetScope = 'resourceGroup'

@minLength(2)
@maxLength(12)
@description('A short name for this deployment (azd: the environment name): 2 to 12 letters, digits and hyphens. It goes into every resource name (Key Vault and storage names leave no room for more).')
param environmentName string

param location string = resourceGroup().location

@description('flex: Flex Consumption (FC1, no slots). premium: a Premium v3 plan with a staging slot per app.')
@allowed(['flex', 'premium'])
param hosting string = 'flex'

@description('Who may use the two app registrations. AzureADMultipleOrgs: customers\' tenants too, once their admin consents (the API and the proxy then serve only the tenants in allowedTenants). AzureADMyOrg: this tenant only.')
@allowed(['AzureADMyOrg', 'AzureADMultipleOrgs'])
param signInAudience string = 'AzureADMultipleOrgs'

@description('Tenant ids the notification API serves, comma-separated, each one named (this tenant too, if it is to be served). Empty: this tenant only.')
param allowedTenants string = ''

@description('Tenant ids whose users may call the on-behalf-of proxy, comma-separated. Empty: the same as allowedTenants.')
param proxyAllowedTenants string = ''

// No newGuid() default: that would write a new secret value on every deployment. azd generates a
// value once per environment and keeps it (.azure/<env>/config.json); infra/deploy.sh passes a new
// one only when the vault does not hold the secret yet, and '' (leave it alone) afterwards.
@secure()
@metadata({ azd: { type: 'generate', config: { length: 40, minLower: 5, minUpper: 5, minNumeric: 5, minSpecial: 0 } } })
@description('The webhook signing secret to store in Key Vault; empty: leave the vault\'s secret as it is.')
param webhookSecret string

@description('The webhook secret\'s name, as directory.json names it (tests/infra checks they agree).')
param webhookSecretName string = 'webhook-signing-key'

@description('Run the caller app as the shared user-assigned identity build-agents (which holds notification.create). The caller then reads Key Vault as build-agents too, so build-agents is made a secrets user of this vault: the price of sharing an identity.')
param callerUsesBuildAgents bool = false

@description('Where the caller app delivers notifications (empty: it logs and leaves them pending).')
param deliveryWebhookUrl string = ''

@description('Optional object id of a user or group to assign roles on the API, for running the apps locally as yourself.')
param debugPrincipalId string = ''
param debugRoles array = ['notification.read']

// Only who may read the vault: directory.json's secret *value* is a local fixture and stays local.
var secretsUsers = loadJsonContent('../directory.json', '$.keyVaults.notifications-kv.secretsUsers')
var suffix = take(uniqueString(subscription().id, resourceGroup().id, environmentName), 6)
// Storage account names: 3-24 lower-case letters and digits, whatever the environment name.
var storageAccountName = take(toLower(replace(replace('st${environmentName}${suffix}', '-', ''), '_', '')), 24)
// Key Vault names: 3-24 letters, digits and hyphens, no two hyphens in a row, ending with a letter or
// digit; without the environment name's hyphens, 'kv' + 12 + 6 always fits.
var keyVaultName = toLower(replace(replace('kv${environmentName}${suffix}', '-', ''), '_', ''))
var tags = { 'azd-env-name': environmentName }
var authorityHost = environment().authentication.loginEndpoint
// The app and the azd service (azure.yaml) for each blueprint of function_app.py (APPS).
var functionApps = {
  api: { name: 'func-api-${environmentName}-${suffix}', service: 'notification-api', blueprint: 'notification_api' }
  caller: { name: 'func-caller-${environmentName}-${suffix}', service: 'caller-app', blueprint: 'caller_app' }
  proxy: { name: 'func-obo-${environmentName}-${suffix}', service: 'obo-proxy', blueprint: 'obo_proxy' }
}

module identities 'modules/identities.bicep' = {
  name: 'identities'
  params: { location: location, tags: tags, names: ['obo-proxy-identity-${suffix}', 'build-agents-${suffix}'] }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: { location: location, tags: tags, name: '${environmentName}-${suffix}' }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    tags: tags
    name: storageAccountName
    deploymentContainers: ['deploy-api', 'deploy-caller', 'deploy-proxy']
    tableName: 'notifications'
  }
}

// A Flex Consumption plan hosts exactly one app, so Flex gets a plan per app; the premium plan is
// shared (and gives each app a staging slot). planOf: which plan each app runs on.
var planKeys = (hosting == 'flex') ? ['api', 'caller', 'proxy'] : ['shared']
var planOf = (hosting == 'flex') ? { api: 0, caller: 1, proxy: 2 } : { api: 0, caller: 0, proxy: 0 }

module plans 'modules/plan.bicep' = [for key in planKeys: {
  name: 'plan-${key}'
  params: { location: location, tags: tags, name: 'plan-${key}-${environmentName}-${suffix}', hosting: hosting }
}]

module apiApp 'modules/functionapp.bicep' = {
  name: 'app-api'
  params: {
    location: location
    tags: tags
    name: functionApps.api.name
    serviceName: functionApps.api.service
    planId: plans[planOf.api].outputs.id
    hosting: hosting
    systemAssigned: true
    deploymentStorageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainer: 'deploy-api'
  }
}

module callerApp 'modules/functionapp.bicep' = {
  name: 'app-caller'
  params: {
    location: location
    tags: tags
    name: functionApps.caller.name
    serviceName: functionApps.caller.service
    planId: plans[planOf.caller].outputs.id
    hosting: hosting
    systemAssigned: true
    userAssignedIdentityIds: callerUsesBuildAgents ? [identities.outputs.identities[1].id] : []
    deploymentStorageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainer: 'deploy-caller'
  }
}

module proxyApp 'modules/functionapp.bicep' = {
  name: 'app-proxy'
  params: {
    location: location
    tags: tags
    name: functionApps.proxy.name
    serviceName: functionApps.proxy.service
    planId: plans[planOf.proxy].outputs.id
    hosting: hosting
    systemAssigned: false // the proxy runs as obo-proxy-identity only, the identity its app registration trusts
    userAssignedIdentityIds: [identities.outputs.identities[0].id]
    deploymentIdentityId: identities.outputs.identities[0].id
    deploymentStorageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainer: 'deploy-proxy'
  }
}

var oboIdentity = identities.outputs.identities[0]
var buildAgents = identities.outputs.identities[1]
var apiPrincipals = (hosting == 'premium') ? [apiApp.outputs.principalId, apiApp.outputs.slotPrincipalId] : [apiApp.outputs.principalId]
var callerPrincipals = (hosting == 'premium') ? [callerApp.outputs.principalId, callerApp.outputs.slotPrincipalId] : [callerApp.outputs.principalId]
// directory.json names -> the principal ids Azure gave those identities (and, on premium, the
// staging slot's own identity, which needs the same roles: identities never swap).
var principalIdByName = {
  'caller-app': callerApp.outputs.principalId
  'build-agents': buildAgents.principalId
  'obo-proxy-identity': oboIdentity.principalId
}
var slotPrincipalIdByName = (hosting == 'premium') ? { 'caller-app': callerApp.outputs.slotPrincipalId } : {}
// Key Vault readers: directory.json's secretsUsers, plus build-agents when the caller app runs as it.
var secretReaderNames = union(secretsUsers, (callerUsesBuildAgents && contains(secretsUsers, 'caller-app')) ? ['build-agents'] : [])

module entra 'modules/entra.bicep' = {
  name: 'entra'
  params: {
    environmentName: toLower(environmentName)
    suffix: suffix
    signInAudience: signInAudience
    principalIdByName: principalIdByName
    slotPrincipalIdByName: slotPrincipalIdByName
    oboIdentityPrincipalId: oboIdentity.principalId
    debugPrincipalId: debugPrincipalId
    debugRoles: debugRoles
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    location: location
    tags: tags
    name: keyVaultName
    secretName: webhookSecretName
    secretValue: webhookSecret // '' leaves the existing secret untouched
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  params: {
    hostPrincipalIds: concat(apiPrincipals, callerPrincipals, [oboIdentity.principalId])
    tablePrincipalIds: apiPrincipals
    secretReaderPrincipalIds: concat(
      map(secretReaderNames, name => principalIdByName[name]),
      map(filter(secretReaderNames, name => contains(slotPrincipalIdByName, name)), name => slotPrincipalIdByName[name])
    )
    storageName: storage.outputs.name
    vaultName: keyVault.outputs.name
    insightsName: monitoring.outputs.name
  }
}

// -- app settings: identity-based connections only ---------------------------------------------

var apiUrl = 'https://${apiApp.outputs.hostName}/api'
// The allow-lists name every tenant served, the home tenant included: nothing is implicit in the apps.
var apiAllowedTenants = empty(allowedTenants) ? tenant().tenantId : allowedTenants
var oboAllowedTenants = empty(proxyAllowedTenants) ? apiAllowedTenants : proxyAllowedTenants
// The portal's Azure Resource Manager origin for this cloud, without the trailing slash.
var resourceManager = environment().resourceManager
var resourceManagerUrl = endsWith(resourceManager, '/') ? substring(resourceManager, 0, length(resourceManager) - 1) : resourceManager
var apiScope = '${entra.outputs.apiIdentifierUri}/.default'
// Flex refuses FUNCTIONS_EXTENSION_VERSION and FUNCTIONS_WORKER_RUNTIME (functionAppConfig.runtime
// says it). On premium, azd zip-deploys without a build unless told to build: without these two,
// requirements.txt is never installed.
var premiumOnlySettings = {
  FUNCTIONS_EXTENSION_VERSION: '~4'
  FUNCTIONS_WORKER_RUNTIME: 'python'
  SCM_DO_BUILD_DURING_DEPLOYMENT: 'true'
  ENABLE_ORYX_BUILD: 'true'
}
var hostSettings = union({
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__blobServiceUri: storage.outputs.blobEndpoint
  AzureWebJobsStorage__queueServiceUri: storage.outputs.queueEndpoint
  AzureWebJobsStorage__tableServiceUri: storage.outputs.tableEndpoint
  APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.connectionString
  AZURE_TENANT_ID: tenant().tenantId
  AZURE_AUTHORITY_HOST: authorityHost
}, (hosting == 'premium') ? premiumOnlySettings : {})

module apiSettings 'modules/appsettings.bicep' = {
  name: 'settings-api'
  params: {
    appName: apiApp.outputs.name
    hosting: hosting
    settings: union(hostSettings, {
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD'
      APPS: functionApps.api.blueprint
      NOTIFICATION_API_AUDIENCES: '${entra.outputs.apiAppId},${entra.outputs.apiIdentifierUri}'
      NOTIFICATION_API_SIGN_IN_AUDIENCE: signInAudience
      NOTIFICATION_API_ALLOWED_TENANTS: apiAllowedTenants
      NotificationStorage__tableServiceUri: storage.outputs.tableEndpoint
    })
  }
}

module callerSettings 'modules/appsettings.bicep' = {
  name: 'settings-caller'
  params: {
    appName: callerApp.outputs.name
    hosting: hosting
    settings: union(hostSettings, {
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD'
      APPS: functionApps.caller.blueprint
      NOTIFICATION_API_URL: apiUrl
      NOTIFICATION_API_SCOPE: apiScope
      KEY_VAULT_URL: keyVault.outputs.uri
      WEBHOOK_SECRET_NAME: webhookSecretName
      DELIVERY_WEBHOOK_URL: deliveryWebhookUrl
    }, callerUsesBuildAgents ? { AZURE_CLIENT_ID: buildAgents.clientId } : {})
  }
}

module proxySettings 'modules/appsettings.bicep' = {
  name: 'settings-proxy'
  params: {
    appName: proxyApp.outputs.name
    hosting: hosting
    settings: union(hostSettings, {
      AzureWebJobsStorage__clientId: oboIdentity.clientId
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD;ClientId=${oboIdentity.clientId}'
      APPS: functionApps.proxy.blueprint
      OBO_CLIENT_ID: entra.outputs.proxyAppId
      OBO_AUDIENCES: '${entra.outputs.proxyAppId},${entra.outputs.proxyIdentifierUri}'
      OBO_MANAGED_IDENTITY_CLIENT_ID: oboIdentity.clientId
      OBO_ALLOWED_TENANTS: oboAllowedTenants
      NOTIFICATION_API_URL: apiUrl
      NOTIFICATION_API_SCOPE: apiScope
      // The support portal calls Azure Resource Manager with the signed-in user's token (on behalf
      // of them): the proxy's own identity holds no Azure role, so it can never do more than the user.
      RESOURCE_MANAGER_URL: resourceManagerUrl
      PORTAL_SUBSCRIPTION_ID: subscription().subscriptionId
    })
  }
}

output AZURE_TENANT_ID string = tenant().tenantId
output NOTIFICATION_API_URL string = apiUrl
output NOTIFICATION_API_APP_ID string = entra.outputs.apiAppId
output NOTIFICATION_API_IDENTIFIER_URI string = entra.outputs.apiIdentifierUri
output OBO_PROXY_APP_ID string = entra.outputs.proxyAppId
output OBO_PROXY_IDENTIFIER_URI string = entra.outputs.proxyIdentifierUri
output SIGN_IN_AUDIENCE string = signInAudience
output NOTIFICATION_API_ALLOWED_TENANTS string = apiAllowedTenants
output CALLER_URL string = 'https://${callerApp.outputs.hostName}/api'
output OBO_PROXY_URL string = 'https://${proxyApp.outputs.hostName}/api'
output KEY_VAULT_URL string = keyVault.outputs.uri
output KEY_VAULT_NAME string = keyVault.outputs.name
output API_APP_NAME string = apiApp.outputs.name
output CALLER_APP_NAME string = callerApp.outputs.name
output PROXY_APP_NAME string = proxyApp.outputs.name
