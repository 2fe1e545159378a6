"""appstore-publish: ship an iOS .ipa to TestFlight and the App Store from Linux."""

__version__ = "0.1.0"
