// The Entra ID side, with the Microsoft Graph Bicep extension: the two app registrations, their
// service principals, app role assignments and the proxy's federated credential. Everything is
// read from directory.json, the same file the local emulator serves: roles, scopes and their ids
// are typed once. (App ids and object ids are Entra's; the file's local ids are only used to
// recognise which app a reference points at.)

extension microsoftGraphV1

@description('Lower case; part of every registration\'s unique and display name.')
param environmentName string
@description('The per-deployment suffix (subscription, resource group, environment name): in every unique name and App ID URI, so two deployments never share a registration.')
param suffix string
@description('AzureADMultipleOrgs: customers\' tenants can consent (the apps then check each token\'s tenant against their allow-lists). AzureADMyOrg: this tenant only.')
@allowed(['AzureADMyOrg', 'AzureADMultipleOrgs'])
param signInAudience string
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
// uniqueName is tenant-wide and stays taken while a deleted registration sits in deleted items: the
// suffix keeps two deployments of one environment name (two resource groups) apart.
var apiUniqueName = 'notification-api-${environmentName}-${suffix}'
var proxyUniqueName = 'obo-proxy-${environmentName}-${suffix}'
var apiDisplayName = '${api.displayName} (${environmentName}-${suffix})'
var proxyDisplayName = '${proxy.displayName} (${environmentName}-${suffix})'
var tokenExchangeAudience = 'api://AzureADTokenExchange'

// App ID URIs in the one form Entra accepts for multi-tenant apps without a verified domain and
// tenants' URI policies accept for new apps: api://<tenant id>/<name>. Unique in the tenant (and
// across tenants, for a multi-tenant app) with the suffix.
func identifierUri(tenantId string, name string, suffix string) string => 'api://${tenantId}/${name}-${suffix}'

// Azure Resource Manager's delegated permission, which the proxy's portal uses on behalf of the
// signed-in user: the first-party "Windows Azure Service Management API" and its user_impersonation
// scope. The scope id is the one observed in Entra tenants and Microsoft's scripts (no reference
// page lists it); the consent screen shows the name.
var armAppId = '797f4846-ba00-4fd7-ba43-dac1f8f63013'
var armUserImpersonationScopeId = '41094075-9dad-400e-a0bd-54e686782033'

// Pre-authorized clients are named by app id and scope values in directory.json; Graph wants scope ids.
func preAuthorized(entries array, scopes array) array => map(entries, p => {
  appId: p.appId
  delegatedPermissionIds: map(p.scopes, v => filter(scopes, s => s.value == v)[0].id)
})

// A scope or role is deleted in two deployments: first "isEnabled": false on it in directory.json,
// then without it (Graph refuses to delete or change an enabled one: CannotDeleteOrUpdateEnabledEntitlement).
func scopeDefinitions(scopes array) array => map(scopes, s => {
  id: s.id
  value: s.value
  type: 'User'
  isEnabled: contains(s, 'isEnabled') ? s.isEnabled : true
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
  isEnabled: contains(r, 'isEnabled') ? r.isEnabled : true
})

var apiPreAuthorizedOthers = preAuthorized(filter(api.preAuthorizedApplications, p => p.appId != proxy.appId), api.scopes)
var apiPreAuthorizesProxy = preAuthorized(filter(api.preAuthorizedApplications, p => p.appId == proxy.appId), api.scopes)
// The proxy's requests: the API's scopes (named by the file's local app id), any other API the file
// names, and Azure Resource Manager's user_impersonation.
var proxyRequestsApi = filter(proxy.requiredResourceAccess, r => r.resourceAppId == api.appId)
var proxyRequestsOthers = filter(proxy.requiredResourceAccess, r => r.resourceAppId != api.appId && r.resourceAppId != armAppId)
var proxyRequestsArm = [{ resourceAppId: armAppId, resourceAccess: [{ id: armUserImpersonationScopeId, type: 'Scope' }] }]

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

// Step 1: the registrations with their roles and scopes, and nothing that points at a scope or an
// app defined in this deployment's Graph requests (pre-authorization, known clients: step 2).
resource apiApp 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: apiUniqueName
  displayName: apiDisplayName
  signInAudience: signInAudience
  identifierUris: [identifierUri(tenant().tenantId, 'notification-api', suffix)]
  appRoles: roleDefinitions(api.appRoles)
  api: {
    requestedAccessTokenVersion: api.requestedAccessTokenVersion
    oauth2PermissionScopes: scopeDefinitions(api.scopes)
  }
}

resource proxyApp 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: proxyUniqueName
  displayName: proxyDisplayName
  signInAudience: signInAudience
  identifierUris: [identifierUri(tenant().tenantId, 'obo-proxy', suffix)]
  appRoles: roleDefinitions(proxy.appRoles)
  api: {
    requestedAccessTokenVersion: proxy.requestedAccessTokenVersion
    oauth2PermissionScopes: scopeDefinitions(proxy.scopes)
  }
  requiredResourceAccess: concat(
    empty(proxyRequestsApi) ? [] : [{ resourceAppId: apiApp.appId, resourceAccess: proxyRequestsApi[0].resourceAccess }],
    proxyRequestsOthers,
    proxyRequestsArm)

  // Secretless on-behalf-of: tokens of this user-assigned identity authenticate the app.
  resource oboIdentityCredential 'federatedIdentityCredentials@v1.0' = {
    name: '${proxyUniqueName}/obo-proxy-identity'
    audiences: [tokenExchangeAudience]
    issuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
    subject: oboIdentityPrincipalId
    description: 'The proxy proves itself with its user-assigned managed identity: no client secret.'
  }
}

// Step 2, a separate deployment that runs once both registrations and their scopes exist:
// pre-authorizing a scope in the request that creates it is refused ("Property
// api.preAuthorizedApplications.delegatedPermissionIds has a Permission Id that cannot be found in
// the AppPermissions sets"). The API names the proxy as a known client, so consenting to the proxy
// in a customer's tenant consents to the API with it.
module preAuthorization 'entraPreAuthorization.bicep' = {
  name: 'entra-preauthorization'
  params: {
    apiUniqueName: apiApp.uniqueName
    apiDisplayName: apiDisplayName
    apiDefinition: {
      requestedAccessTokenVersion: api.requestedAccessTokenVersion
      oauth2PermissionScopes: scopeDefinitions(api.scopes)
      knownClientApplications: [proxyApp.appId]
      // The file names the proxy by its local app id; in Azure it is the registration created above.
      preAuthorizedApplications: concat(apiPreAuthorizedOthers, empty(apiPreAuthorizesProxy) ? [] : [{
        appId: proxyApp.appId
        delegatedPermissionIds: apiPreAuthorizesProxy[0].delegatedPermissionIds
      }])
    }
    proxyUniqueName: proxyApp.uniqueName
    proxyDisplayName: proxyDisplayName
    proxyDefinition: {
      requestedAccessTokenVersion: proxy.requestedAccessTokenVersion
      oauth2PermissionScopes: scopeDefinitions(proxy.scopes)
      preAuthorizedApplications: preAuthorized(proxy.preAuthorizedApplications, proxy.scopes)
    }
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

// Replication: a just-created service principal can be unknown to this call for a minute
// ("Not a valid reference update"); deploy.sh waits and deploys again (docs/deploy.md).
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
