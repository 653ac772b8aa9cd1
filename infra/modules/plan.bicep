// The hosting plan. Flex Consumption (FC1) by default: serverless, no deployment slots.
// 'premium' is a Premium v3 App Service plan, for teams that need a staging slot.

param location string
param tags object
param name string
@allowed(['flex', 'premium'])
param hosting string

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: name
  location: location
  tags: tags
  kind: hosting == 'flex' ? 'functionapp' : 'linux'
  sku: hosting == 'flex' ? { name: 'FC1', tier: 'FlexConsumption' } : { name: 'P1v3', tier: 'PremiumV3' }
  properties: {
    reserved: true // Linux
  }
}

output id string = plan.id
