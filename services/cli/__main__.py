"""``python -m hoso.cli`` runs the ``hoso`` command."""

from hoso.cli.main import app

app()
