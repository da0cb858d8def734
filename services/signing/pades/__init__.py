"""PAdES and CAdES signing on top of pyHanko's asynchronous API.

The modules split the work by concern: :mod:`.signer` adapts a key-store handle to pyHanko,
:mod:`.levels` turns a baseline level into pyHanko settings, :mod:`.inputs` checks and spools
incoming documents, :mod:`.appearance` draws Decree 30/2020 stamps, :mod:`.workflows` applies
certification and locking rules, :mod:`.engine` drives one signature end to end,
:mod:`.twophase` keeps prepared documents for remote signing, :mod:`.cades` signs non-PDF
files, and :mod:`.extend` raises existing signatures to LT/LTA.
"""

from __future__ import annotations

__all__: list[str] = []
