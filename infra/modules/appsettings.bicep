// App settings of one function app (and its staging slot): identity-based connections only.
// No connection string with a key, no client secret: every service is reached with the app's
// managed identity. (APPLICATIONINSIGHTS_CONNECTION_STRING names the resource; with local auth
// off, writing to it needs the identity too.)

param appName string
param hosting string
param settings object

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: appName
}

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  properties: settings
}

resource slot 'Microsoft.Web/sites/slots@2024-04-01' existing = if (hosting == 'premium') {
  parent: site
  name: 'staging'
}

resource slotSettings 'Microsoft.Web/sites/slots/config@2024-04-01' = if (hosting == 'premium') {
  parent: slot
  name: 'appsettings'
  properties: settings
}
