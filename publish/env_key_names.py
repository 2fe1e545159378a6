"""The names of the environment variables an App Store Connect API key is read from (the action's inputs,
fastlane's, Codemagic's), and the offline question whether any of them is set.

Apart from publish.env_keys, which reads and checks the keys, because that needs the .p8 parser and with it
cryptography (and the client package it lives in): `validate` and the action's start-up only ask for these names,
and importing the key readers cost each of them ~0.3 s of CPU. Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping

# The action's inputs, as entrypoint.py exports them.
ACTION_KEY_ID = "APPSTORE_PUBLISH_API_KEY_ID"
ACTION_ISSUER_ID = "APPSTORE_PUBLISH_API_ISSUER_ID"
ACTION_PRIVATE_KEY = "APPSTORE_PUBLISH_API_PRIVATE_KEY"
ACTION_PRIVATE_KEY_BASE64 = "APPSTORE_PUBLISH_API_PRIVATE_KEY_BASE64"
ACTION_APPLE_ID = "APPSTORE_PUBLISH_APPLE_ID"
ACTION_APP_SPECIFIC_PASSWORD = "APPSTORE_PUBLISH_APP_SPECIFIC_PASSWORD"
# fastlane's app_store_connect_api_key action.
FASTLANE_KEY_ID = "APP_STORE_CONNECT_API_KEY_KEY_ID"
FASTLANE_ISSUER_ID = "APP_STORE_CONNECT_API_KEY_ISSUER_ID"
FASTLANE_KEY = "APP_STORE_CONNECT_API_KEY_KEY"
FASTLANE_KEY_FILEPATH = "APP_STORE_CONNECT_API_KEY_KEY_FILEPATH"
FASTLANE_KEY_IS_BASE64 = "APP_STORE_CONNECT_API_KEY_IS_KEY_CONTENT_BASE64"
FASTLANE_KEY_JSON_PATH = "APP_STORE_CONNECT_API_KEY_PATH"
FASTLANE_USER = "FASTLANE_USER"
FASTLANE_APP_SPECIFIC_PASSWORD = "FASTLANE_APPLE_APPLICATION_SPECIFIC_PASSWORD"
# Codemagic CLI tools (app-store-connect); values may also be "@env:NAME" or "@file:path".
CODEMAGIC_KEY_ID = "APP_STORE_CONNECT_KEY_IDENTIFIER"
CODEMAGIC_ISSUER_ID = "APP_STORE_CONNECT_ISSUER_ID"
CODEMAGIC_PRIVATE_KEY = "APP_STORE_CONNECT_PRIVATE_KEY"

# Every variable one of the providers of publish.env_keys reads first: when none is set, the environment offers no
# API key.
ENV_KEY_VARIABLES = (ACTION_KEY_ID, ACTION_PRIVATE_KEY, ACTION_PRIVATE_KEY_BASE64, FASTLANE_KEY_JSON_PATH,
                     FASTLANE_KEY_ID, FASTLANE_KEY, FASTLANE_KEY_FILEPATH, CODEMAGIC_KEY_ID, CODEMAGIC_PRIVATE_KEY)


def env_offers_api_key(env: Mapping[str, str]) -> bool:
    """Whether any provider would try to make a key from `env` (offline: nothing is read or checked)."""
    return any(env.get(name, "").strip() for name in ENV_KEY_VARIABLES)