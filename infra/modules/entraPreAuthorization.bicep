// Step 2 of the app registrations (entra.bicep is step 1): the same two registrations, now with
// what points at scopes and apps that step 1 created: pre-authorized clients and the API's known
// client. A separate deployment, so it starts only after step 1's scopes exist. Graph updates an
// existing registration in place (its uniqueName is the key): what is not named here is kept.

extension microsoftGraphV1

param apiUniqueName string
param apiDisplayName string
@description('The API\'s `api` block: the scopes as step 1 defined them, plus preAuthorizedApplications and knownClientApplications.')
param apiDefinition object
param proxyUniqueName string
param proxyDisplayName string
@description('The proxy\'s `api` block: the scopes as step 1 defined them, plus preAuthorizedApplications.')
param proxyDefinition object

resource apiApp 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: apiUniqueName
  displayName: apiDisplayName
  api: apiDefinition
}

resource proxyApp 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: proxyUniqueName
  displayName: proxyDisplayName
  api: proxyDefinition
}
