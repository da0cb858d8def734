"""Key custody: handles to keys that never leave their store.

The interface is :mod:`hoso.signing.keystore.api`;
:func:`hoso.signing.keystore.factory.open_keystore` opens the store the settings choose.
"""
