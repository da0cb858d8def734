"""Public verification pages served on the signing service's HTTP port (#8).

``GET /verify/{dossier}/{file}[/{version}]`` shows the verification report of an archived
document (the QR code on signed results links there); ``GET /verify`` offers an upload form and
``POST /verify`` shows the report of an uploaded PDF. Vietnamese by default, ``?lang=en`` for
English. Wire them with :func:`hoso.signing.web.routes.register` from the signing service's
``build(runtime)``.
"""

from __future__ import annotations
