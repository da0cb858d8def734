"""hoso: secure document and e-signature microservices."""
