// The Entra ID side, with the Microsoft Graph Bicep extension: the two app registrations, their
// service principals, app role assignments and the proxy's federated credential. Everything is
// read from directory.json, the same file the local emulator serves: roles, scopes and their ids
// are typed once. (App ids and object ids are Entra's; the file's local ids are only used to
// recognise which app a reference points at.)

extension microsoftGraphV1

@description('Lower case; part of every App ID URI, so each environment of the template has its own (they are unique in a tenant).')
param environmentName string
@description('"tenant": App ID URIs api://<tenant id>/<name> (what most tenant policies require); "name": as in directory.json.')
@allowed(['tenant', 'name'])
param identifierUriStyle string
@description('Managed identity principal ids by directory.json name.')
param principalIdByName object
@description('On premium: the staging slots\' own identities by directory.json name (they need the same roles).')
param slotPrincipalIdByName object = {}
param oboIdentityPrincipalId string
@description('Optional: a user or group object id to give roles on the API (running the apps locally as yourself).')
param debugPrincipalId string = ''
param debugRoles array = []

// Only the parts Azure needs: directory.json also holds local-only fixtures (users' passwords, the
// local webhook secret) that must not end up in a deployment's template history.
var applications = loadJsonContent('../../directory.json', '$.applications')
var appRoleAssignments = loadJsonContent('../../directory.json', '$.appRoleAssignments')
var api = applications['notification-api']
var proxy = applications['obo-proxy']
var apiUniqueName = 'notification-api-${environmentName}'
var proxyUniqueName = 'obo-proxy-${environmentName}'
var tokenExchangeAudience = 'api://AzureADTokenExchange'

// App ID URIs are unique in a tenant: the environment name keeps two environments apart.
func identifierUri(style string, tenantId string, name string, environment string, localUris array) string =>
  style == 'tenant' ? 'api://${tenantId}/${name}-${environment}' : '${localUris[0]}-${environment}'

// Pre-authorized clients are named by app id and scope values in directory.json; Graph wants scope ids.
func preAuthorized(entries array, scopes array) array => map(entries, p => {
  appId: p.appId
  delegatedPermissionIds: map(p.scopes, v => filter(scopes, s => s.value == v)[0].id)
})

func scopeDefinitions(scopes array) array => map(scopes, s => {
  id: s.id
  value: s.value
  type: 'User'
  isEnabled: true
  adminConsentDisplayName: s.adminConsentDisplayName
  adminConsentDescription: 'Lets the app use ${s.value} as the signed-in user.'
  userConsentDisplayName: s.value
  userConsentDescription: 'Lets the app use ${s.value} on your behalf.'
})

func roleDefinitions(roles array) array => map(roles, r => {
  id: r.id
  value: r.value
  displayName: r.displayName
  description: r.displayName
  allowedMemberTypes: r.allowedMemberTypes
  isEnabled: true
})

var apiPreAuthorizedOthers = preAuthorized(filter(api.preAuthorizedApplications, p => p.appId != proxy.appId), api.scopes)
var apiPreAuthorizesProxy = preAuthorized(filter(api.preAuthorizedApplications, p => p.appId == proxy.appId), api.scopes)

// Role ids by app and value: looked up by key, so no lambda has to reach into a loop's variable.
var roleIds = {
  'notification-api': toObject(api.appRoles, r => r.value, r => r.id)
  'obo-proxy': toObject(proxy.appRoles, r => r.value, r => r.id)
}

// App role assignments of directory.json whose principal is one of our managed identities (and,
// on premium, the same for the staging slot's identity: identities never swap).
var managedIdentityAssignments = concat(
  map(filter(appRoleAssignments, a => contains(principalIdByName, a.principal)), a => {
    principalId: principalIdByName[a.principal]
    resource: a.resource
    roleId: roleIds[a.resource][a.role]
  }),
  map(filter(appRoleAssignments, a => contains(slotPrincipalIdByName, a.principal)), a => {
    principalId: slotPrincipalIdByName[a.principal]
    resource: a.resource
    roleId: roleIds[a.resource][a.role]
  }))

resource proxyApp 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: proxyUniqueName
  displayName: '${proxy.displayName} (${environmentName})'
  signInAudience: 'AzureADMyOrg'
  identifierUris: [identifierUri(identifierUriStyle, tenant().tenantId, 'obo-proxy', environmentName, proxy.identifierUris)]
  appRoles: roleDefinitions(proxy.appRoles)
  api: {
    requestedAccessTokenVersion: proxy.requestedAccessTokenVersion
    oauth2PermissionScopes: scopeDefinitions(proxy.scopes)
    preAuthorizedApplications: preAuthorized(proxy.preAuthorizedApplications, proxy.scopes)
  }

  // Secretless on-behalf-of: tokens of this user-assigned identity authenticate the app.
  resource oboIdentityCredential 'federatedIdentityCredentials@v1.0' = {
    name: '${proxyUniqueName}/obo-proxy-identity'
    audiences: [tokenExchangeAudience]
    issuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
    subject: oboIdentityPrincipalId
    description: 'The proxy proves itself with its user-assigned managed identity: no client secret.'
  }
}

resource apiApp 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: apiUniqueName
  displayName: '${api.displayName} (${environmentName})'
  signInAudience: 'AzureADMyOrg'
  identifierUris: [identifierUri(identifierUriStyle, tenant().tenantId, 'notification-api', environmentName, api.identifierUris)]
  appRoles: roleDefinitions(api.appRoles)
  api: {
    requestedAccessTokenVersion: api.requestedAccessTokenVersion
    oauth2PermissionScopes: scopeDefinitions(api.scopes)
    // The file names the proxy by its local app id; in Azure it is the registration created above.
    preAuthorizedApplications: concat(apiPreAuthorizedOthers, empty(apiPreAuthorizesProxy) ? [] : [{
      appId: proxyApp.appId
      delegatedPermissionIds: apiPreAuthorizesProxy[0].delegatedPermissionIds
    }])
  }
}

resource apiServicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: apiApp.appId
  appRoleAssignmentRequired: api.appRoleAssignmentRequired
}

resource proxyServicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: proxyApp.appId
  appRoleAssignmentRequired: proxy.appRoleAssignmentRequired
}

// Replication: a just-created service principal can be unknown to this call for a minute; a
// re-run of the deployment fixes it (README, "Deploy to Azure").
resource managedIdentityRoles 'Microsoft.Graph/appRoleAssignedTo@v1.0' = [for a in managedIdentityAssignments: {
  appRoleId: a.roleId
  principalId: a.principalId
  resourceId: a.resource == 'notification-api' ? apiServicePrincipal.id : proxyServicePrincipal.id
}]

resource debugPrincipalRoles 'Microsoft.Graph/appRoleAssignedTo@v1.0' = [for role in (empty(debugPrincipalId) ? [] : debugRoles): {
  appRoleId: roleIds['notification-api'][role]
  principalId: debugPrincipalId
  resourceId: apiServicePrincipal.id
}]

output apiAppId string = apiApp.appId
output apiIdentifierUri string = apiApp.identifierUris[0]
output proxyAppId string = proxyApp.appId
output proxyIdentifierUri string = proxyApp.identifierUris[0]
