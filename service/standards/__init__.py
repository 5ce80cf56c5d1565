"""Open standards Maillage speaks with other systems: Open Referral HSDS for the directory, FHIR R4 for
referrals."""
