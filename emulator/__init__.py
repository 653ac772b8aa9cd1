"""Local emulator of Entra ID, the App Service managed identity endpoint and Key Vault.

Dev only: it stands in for Azure so the real ``azure-identity``, MSAL and
``azure-keyvault-secrets`` code paths run unchanged on a laptop and in CI. It imports no app
code, and nothing deployed imports it (tests/test_dependencies.py checks it).
"""
