"""Trust services: the certificate authority, revocation (CRL, OCSP), timestamps, consent."""
